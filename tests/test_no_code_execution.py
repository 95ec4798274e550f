"""Nothing in a policy file or a request is ever run, looked up as Python, or obeyed by a terminal.

Policy text reaches Python only as data: names become dictionary keys,
conditions become closures built from the AST's shape (compile.py), and
``because`` texts are filled by joining their parts, never with
``str.format`` or ``%``.  These tests put Python code, format-string tricks,
terminal escape sequences and rich markup everywhere a policy author or a
requester can write text, and check that:

* nothing executes (a sentinel file is never created, and ``eval``,
  ``exec`` and ``compile`` are never called while loading and deciding);
* a placeholder can only name a declared attribute (``{demand.__class__}``
  is an error unless ``__class__`` was declared — and then it is just a
  name for a value in the request);
* every command shows such text escaped: control characters as ``\\x1b``,
  rich markup as the literal brackets.

The language has no include mechanism: a policy set is exactly the files
passed to it (``include``/``import`` are syntax errors), so a policy file
cannot make the engine read anything else.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import policyengine
from policyengine.cli import main
from policyengine.language.pipeline import analyse
from policyengine.language.render import render_human, render_plain

ESC = "\x1b[31m"
BEL = "\x07"
OSC_LINK = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"


#: A `because` text full of tricks (as written in the policy file).
TRICKS = "%s %(x)s %d {demand.__class__} \\{0\\} \\{demand.kind\\} [bold]b[/bold] " + f"{ESC}red{BEL} "
TRICKS += OSC_LINK.replace("\\", "\\\\")


def hostile_policy(sentinel: Path) -> str:
    payload = f"__import__('os').system('touch {sentinel}')"
    return f"""
