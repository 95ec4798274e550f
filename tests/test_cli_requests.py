"""``decide --requests`` in parts: the reader, the decisions, and the memory its
repeated-line cache may take (counted in bytes, not timed)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import policyengine
from policyengine.cli import decide as cli_decide
from policyengine.cli import main
from policyengine.evaluation.jsonio import RequestLimits
from policyengine.evaluation.requests import RequestError

DATA = Path(__file__).parent / "data" / "decide"
FR_COURT = {"jurisdiction": "FR", "demand": {"kind": "user_data", "category": "criminal_suspect", "legal_basis": "court_order"}}
RU_KEYS = {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}


def test_the_reader_numbers_lines_and_names_unreadable_ones() -> None:
    data = b"\xef\xbb\xbf" + json.dumps(FR_COURT).encode() + b"\n\n  \n" + b"x" * 50 + b"\n\xff\n" + b"{}\n"
    lines = list(cli_decide.request_lines(io.BytesIO(data), limit=40))
    assert [n for n, _ in lines] == [1, 4, 5, 6]
    assert isinstance(lines[0][1], RequestError)  # the first line is longer than 40 bytes too
    assert [(r.code if isinstance(r, RequestError) else r) for _, r in lines[1:]] == [
        "request.too-large",
        "request.not-unicode",
        "{}\n",
    ]
    first = next(cli_decide.request_lines(io.BytesIO(data), limit=1_000))[1]
    assert first == json.dumps(FR_COURT) + "\n"  # the byte order mark is not part of the line


def test_the_cache_counts_its_bytes_and_stays_under_its_bound() -> None:
    cache = cli_decide.AnsweredLines(max_lines=1_000, max_bytes=10_000)
    for n in range(200):
        cache.put(f"line {n}" + " " * n, "answer " * n, n % 2 == 0)
    counted = sum(sys.getsizeof(k) + sys.getsizeof(v[0]) + cli_decide._ENTRY_BYTES for k, v in cache.items())
    assert cache.nbytes == counted <= 10_000
    assert 0 < len(cache) < 200
    assert cache.get("line 0") == ("", True)


def test_the_documented_bounds() -> None:
    cache = cli_decide.AnsweredLines()
    assert (cache.max_lines, cache.max_bytes) == (50_000, 64 * 1024 * 1024)


def test_requests_with_big_distinct_lines_keep_the_cache_under_its_byte_bound(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines of 100 kB, each distinct (padded with spaces) and each worth keeping
    (no id): the cache stops at its byte bound, not at its line count, and every
    line, kept or not, gets the same answer as when decided alone."""
    bound = 1_000_000
    monkeypatch.setattr(cli_decide, "ANSWERED_BYTES", bound)
    made: list[cli_decide.AnsweredLines] = []

    class Spy(cli_decide.AnsweredLines):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(cli_decide, "AnsweredLines", Spy)
    lines = [json.dumps(FR_COURT if n % 2 else RU_KEYS) + " " * (100_000 + n) for n in range(30)]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines + lines[:3]) + "\n", encoding="utf-8")
    code = main(["decide", "--requests", str(path), "--policies", str(DATA)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and len(out) == 33
    (cache,) = made
    counted = sum(sys.getsizeof(k) + sys.getsizeof(v[0]) + cli_decide._ENTRY_BYTES for k, v in cache.items())
    assert cache.nbytes == counted <= bound
    assert 0 < len(cache) < 30  # stopped by bytes: each entry is some 100 kB
    engine = policyengine.load(DATA)
    root = str(DATA.resolve())  # the command line names the set's root in each answer
    assert out == [
        cli_decide.with_source_root(engine.decision_json(engine.decide(json.loads(line))), root) for line in lines + lines[:3]
    ]


def test_decisions_and_json_answers_agree() -> None:
    engine = policyengine.load(DATA)
    lines: list[tuple[int, str | RequestError]] = [(1, json.dumps(FR_COURT)), (2, "nope"), (3, json.dumps(RU_KEYS))]
    trees = list(cli_decide.decisions(engine, iter(lines), RequestLimits(), {"withdraw"}))
    answers = list(cli_decide.json_answers(engine, iter(lines * 2), RequestLimits(), {"withdraw"}))
    assert [n for n, _, _ in trees] == [1, 2, 3]
    assert isinstance(trees[1][1], RequestError) and trees[1][1].code == "request.bad-json"
    assert [f for _, _, f in trees] == [False, False, True]
    for (_, decision, failed), (_, answer, again) in zip(trees * 2, answers):
        if isinstance(decision, RequestError):
            assert isinstance(answer, RequestError) and answer.code == decision.code
        else:
            assert answer == engine.decision_json(decision) and failed == again  # type: ignore[arg-type]
