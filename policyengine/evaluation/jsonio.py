"""Untrusted JSON → Python values, with explicit limits.

Stage contract: :func:`parse_json` turns one JSON document (a request) into
Python values or raises :class:`~policyengine.evaluation.requests.RequestError`
naming what is wrong (field ``request``; codes ``request.too-large``,
``request.bad-json``, ``request.not-unicode``).  Limits are explicit and configurable (:class:`RequestLimits`):
document size, nesting depth; NaN and infinities are rejected because no
policy can reason about them; so is an object that names a key twice, which
says two things at once; and so are unpaired UTF-16 surrogates
(``"\\ud800"``): JSON lets a string spell one, but no UTF-8 output can carry it,
so a decision that echoed it could not be written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from .requests import RequestError


@dataclass(frozen=True)
class RequestLimits:
    #: Largest request document, in characters.
    max_bytes: int = 1_000_000
    #: Deepest nesting of arrays and objects (a request needs 2).
    max_depth: int = 32


def _depth(text: str) -> int:
    """Deepest bracket nesting outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


#: A \\u escape of a UTF-16 surrogate; paired ones decode to one character.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _unpaired_surrogate(value: Any) -> str | None:
    """The first string in ``value`` (keys included) that is not valid Unicode text."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return v
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def _no_constants(name: str) -> Any:
    raise ValueError(f"`{name}` is not a number JSON allows here")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, refused when it names a key twice.

    ``json`` keeps the last of two equal keys silently, so
    ``{"kind": "user_data", "kind": "key_disclosure"}`` would be decided as a
    key demand while a reader, or a gateway that keeps the first key, sees a
    user-data one: a request that says two things is refused, not guessed at.
    """
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"has the key `{key}` twice in one object; give each key once")
            seen.add(key)
    return obj


#: Built once: ``json.loads(text, parse_constant=...)`` builds a decoder per call,
#: which is a third of the cost of reading a small request.
_DECODER = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_unique_keys)


def _bad(message: str, code: str) -> RequestError:
    """The error for a bad request document.  :mod:`.requests` (and pydantic with it)
    is imported only here: the CLI imports this module for the defaults of
    ``--max-request-bytes``/``--max-request-depth``, and ``--help``, ``fmt`` or
    ``check`` should not pay a tenth of a second for that."""
    from .requests import RequestError

    return RequestError("request", message, code=code)


#: The scanner of a decoder without the duplicate-key hook, for the fast path of
#: :func:`parse_json` (``scan_once(text, 0)`` → (value, end), a C call).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder(parse_constant=_no_constants).scan_once  # type: ignore[attr-defined]
#: What JSON counts as white space (``str.strip()`` would take more).
_JSON_SPACE = " \t\n\r"


def _plain(text: str) -> Any:
    """The value of ``text`` when it is an object whose keys (its own and those of
    the objects right under it) are all its colons, and :func:`parse_json` would
    accept it as it stands; else ``_REFUSED``: then the full path decides, and explains.

    Why that is sound without the duplicate-key hook: outside strings a ``:``
    only ever follows a key, so the colons of a text count every key of every
    object in it, twice-given ones twice, plus any colon inside a string.  The
    keys found count each distinct key of some of the objects once.  When the
    two are equal, no key came twice, no string holds a colon, and no other
    object has a key.  Anything else goes the full way."""
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return _REFUSED
    if type(value) is not dict or (end != len(text) and text[end:].strip(_JSON_SPACE)):
        return _REFUSED
    keys = len(value)
    for v in value.values():
        if type(v) is dict:
            keys += len(v)
    return value if keys == text.count(":") else _REFUSED


_REFUSED: Any = object()


def parse_json(text: str, limits: RequestLimits = RequestLimits()) -> Any:
    if len(text) > limits.max_bytes:
        raise _bad(f"is {len(text):,} characters long; the limit is {limits.max_bytes:,}", "request.too-large")
    # Counting brackets is cheap; scanning strings only when there are many.
    opens = text.count("{")
    if opens + text.count("[") > limits.max_depth and _depth(text) > limits.max_depth:
        raise _bad(f"is nested more than {limits.max_depth} levels deep", "request.too-large")
    # Only a text that spells a surrogate escape needs the walk.
    escapes = "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    if opens <= 2 and not escapes:  # a request's shape (more objects: the full way)
        value = _plain(text)
        if value is not _REFUSED:
            return value
    try:
        if text.startswith("\ufeff"):  # json.loads rejects a BOM; keep its message
            value = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
        else:
            value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _bad(f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", "request.bad-json") from None
    except ValueError as exc:
        raise _bad(str(exc), "request.bad-json") from None
    except RecursionError:
        raise _bad("is nested too deeply", "request.too-large") from None
    if escapes and (bad := _unpaired_surrogate(value)) is not None:
        shown = bad.encode("utf-8", "backslashreplace").decode("ascii")[:60]
        raise _bad(f"has a string with an unpaired surrogate escape: `{shown}`", "request.not-unicode")
    return value