# {payload}
vocabulary {{
    attribute demand.__class__: bool = false "{payload}"
    attribute demand.__globals__: text = "{{0}}" "a text attribute named like a dunder"
}}
principle __import__ "{payload} [red]red[/red] [link=https://evil.example]click[/link]" {{
    rule __init__: withdraw when demand.__class__ and demand.kind == hotline
        because "{TRICKS} {{demand.__globals__}}"
    rule eval: negotiate when demand.kind == hotline
        because \"\"\"{payload}
{{demand.description}}\"\"\"
}}
jurisdiction FR "France [blink]x[/blink] {ESC}" {{
    demand exec "{payload}" {{ kind = hotline; category = fraud; legal_basis = statute; __class__ = true }}
}}
"""


REQUEST = {
    "jurisdiction": "FR",
    "demand": {
        "kind": "hotline",
        "category": "fraud",
        "legal_basis": "statute",
        "__class__": True,
        "__globals__": "{demand.kind} %s [red]r[/red] " + ESC,
        "description": "{0.__class__.__mro__} ${HOME} $(id) `id` " + ESC,
    },
}


@pytest.fixture
def hostile(policy_dir: Callable[..., Path], tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    sentinel = tmp_path / "PWNED"
    root = policy_dir(hostile_policy(sentinel))
    yield root, sentinel
    assert not sentinel.exists(), "policy text was executed"


@contextlib.contextmanager
def watching_eval() -> Iterator[list[str]]:
    """Record every call of eval, exec and compile inside the block (they still work,
    so a failing assertion can be reported; the record is what the test checks)."""
    calls: list[str] = []
    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile")}

    def spy(name: str) -> Callable[..., Any]:
        real = saved[name]

        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(f"{name}({str(args[0])[:60]!r})")
            return real(*args, **kwargs)

        return call

    for name in saved:
        setattr(builtins, name, spy(name))
    try:
        yield calls
    finally:
        for name, real in saved.items():
            setattr(builtins, name, real)


def test_loading_and_deciding_runs_no_python(hostile: tuple[Path, Path], policy_dir: Callable[..., Path]) -> None:
    root, _ = hostile
    # A harmless set first, through the same calls: imports, Lark's parser and
    # pydantic's models are built then (they compile Python of their own).
    plain = policyengine.load(policy_dir(hostile_policy(Path("/nonexistent")).replace("__", "x_")), cache=False)
    plain.decide({**REQUEST, "demand": {k.replace("__", "x_"): v for k, v in REQUEST["demand"].items()}}).model_dump_json()
    plain.market("FR")
    with watching_eval() as calls:
        engine = policyengine.load(root, cache=False)
        d = engine.decide(REQUEST)
        standing = engine.standing("FR", "exec")
        market = engine.market("FR")
        d.model_dump_json()
    assert calls == []
    assert d.outcome == "withdraw"
    [reason] = d.reasons
    # The names are only names; the texts are only texts.
    assert (reason.principle, reason.rule) == ("__import__", "__init__")
    assert reason.because.startswith("%s %(x)s %d true {0} {demand.kind} [bold]b[/bold] " + ESC)
    assert reason.because.endswith("{demand.kind} %s [red]r[/red] " + ESC)
    outranked = {r.rule: r for r in d.outranked}
    assert outranked["eval"].because.endswith("{0.__class__.__mro__} ${HOME} $(id) `id` " + ESC)
    assert standing.outcome == "withdraw"
    assert market.outcome == "negotiate"  # the standing demand is not mandatory


@pytest.mark.parametrize(
    "because, code",
    [
        ("{demand.__class__}", "PE209"),
        ("{demand.kind.__class__}", "PE220"),
        ("{demand.kind.__globals__[os]}", "PE220"),
        ("{0}", "PE220"),
        ("{}", "PE220"),
        ("{demand.kind!r}", "PE220"),
        ("{demand.kind:>{width}}", "PE220"),
        ("{jurisdiction.__dict__}", "PE209"),
        ("{__builtins__}", "PE220"),
        ("{demand.kind", "PE220"),
    ],
)
def test_placeholders_only_name_declared_attributes(policy_dir: Callable[..., Path], because: str, code: str) -> None:
    rule = f'rule r: withdraw when demand.kind == hotline because "{because}"'
    root = policy_dir(f'principle p "s" {{ {rule} }}\njurisdiction FR "France" {{ }}\n')
    policy_set, diagnostics = analyse(root)
    assert policy_set is None
    assert code in {d.code for d in diagnostics}, [str(d) for d in diagnostics]


@pytest.mark.parametrize("attribute", ["demand.__class__", "demand.kind.__class__", "jurisdiction.__dict__", "demand.__init__"])
def test_conditions_only_read_declared_attributes(policy_dir: Callable[..., Path], attribute: str) -> None:
    root = policy_dir(f'principle p "s" {{ rule r: withdraw when {attribute} because "x" }}\njurisdiction FR "France" {{ }}\n')
    policy_set, diagnostics = analyse(root)
    assert policy_set is None
    assert {d.code for d in diagnostics} & {"PE101", "PE203"}, [str(d) for d in diagnostics]


def test_request_fields_named_like_python_are_rejected(policy_dir: Callable[..., Path]) -> None:
    engine = policyengine.load(policy_dir('principle p "s" { rule r: withdraw when demand.mandatory because "x" }\n'))
    for key in ("__class__", "__dict__", "kind.__class__", "__proto__"):
        demand = {"kind": "hotline", "category": "fraud", "legal_basis": "statute", key: 1}
        with pytest.raises(policyengine.RequestError) as info:
            engine.decide({"jurisdiction": "FR", "demand": demand})
        assert info.value.field.startswith("demand.")
    with pytest.raises(policyengine.RequestError):
        engine.decide({"jurisdiction": "FR", "demand": {}, "__class__": "x"})


def test_include_is_not_part_of_the_language(policy_dir: Callable[..., Path], tmp_path: Path) -> None:
    secret = tmp_path / "secret.policy"
    secret.write_text('principle leaked "SECRET-CONTENT" { }\n', encoding="utf-8")
    for line in (f'include "{secret}"', f'import "{secret}"', f"%include {secret}", f'principle p "s" {{ include "{secret}" }}'):
        policy_set, diagnostics = analyse(policy_dir(line + "\n"))
        assert policy_set is None
        assert diagnostics[0].code.startswith("PE1"), [str(d) for d in diagnostics]
        rendered = "\n".join(render_plain(d) for d in diagnostics)
        assert "SECRET-CONTENT" not in rendered


# --- what the commands print --------------------------------------------------------------------


def _no_raw_control(text: str) -> None:
    bad = sorted({repr(ch) for ch in text if not (ch.isprintable() or ch in "\n\t")})
    assert not bad, f"raw control characters reached the output: {bad}"


def _markup_literal(text: str) -> None:
    # Rich would have consumed the tags; seeing them means they were printed as text.
    flat = " ".join(text.split())
    assert "[red]red[/red]" in flat or "[bold]b[/bold]" in flat, text


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["decide", "explain"])
def test_commands_print_policy_text_escaped(
    hostile: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    root, _ = hostile
    request = tmp_path / "request.json"
    request.write_text(json.dumps(REQUEST), encoding="utf-8")
    code, out, err = _run([command, "--request", str(request), "--policies", str(root)], capsys)
    assert code == 0, err
    _no_raw_control(out + err)
    _markup_literal(out)
    assert "\\x1b" in out
    code, out, err = _run([command, "--jurisdiction", "FR", "--policies", str(root)], capsys)
    assert code == 0, err
    _no_raw_control(out + err)


def test_json_output_carries_text_as_data(hostile: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = hostile
    request = tmp_path / "request.json"
    request.write_text(json.dumps(REQUEST), encoding="utf-8")
    code, out, _ = _run(["decide", "--request", str(request), "--policies", str(root), "--format", "json"], capsys)
    assert code == 0
    assert "\x1b" not in out  # JSON escapes it as \u001b
    decision = json.loads(out)
    assert ESC in decision["reasons"][0]["because"]  # …and it comes back intact


def test_diagnostics_show_hostile_text_escaped(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    rule = f'rule r: withdraw when demand.kindd == x because "[bold]b[/bold] \\q {ESC}"'
    root = policy_dir(f'principle p "[red]red[/red] {ESC}x{BEL}" {{\n    {rule}\n}}\n')
    _, diagnostics = analyse(root)
    assert diagnostics
    buffer = io.StringIO()
    render_human(diagnostics, file=buffer)
    human = buffer.getvalue()
    _no_raw_control(human)
    assert "[bold]b[/bold]" in human
    for d in diagnostics:
        _no_raw_control(render_plain(d))
    for fmt in ("plain", "json", "human"):
        code, out, err = _run(["check", str(root), "--format", fmt], capsys)
        assert code == 1
        _no_raw_control(out + err)
