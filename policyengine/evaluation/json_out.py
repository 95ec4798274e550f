"""Decisions → JSON text, written straight from their fields.

Stage contract: :class:`DecisionJSON` turns a :class:`~.decision.Decision`
into the text ``decision.model_dump_json()`` gives, byte for byte (pydantic's
escapes, its float forms such as ``1e+16``, ``0.00001`` and ``1e-7``, dates,
``null``, enumerations by value, tuples as arrays, dict and field order as
held), optionally with the ``source_root`` the command line fills in.  It
never changes what is written, only what it costs: anything it does not know
exactly (a value of a type no field declares, a model subclass, a number
pydantic would write as an integer) is handed to pydantic for the whole
decision.  ``tests/test_json_out.py`` holds it to ``model_dump_json`` over
arbitrary decisions, every golden decision and the shipped library.

Why: on a batch of distinct requests (each with its own id), pydantic's
serialisation was a fifth of a line's cost, although almost all of a
decision is shared with others: the engine interns Reason, Fact and
Undetermined objects, and a decision of a request with an id is a copy of its
shape's decision with only the echoed ``request`` changed.  So the JSON of a
part is kept per object while the part is alive (a bounded memo keyed by
``id()`` whose entry holds the object, so the id cannot be reused while the
entry lives), and so is the *frame* of a decision: the text before and after
``request``, keyed by the identity of every other field.  A decision whose
frame is known costs a lookup and the encoding of its request.

The text is what pydantic writes, so it is not escaped for terminals: the
command line still passes it through ``json_safe`` (cheaply, when it is
ASCII without DEL).
"""

from __future__ import annotations

import datetime
import json.encoder
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from pydantic import BaseModel, TypeAdapter

from .decision import Action, AttributeValue, Claim, Decision, Fact, Outcome, Reason, Undetermined
from .memo import Memo

#: Parts (models and tuples of them) whose JSON is kept per writer.
PARTS_SIZE = 16_384
#: Decision frames kept per writer (one per distinct decision apart from its request).
FRAMES_SIZE = 16_384

#: pydantic's string escapes are ``json``'s without ``ensure_ascii``: ``\\"``,
#: ``\\\\``, ``\\b \\f \\n \\r \\t`` and ``\\u00xx`` for the other C0 controls.
_string: Callable[[str], str] = json.encoder.encode_basestring


class _Unsupported(Exception):
    """A value this writer does not write exactly as pydantic does: pydantic writes the decision."""


def json_float(value: float) -> str:
    """A float as pydantic writes it: Python's shortest round-trip digits, but
    positional down to 1e-5 (``0.00001``), exponents unpadded (``1e-7``, ``1e+16``),
    and ``null`` for the non-finite (pydantic's default ``ser_json_inf_nan``)."""
    text = repr(value)
    if "e-" in text:
        mantissa, _, exponent = text.partition("e-")
        if exponent == "05":
            return ("-0.0000" if value < 0 else "0.0000") + mantissa.lstrip("-").replace(".", "")
        return f"{mantissa}e-{int(exponent)}"
    if text in ("inf", "-inf", "nan"):
        return "null"
    return text


_OUTCOMES = {o: _string(o.value) for o in Outcome}
_MODELS: dict[type[BaseModel], dict[str, str]] = {
    cls: {name: _string(name) + ":" for name in cls.model_fields} for cls in (Decision, Reason, Fact, Undetermined, Action, Claim)
}
_DECISION_KEYS = _MODELS[Decision]
#: A decision's fields in order, and every field but the request (its frame's key).
_ORDER = tuple(Decision.model_fields)
#: pydantic's serialiser of ``Decision.request``'s type: the same schema writes the same bytes.
_dump_request: Callable[[Any], bytes] = TypeAdapter(dict[str, AttributeValue]).serializer.to_json
_REQUEST_AT = _ORDER.index("request")
_FRAME_FIELDS = itemgetter(*(n for n in _ORDER if n != "request"))
_ROOT_AT = tuple(n for n in _ORDER if n != "request").index("source_root")
_NO_ROOT = '"source_root":null'


