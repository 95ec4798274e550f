"""parse_json's fast path (no duplicate-key hook) agrees with its full path on every text.

The fast path takes a request-shaped object and rules duplicate keys out by
counting colons; anything it is not sure of goes the full way.  Here every
text is parsed both ways (the full way by turning the fast path off) and
must give the same value, or the same error (code and message).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyengine.evaluation import jsonio
from policyengine.evaluation.jsonio import RequestLimits, parse_json
from policyengine.evaluation.requests import RequestError

PROFILE = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_keys = st.sampled_from(["kind", "id", "demand", "jurisdiction", "a:b", "k", '"q', "é", "{", "["])
_strings = st.one_of(
    _keys,
    st.sampled_from(["x:y", "{}", "[", "\\", "\ud83d\ude00", "\u202e"]),
    st.text(max_size=6),
)
_numbers = st.one_of(st.integers(-5, 10**20), st.floats(allow_nan=False, allow_infinity=False))
_scalars = st.one_of(st.none(), st.booleans(), _numbers, _strings)


def _pairs(value: st.SearchStrategy[Any]) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """Objects as lists of pairs, so that a key may come twice."""
    return st.lists(st.tuples(_keys, value), max_size=5)


class Obj(list):  # type: ignore[type-arg]
    """An object as its pairs (a key may repeat)."""


_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), _pairs(inner).map(Obj)),
    max_leaves=8,
)
_spaces = st.sampled_from(["", " ", "\n", "\t", "\r\n", "\x0b", "\u00a0"])


def _write(value: Any, space: str) -> str:
    if isinstance(value, Obj):
        return "{" + ",".join(f"{space}{json.dumps(k)}{space}:{space}{_write(v, space)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(_write(v, space) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


@st.composite
def documents(draw: st.DrawFn) -> str:
    top = draw(st.one_of(_pairs(_values).map(Obj), _values))
    inner = draw(_spaces)
    text = draw(_spaces) + _write(top, inner) + draw(_spaces)
    tail = draw(st.sampled_from(["", "", "", " x", "}", "NaN", "\ufeff"]))
    head = draw(st.sampled_from(["", "", "", "\ufeff"]))
    lone = draw(st.sampled_from(["", "", '"\\ud800"', '"\\udc00x"', "NaN", "Infinity", "-Infinity"]))
    if lone and text.rstrip().endswith("}") and text.count("{") and ":" in text:
        at = text.rstrip().rfind("}")
        text = text[:at] + ("," if text[:at].rstrip()[-1] not in "{," else "") + f'"lone":{lone}' + text[at:]
    return head + text + tail


def _both(text: str, limits: RequestLimits, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    def outcome() -> Any:
        try:
            return ("value", parse_json(text, limits))
        except RequestError as exc:
            return ("error", exc.code, str(exc))

    fast = outcome()
    with monkeypatch.context() as m:
        m.setattr(jsonio, "_plain", lambda text: jsonio._REFUSED)
        full = outcome()
    return fast, full


@PROFILE
@given(documents(), st.sampled_from([RequestLimits(), RequestLimits(max_depth=1), RequestLimits(max_depth=2, max_bytes=60)]))
def test_the_fast_path_agrees_with_the_full_path(text: str, limits: RequestLimits) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, full = _both(text, limits, monkeypatch)
    assert fast == full
    if fast[0] == "value":
        assert type(fast[1]) is type(full[1])
        assert json.dumps(fast[1]) == json.dumps(full[1])  # key order too


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"jurisdiction": "FR", "demand": {"kind": "a", "kind": "b"}}', "request.bad-json"),
        ('{"jurisdiction": "FR", "jurisdiction": "DE", "demand": {}}', "request.bad-json"),
        ('{"jurisdiction": "FR", "demand": {"kind": NaN}}', "request.bad-json"),
        ('{"jurisdiction": "FR", "demand": {"id": "\\ud800"}}', "request.not-unicode"),
        ('{"jurisdiction": "FR", "demand": {}} x', "request.bad-json"),
        ('{"jurisdiction": "FR", "demand": {"sources": [{"a": 1, "a": 2}]}}', "request.bad-json"),
    ],
)
def test_what_the_full_path_refuses_the_fast_path_does_not_accept(text: str, code: str) -> None:
    with pytest.raises(RequestError) as err:
        parse_json(text)
    assert err.value.code == code


def test_a_request_line_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of it: a plain request never reaches the hooked decoder."""
    monkeypatch.setattr(jsonio, "_DECODER", None)
    line = '{"jurisdiction": "FR", "demand": {"kind": "user_data", "id": "r-1", "sources": ["a", "b"], "deadline_hours": 4}}'
    assert parse_json(line) == json.loads(line)
    # a colon inside a string: the count cannot tell, so the full way (here: the missing decoder)
    with pytest.raises(AttributeError):
        parse_json('{"jurisdiction": "FR", "demand": {"id": "a:b"}}')
