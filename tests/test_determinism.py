"""Determinism: the same policy text gives the same result, however it reaches the engine.

The order in which files are passed or created, their line endings (LF,
CRLF, CR, mixed) and a UTF-8 byte-order mark change nothing: not the
decisions (sources included, ``path:line``), not the diagnostics (lines and
columns included), not ``policy_version`` — which hashes the *normalised*
text, so a checkout on Windows and one on Linux report the same version.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuzz_strategies import GeneratedSet, mutate, policy_sets, requests_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policyengine
from policyengine.language.pipeline import analyse
from policyengine.language.render import to_json

SETTINGS = settings(
    max_examples=max(5, int(os.environ.get("POLICYENGINE_FUZZ_EXAMPLES", "100")) // 8),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

ENDINGS = ("\n", "\r\n", "\r")


@st.composite
def line_endings(draw: st.DrawFn, text: str) -> str:
    """``text`` (LF only) with each line end rewritten as LF, CRLF or CR.

    A CR directly followed by an LF reads as one CRLF, so a CR ending is never
    put just before an empty line ending in LF: that would change the text.
    """
    lines = text.split("\n")
    style = draw(st.sampled_from(["lf", "crlf", "cr", "mixed"]))
    if style != "mixed":
        return {"lf": "\n", "crlf": "\r\n", "cr": "\r"}[style].join(lines)
    out = []
    for i, line in enumerate(lines[:-1]):
        end = draw(st.sampled_from(ENDINGS))
        if end == "\r" and lines[i + 1] == "" and i + 1 < len(lines) - 1:
            end = "\r\n"
        out.append(line + end)
    out.append(lines[-1])
    return "".join(out)


def normalised(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def write_set(root: Path, files: dict[str, bytes], order: list[str]) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name in order:  # creation order decides the order a directory lists them in
        (root / name).write_bytes(files[name])


def report(root: Path, paths: list[Path] | None = None) -> tuple[str | None, list[dict[str, Any]]]:
    policy_set, diagnostics = analyse([str(p) for p in paths] if paths else root)
    return (policy_set.version if policy_set else None), [to_json(d) for d in diagnostics]


@SETTINGS
@given(st.data())
def test_order_line_endings_and_bom_change_nothing(tmp_path_factory: Any, data: st.DataObject) -> None:
    gen: GeneratedSet = data.draw(policy_sets(max_principles=3, max_places=4))
    names = sorted(gen.files)
    base = tmp_path_factory.mktemp("base")
    plain = {n: normalised(t).encode() for n, t in gen.files.items()}
    write_set(base, plain, names)
    engine = policyengine.load(base, cache=False)
    requests = [data.draw(requests_for(gen)) for _ in range(4)]
    expected = [engine.decide(r).model_dump() for r in requests]
    markets = [engine.market(c).model_dump() for c in gen.codes]

    variant = tmp_path_factory.mktemp("variant")
    files = {}
    for n, t in gen.files.items():
        text = data.draw(line_endings(normalised(t)))
        bom = b"\xef\xbb\xbf" if data.draw(st.booleans()) else b""
        files[n] = bom + text.encode()
    order = data.draw(st.permutations(names))
    write_set(variant, files, list(order))
    other = policyengine.load(variant, cache=False)
    assert other.version == engine.version
    assert [other.decide(r).model_dump() for r in requests] == expected
    assert [other.market(c).model_dump() for c in gen.codes] == markets
    # Files passed one by one, in any order: the same set.
    listed = policyengine.load([variant / n for n in order], cache=False)
    assert listed.version == engine.version
    assert [listed.decide(r).outcome for r in requests] == [e["outcome"] for e in expected]


@SETTINGS
@given(st.data())
def test_diagnostics_do_not_depend_on_order_or_line_endings(tmp_path_factory: Any, data: st.DataObject) -> None:
    gen: GeneratedSet = data.draw(policy_sets(max_principles=2, max_places=3))
    names = sorted(gen.files)
    target = data.draw(st.sampled_from(names))
    damaged = data.draw(mutate(normalised(gen.files[target])))
    try:
        damaged_text = damaged.decode("utf-8")
    except UnicodeDecodeError:
        damaged_text = None
    base_files = {n: normalised(t).encode() for n, t in gen.files.items()}
    base_files[target] = normalised(damaged_text).encode() if damaged_text is not None else damaged
    base = tmp_path_factory.mktemp("base")
    write_set(base, base_files, names)
    expected = report(base)

    variant_files = dict(base_files)
    for n in names:
        if n == target and damaged_text is None:
            continue  # bytes that are not UTF-8 stay as they are
        # What the loader reads: the text after one byte-order mark.  A text that
        # itself starts with U+FEFF keeps its mark, or the loader would eat it.
        text = base_files[n].decode("utf-8").removeprefix("\ufeff")
        bom = text.startswith("\ufeff") or data.draw(st.booleans())
        variant_files[n] = (b"\xef\xbb\xbf" if bom else b"") + data.draw(line_endings(text)).encode()
    variant = tmp_path_factory.mktemp("variant")
    write_set(variant, variant_files, list(data.draw(st.permutations(names))))
    assert report(variant) == expected


def test_policy_version_hashes_normalised_text(policy_dir: Callable[..., Path]) -> None:
    text = 'principle p "s" {\n    rule r: withdraw when demand.mandatory\n        because "x"\n}\njurisdiction FR "France" { }\n'
    versions = set()
    for ending, bom in itertools.product(ENDINGS, ("", "\ufeff")):
        root = policy_dir({})
        (root / "main.policy").write_bytes((bom + text.replace("\n", ending)).encode())
        versions.add(policyengine.load(root, cache=False).version)
    assert len(versions) == 1
    # …while a change of content, even one character of a text, is a new version.
    changed = policy_dir(text.replace('"x"', '"y"'))
    assert policyengine.load(changed, cache=False).version not in versions


def test_reason_sources_and_diagnostic_positions_survive_crlf(policy_dir: Callable[..., Path]) -> None:
    text = '# a comment\nprinciple p "s" {\n    rule r: withdraw when demand.mandatory\n        because "x"\n}\n'
    text += 'jurisdiction FR "F" { }\n'
    lf, crlf, cr = (policy_dir({}) for _ in range(3))
    for root, ending in ((lf, "\n"), (crlf, "\r\n"), (cr, "\r")):
        (root / "main.policy").write_bytes(text.replace("\n", ending).encode())
    demand = {"kind": "hotline", "category": "fraud", "legal_basis": "statute", "mandatory": True}
    request = {"jurisdiction": "FR", "demand": demand}
    sources = {policyengine.load(r, cache=False).decide(request).reasons[0].source for r in (lf, crlf, cr)}
    assert sources == {"main.policy:3"}
    broken = text.replace("demand.mandatory", "demand.mandatroy")
    for root, ending in ((lf, "\n"), (crlf, "\r\n"), (cr, "\r")):
        (root / "main.policy").write_bytes(broken.replace("\n", ending).encode())
    positions = {tuple((d["line"], d["column"], d["end_column"]) for d in report(r)[1]) for r in (lf, crlf, cr)}
    assert positions == {((3, 27, 43),)}


def test_cli_output_is_identical_across_runs_and_orders(policy_dir: Callable[..., Path], capsys: Any) -> None:
    from policyengine.cli import main

    a = 'principle p "s" { rule r: withdraw when demand.kindd == hotline because "x" }\n'
    b = 'jurisdiction FR "France" in EUU { }\n'
    one = policy_dir({"a.policy": a, "b.policy": b})
    two = policy_dir({"b.policy": b, "a.policy": a})
    outputs = set()
    for root in (one, two, one):
        assert main(["check", str(root), "--format", "json"]) == 1
        outputs.add(capsys.readouterr().out)
    assert len(outputs) == 1