class DecisionJSON:
    """``decision.model_dump_json()``, from the fields, with memos of the parts.

    ``root`` (the command line's): the ``source_root`` written for a decision
    that carries none, as ``with_source_root`` fills it in; None writes the
    decision as it is.  Safe to share between threads (the memos are
    :class:`~.memo.Memo`: a lost race stores an equal text twice).
    """

    __slots__ = ("_frames", "_parts", "_root")

    def __init__(self, root: str | None = None, parts: int = PARTS_SIZE, frames: int = FRAMES_SIZE):
        self._root = None if root is None else f'"source_root":{_string(root)}'
        #: id(part) → (part, its JSON)
        self._parts: Memo[int, tuple[object, str]] = Memo(parts)
        #: ids of a decision's fields but the request → (those fields, the text before the request, the text after it)
        self._frames: Memo[tuple[int, ...], tuple[tuple[Any, ...], str, str]] = Memo(frames)

    def __call__(self, decision: Decision) -> str:
        try:
            if type(decision) is Decision:
                fields = decision.__dict__
                if len(fields) == len(_ORDER) and tuple(fields) == _ORDER:
                    values = _FRAME_FIELDS(fields)
                    key = tuple(map(id, values))
                    frame = self._frames.get(key)
                    if frame is None:
                        frame = self._frames.put(key, self._frame(values, fields))
                    return frame[1] + _dump_request(fields["request"]).decode() + frame[2]
            return self._rooted(self._model(decision))
        except _Unsupported:
            return self._rooted(decision.model_dump_json())

    def _rooted(self, text: str) -> str:
        """``text`` with this writer's root in its top-level ``source_root`` when that is null
        (the last ``"source_root":null`` of the text: every text value has its quotes escaped)."""
        if self._root is None:
            return text
        at = text.rfind(_NO_ROOT)
        return text if at < 0 else text[:at] + self._root + text[at + len(_NO_ROOT) :]

    def _frame(self, values: tuple[Any, ...], fields: dict[str, Any]) -> tuple[tuple[Any, ...], str, str]:
        """The text around a decision's request."""
        items = [_DECISION_KEYS[name] + self._value(value) for name, value in fields.items() if name != "request"]
        if fields["source_root"] is None and self._root is not None:
            items[_ROOT_AT] = self._root
        before = "{" + ",".join(items[:_REQUEST_AT]) + "," + _DECISION_KEYS["request"]
        after = "," + ",".join(items[_REQUEST_AT:]) + "}"
        return values, before, after

    def _value(self, value: Any) -> str:
        kind = type(value)
        if kind is str:
            return _string(value)
        if value is None:
            return "null"
        if kind is bool:
            return "true" if value else "false"
        if kind is float:
            return json_float(value)
        if kind is Outcome:
            return _OUTCOMES[value]
        if kind is datetime.date:
            return f'"{value.isoformat()}"'
        if kind is tuple:
            if not value:
                return "[]"
            found = self._parts.get(id(value))
            if found is not None:
                return found[1]
            return self._parts.put(id(value), (value, "[" + ",".join(map(self._value, value)) + "]"))[1]
        if kind is dict:
            out = []
            for k, v in value.items():
                if type(k) is not str:
                    raise _Unsupported("a key that is not a string")
                out.append(_string(k) + ":" + self._value(v))
            return "{" + ",".join(out) + "}"
        if kind in _MODELS:
            found = self._parts.get(id(value))
            if found is not None:
                return found[1]
            return self._parts.put(id(value), (value, self._model(value)))[1]
        raise _Unsupported(kind.__name__)

    def _model(self, model: Any) -> str:
        """A model's fields as pydantic writes them: in the order its ``__dict__``
        holds them, leaving out any key that is not a field."""
        keys = _MODELS.get(type(model))
        if keys is None:
            raise _Unsupported(type(model).__name__)
        return "{" + ",".join(keys[k] + self._value(v) for k, v in model.__dict__.items() if k in keys) + "}"


#: Memos of the writer every engine shares (:meth:`~.decide.Decider.to_json`, the
#: service): smaller than a batch's, as it lives as long as the process.
SHARED_SIZE = 4_096
#: The writer of :meth:`~.decide.Decider.to_json` (decisions as they are, no root).
DECISION_JSON = DecisionJSON(parts=SHARED_SIZE, frames=SHARED_SIZE)


def decision_json(decision: Decision) -> str:
    """``decision.model_dump_json()``, written from the fields (see :class:`DecisionJSON`)."""
    return DECISION_JSON(decision)
