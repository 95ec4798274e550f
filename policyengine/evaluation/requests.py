"""Request → checked (jurisdiction, normalised demand), or a :class:`RequestError`.

Stage contract: :func:`parse_request` splits a request (a dict in the JSON
shape or a :class:`~policyengine.evaluation.decision.Request`) and checks its
jurisdiction code; :class:`DemandChecks` checks a demand's attributes against
one policy set's vocabulary and applies defaults.  Nothing here reads a
policy's rules; every refusal is a :class:`RequestError` naming the field, a
stable :data:`code <REQUEST_CODES>`, the allowed values and a hint.

Two paths, one table.  A request is checked on every decision that misses
the memo, so the common case must cost little: the **fast path** asks each
attribute's check "accept and normalise, or decline" (one closure call, no
message built).  The **precise path** runs only for what was declined and
produces the exact error: the same closure first, then the refusal of the
same table entry.  :data:`CHECKS` has one entry per kind of attribute (enum,
bool, number, text, jurisdiction code); each entry holds both halves, so the
two paths are written side by side and cannot drift apart unnoticed
(``tests/test_request_checks.py`` holds them to accepting exactly the same
values, with hypothesis).
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..errors import PolicyEngineError
from ..language.diagnostics import did_you_mean, one_of
from ..language.model import AttributeType, Kind, Value
from .decision import Request, show_value

if TYPE_CHECKING:
    from .compile import CompiledPolicy

#: Longest text value accepted in a request, in characters.
MAX_TEXT = 10_000
#: Most texts in a `list of text` value (a demand's sources): enough for any
#: record, and a bound on what one request can make the engine hold and echo.
MAX_TEXTS = 100
#: Longest jurisdiction code accepted in a request, in characters (real codes
#: have two to a dozen; the bound keeps hints and echoes of a hostile one small).
MAX_CODE = 64

#: Every code a :class:`RequestError` carries, and what it means.  Programs
#: branch on these (JSON output, HTTP problem types); they are stable.
#: docs/embedding.md ("Errors") lists them for callers.
REQUEST_CODES: Final = {
    "request.bad-json": "the document is not JSON the engine reads: malformed, `NaN` or `Infinity`, a key twice in one object",
    "request.too-large": "past a limit: document size, nesting depth, a text, a jurisdiction code, a number beyond 1e308",
    "request.not-unicode": "not Unicode text: bytes that are not UTF-8, or a string with an unpaired surrogate",
    "request.bad-type": "the wrong JSON type: a request or demand that is not an object, a value of the wrong type, null",
    "request.unknown-field": "a request field other than `jurisdiction`, `demand` and `as_of`",
    "request.bad-jurisdiction": 'a jurisdiction code that is not exact: mis-cased (`ru`), padded (`" RU"`), alpha-3 (`RUS`), '
    "or neither a code the policy set defines nor two capital letters; the hint names the code meant",
    "request.unknown-attribute": "a demand attribute the vocabulary does not declare",
    "request.missing": "`jurisdiction`, `demand` or a required demand attribute is absent",
    "request.bad-value": "the right type but not an allowed value: outside its enumeration or range, not finite, "
    "not a date `YYYY-MM-DD`",
    "request.unknown-jurisdiction": "`standing` or `market` for a jurisdiction the policy set does not define",
    "request.unknown-demand": "`standing` for a standing demand the jurisdiction does not make",
}


class RequestError(PolicyEngineError, ValueError):
    """A request that does not fit the vocabulary.  ``field`` names the culprit
    (``demand.kind``), ``code`` the kind of problem (:data:`REQUEST_CODES`),
    ``allowed`` the values the field may take."""

    code = "request.bad-value"

    def __init__(
        self, field: str, message: str, allowed: tuple[str, ...] = (), hint: str | None = None, *, code: str | None = None
    ):
        self.field = field
        self.allowed = allowed
        super().__init__(message, hint, code=code)
        # str() names the field first: `demand.kind: ... (did you mean ...)`.
        self.args = (f"{field}: {message}" + (f" ({hint})" if hint else ""),)


class _Declined:
    """The fast path's answer for a value it does not accept at a glance."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DECLINED"


#: What an acceptor returns for a value it does not take.
DECLINED: Final = _Declined()
#: Stands for an attribute absent from the request (None is an explicit null).
MISSING: Final = object()


def json_type(value: Any) -> str:
    """What a value is, in the words of JSON (requests are JSON; Python's ``str``
    or ``dict`` would mean nothing to the sender).  A Python value of no JSON
    type, or of a subclass of a number or a text, is named by its class."""
    if value is None:
        return "null"
    if value is True or value is False:
        return f"`{'true' if value else 'false'}`"
    kind = type(value)
    if kind is int or kind is float:
        return "a number"
    if kind is str:
        return "a text"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    # Not a JSON value (an IntEnum, a numpy float): "not a number" would be a riddle.
    return f"a `{kind.__name__}`"


def not_unicode(text: str) -> bool:
    """True for a str that holds lone surrogates (e.g. from ``"\\ud800"`` in JSON):
    a decision that echoed it could not be written as JSON or UTF-8 text."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --- the table: one entry per kind of attribute ------------------------------------
#
# ``accepts(attr, absent, null)`` builds the fast path's closure: it takes the
# raw value (MISSING when absent) and returns the normalised value, or DECLINED.
# ``absent`` and ``null`` are what an omission and an explicit null normalise
# to (or DECLINED when they are errors); the closure tests them only after the
# common case, a value of the right type.
#
# ``refuse(attr, field, value)`` is the precise path: the RequestError for a
# value the closure declined, or None for a value it accepts.  Nothing else
# decides what is accepted: the precise path raises what ``refuse`` returns
# only after the closure declined.

Acceptor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class KindCheck:
    """How one kind of attribute is checked, on both paths."""

    accepts: Callable[[AttributeType, Any, Any], Acceptor]
    refuse: Callable[[AttributeType, str, Any], RequestError | None]


def _plain(text: str) -> str:
    """A str subclass (an ``enum.StrEnum`` member, say) as the plain str it spells."""
    return str.__str__(text)


def _refuse_omitted(attr: AttributeType, field: str, value: Any) -> RequestError | None:
    """The refusal of an omission or a null, shared by the demand attributes."""
    if value is MISSING:
        if not attr.required:
            return None
        hint = f"one of {one_of(attr.values)}" if attr.values else None
        return RequestError(field, "is required", attr.values, hint, code="request.missing")
    if attr.unknown_allowed:
        return None
    return RequestError(field, "must not be null", attr.values, code="request.bad-type")


def _accept_enum(attr: AttributeType, absent: Any, null: Any) -> Acceptor:
    allowed = frozenset(attr.values)

    def check_enum(v: Any) -> Any:
        if type(v) is str:
            return v if v in allowed else DECLINED
        if v is MISSING:
            return absent
        if v is None:
            return null
        if isinstance(v, str):
            v = _plain(v)
            return v if v in allowed else DECLINED
        return DECLINED

    return check_enum


def _refuse_enum(attr: AttributeType, field: str, value: Any) -> RequestError | None:
    if value is MISSING or value is None:
        return _refuse_omitted(attr, field, value)
    if not isinstance(value, str):
        return RequestError(
            field, f"must be one of {one_of(attr.values)}, not {json_type(value)}", attr.values, code="request.bad-type"
        )
    value = _plain(value)
    if value in attr.values:
        return None
    shown = value if len(value) <= 40 else value[:37] + "…"
    return RequestError(
        field,
        f"`{shown}` is not a `{attr.enum}` value; allowed: {one_of(attr.values, limit=20)}",
        attr.values,
        did_you_mean(value, attr.values) if len(value) <= 100 else None,
        code="request.bad-value",
    )


def _accept_bool(attr: AttributeType, absent: Any, null: Any) -> Acceptor:
    def check_bool(v: Any) -> Any:
        if v is True or v is False:
            return v
        if v is MISSING:
            return absent
        return null if v is None else DECLINED

    return check_bool


def _refuse_bool(attr: AttributeType, field: str, value: Any) -> RequestError | None:
    if value is MISSING or value is None:
        return _refuse_omitted(attr, field, value)
    if type(value) is bool:
        return None
    return RequestError(field, f"must be true or false, not {json_type(value)}", code="request.bad-type")


def _accept_number(attr: AttributeType, absent: Any, null: Any) -> Acceptor:
    lo = -math.inf if attr.lo is None else attr.lo
    hi = math.inf if attr.hi is None else attr.hi
    finite = math.isfinite

    def check_number(v: Any) -> Any:
        t = type(v)
        if t is float:
            return v if lo <= v <= hi and finite(v) else DECLINED
        if t is int:
            # Compared as the float it becomes, as the precise path does: a
            # huge integer and a bound may compare differently as integers.
            try:
                number = float(v)
            except OverflowError:
                return DECLINED
            return number if lo <= number <= hi else DECLINED
        if v is MISSING:
            return absent
        return null if v is None else DECLINED

    return check_number


def _refuse_number(attr: AttributeType, field: str, value: Any) -> RequestError | None:
    if value is MISSING or value is None:
        return _refuse_omitted(attr, field, value)
    if type(value) is not int and type(value) is not float:
        return RequestError(field, f"must be a number, not {json_type(value)}", code="request.bad-type")
    try:
        number = float(value)
    except OverflowError:  # an integer past the largest float, e.g. 10**400 in JSON
        return RequestError(field, "is too large: numbers must be below 1e308", code="request.too-large")
    if not math.isfinite(number):
        return RequestError(field, "must be a finite number", code="request.bad-value")
    if (attr.lo is not None and number < attr.lo) or (attr.hi is not None and number > attr.hi):
        return RequestError(field, f"must be between {show_value(attr.lo)} and {show_value(attr.hi)}", code="request.bad-value")
    return None


def _accept_text(attr: AttributeType, absent: Any, null: Any) -> Acceptor:
    def check_text(v: Any) -> Any:
        if type(v) is str:
            return v if len(v) <= MAX_TEXT and (v.isascii() or not not_unicode(v)) else DECLINED
        if v is MISSING:
            return absent
        if v is None:
            return null
        return check_text(_plain(v)) if isinstance(v, str) else DECLINED

    return check_text


def _text_problem(field: str, value: str, limit: int, too_long: str) -> RequestError | None:
    """The refusal of a text that is too long or not Unicode (texts and codes alike)."""
    if len(value) > limit:
        return RequestError(field, too_long, code="request.too-large")
    if not_unicode(value):
        return RequestError(field, "contains an unpaired surrogate, which no UTF-8 output can carry", code="request.not-unicode")
    return None


def _refuse_text(attr: AttributeType, field: str, value: Any) -> RequestError | None:
    if value is MISSING or value is None:
        return _refuse_omitted(attr, field, value)
    if not isinstance(value, str):
        return RequestError(field, f"must be a text, not {json_type(value)}", code="request.bad-type")
    value = _plain(value)
    return _text_problem(field, value, MAX_TEXT, f"is {len(value):,} characters long; the limit is {MAX_TEXT:,}")


def _accept_code(attr: AttributeType, absent: Any, null: Any) -> Acceptor:
    """A jurisdiction code as a request names it: any short Unicode text (a code
    the set does not define is decided, as negotiate, not refused)."""

    def check_code(v: Any) -> Any:
        if type(v) is str:
            return v if len(v) <= MAX_CODE and (v.isascii() or not not_unicode(v)) else DECLINED
        return check_code(_plain(v)) if isinstance(v, str) else DECLINED

    return check_code


def _refuse_code(attr: AttributeType, field: str, value: Any) -> RequestError | None:
    if value is MISSING:
        return RequestError(
            field,
            "is required",
            hint="an ISO 3166-1 alpha-2 code such as `FR`, or a group code such as `EU`",
            code="request.missing",
        )
    if not isinstance(value, str):
        return RequestError(field, f"must be a text code such as `FR`, not {json_type(value)}", code="request.bad-type")
    return _text_problem(field, _plain(value), MAX_CODE, "is longer than any jurisdiction code")


def _as_date(v: Any) -> datetime.date | None:
    """``YYYY-MM-DD`` (exactly that form) or a date, else None."""
    if type(v) is datetime.date:
        return v
    if isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-" and (v[:4] + v[5:7] + v[8:]).isdigit():
        try:
            return datetime.date.fromisoformat(str(v))
        except ValueError:
            return None
    return None


def _accept_date(attr: AttributeType, absent: Any, null: Any) -> Acceptor:
    def check_date(v: Any) -> Any:
        if v is MISSING:
            return absent
        if v is None:
            return null
        found = _as_date(v)
        return DECLINED if found is None else found

    return check_date


def _refuse_date(attr: AttributeType, field: str, value: Any) -> RequestError | None:
    if value is MISSING or value is None:
        return _refuse_omitted(attr, field, value)
    if _as_date(value) is not None:
        return None
    if not isinstance(value, str):
        return RequestError(field, f"must be a date such as `2024-05-17`, not {json_type(value)}", code="request.bad-type")
    return RequestError(field, "is not a date", hint="write it `YYYY-MM-DD`, e.g. `2024-05-17`", code="request.bad-value")


def _accept_texts(attr: AttributeType, absent: Any, null: Any) -> Acceptor:
    def check_texts(v: Any) -> Any:
        if v is MISSING:
            return absent
        if v is None:
            return null
        if type(v) not in (list, tuple) or len(v) > MAX_TEXTS:
            return DECLINED
        if any(type(x) is not str or len(x) > MAX_TEXT or (not x.isascii() and not_unicode(x)) for x in v):
            return DECLINED
        return tuple(v)

    return check_texts


def _refuse_texts(attr: AttributeType, field: str, value: Any) -> RequestError | None:
    if value is MISSING or value is None:
        return _refuse_omitted(attr, field, value)
    if not isinstance(value, (list, tuple)):
        return RequestError(field, f"must be a list of texts, not {json_type(value)}", code="request.bad-type")
    if len(value) > MAX_TEXTS:
        return RequestError(field, f"has {len(value):,} texts; the limit is {MAX_TEXTS}", code="request.too-large")
    for item in value:
        if not isinstance(item, str):
            return RequestError(field, f"must hold texts only, not {json_type(item)}", code="request.bad-type")
        problem = _text_problem(field, _plain(item), MAX_TEXT, f"holds a text longer than {MAX_TEXT:,} characters")
        if problem is not None:
            return problem
    return None


#: One entry per kind of attribute; each serves the fast and the precise path.
CHECKS: Final[dict[Kind, KindCheck]] = {
    Kind.ENUM: KindCheck(_accept_enum, _refuse_enum),
    Kind.BOOL: KindCheck(_accept_bool, _refuse_bool),
    Kind.NUMBER: KindCheck(_accept_number, _refuse_number),
    Kind.TEXT: KindCheck(_accept_text, _refuse_text),
    Kind.CODE: KindCheck(_accept_code, _refuse_code),
    Kind.DATE: KindCheck(_accept_date, _refuse_date),
    Kind.TEXTS: KindCheck(_accept_texts, _refuse_texts),
}


class AttributeCheck:
    """The check of one attribute: ``accept`` for the fast path, :meth:`check` for the precise one."""

    __slots__ = ("_refuse", "absent", "accept", "attr", "field")

    def __init__(self, attr: AttributeType, field: str | None = None):
        self.attr = attr
        self.field = field or f"demand.{attr.name}"
        if attr.kind is Kind.CODE:  # a code a request names: never optional, never null
            absent: Any = DECLINED
            null: Any = DECLINED
        else:
            absent = attr.default if attr.has_default else DECLINED if attr.required else None
            null = None if attr.unknown_allowed else DECLINED
        #: What an omission normalises to (DECLINED when the attribute is required).
        self.absent = absent
        entry = CHECKS[attr.kind]
        #: The fast path: raw value (MISSING when absent) → normalised value, or DECLINED.
        self.accept: Acceptor = entry.accepts(attr, absent, null)
        self._refuse = entry.refuse

    def refuse(self, value: Any) -> RequestError | None:
        """The precise error for ``value``, or None when it is accepted."""
        return self._refuse(self.attr, self.field, value)

    def check(self, value: Any) -> Value:
        """The precise path: the normalised value, or the exact :class:`RequestError`."""
        normal = self.accept(value)
        if normal is DECLINED:
            # refuse() names what the acceptor declined; the fallback is for a
            # disagreement between the two, which the property tests rule out.
            raise self.refuse(value) or RequestError(self.field, "is not a value it takes", code="request.bad-value")
        return normal  # type: ignore[no-any-return]


#: The request's ``jurisdiction`` field (any policy set: codes are checked by shape, not looked up).
JURISDICTION: Final = AttributeCheck(AttributeType("jurisdiction", "code", Kind.CODE, builtin=True), field="jurisdiction")
#: The demand id given to ``Engine.standing``.
STANDING_ID: Final = AttributeCheck(AttributeType("demand", "id", Kind.TEXT), field="demand")

_BUILTIN_TEXTS = ("id", "description")


class DemandChecks:
    """Every demand attribute's check for one policy set, built once per engine."""

    __slots__ = ("_accept", "_every", "_omitted", "_required", "attributes", "builtins", "keys", "names")

    def __init__(self, compiled: CompiledPolicy):
        voc = compiled.policy_set.vocabulary
        self.attributes = {a.name: AttributeCheck(a) for a in compiled.demand_attrs}
        self.builtins: dict[str, AttributeCheck] = {}
        for name in _BUILTIN_TEXTS:
            # Validation always declares them; the fallback says what they are.
            attr = voc.attribute("demand", name) or AttributeType("demand", name, Kind.TEXT, unknown_allowed=True, builtin=True)
            self.builtins[name] = AttributeCheck(attr)
        every = self._every = {**self.attributes, **self.builtins}
        #: A normalised demand's keys, in its (sorted) order.
        self.names = tuple(sorted(every))
        #: The names a demand may give.
        self.keys = frozenset(every)
        self._accept = {name: every[name].accept for name in self.names}
        omitted = {name: every[name].accept(MISSING) for name in self.names}
        #: The attributes a demand must give (their omission is declined).
        self._required = frozenset(name for name, value in omitted.items() if value is DECLINED)
        #: The normalised demand that gives nothing, in key order (the required
        #: attributes hold DECLINED here, and a demand that omits one is declined).
        self._omitted = omitted

    def fast(self, demand: Mapping[str, Any]) -> dict[str, Value] | None:
        """:meth:`normalize` for a demand whose keys are all known, or None
        where :meth:`normalize` would raise (then it gives the precise error).

        Why a copy of the omitted demand: a request usually gives a few of the
        vocabulary's attributes, so checking only those and starting from the
        defaults, already in key order, costs a check per given value instead
        of one per declared attribute."""
        if not self._required <= demand.keys():
            return None
        out = self._omitted.copy()
        accept = self._accept
        for name, raw in demand.items():
            value = accept[name](raw)
            if value is DECLINED:
                return None
            out[name] = value
        return out

    def normalize(self, demand: Any) -> dict[str, Value]:
        """Check a demand's attributes against the vocabulary and apply defaults."""
        if not isinstance(demand, Mapping):
            raise RequestError("demand", f"must be an object of attributes, not {json_type(demand)}", code="request.bad-type")
        known = self.attributes
        for key in demand:
            if not isinstance(key, str) or key not in self.keys:
                name = str(key)[:40]
                raise RequestError(
                    f"demand.{name}" if name else "demand",
                    "is not a demand attribute" if name else "has an attribute with an empty name",
                    tuple(sorted(known)),
                    did_you_mean(name, known) or f"demand attributes: {one_of(known)}",
                    code="request.unknown-attribute",
                )
        out: dict[str, Value] = {}
        # Values first, missing attributes second: a misspelled value is the more
        # useful message when a request has both problems.
        for name, check in known.items():
            if name in demand:
                out[name] = check.check(demand[name])
        for name, check in known.items():
            if name not in demand:
                out[name] = check.check(MISSING)
        for name, check in self.builtins.items():
            out[name] = check.check(demand[name]) if name in demand else None
        return dict(sorted(out.items()))

    def standing(self, attrs: Mapping[str, Value]) -> dict[str, Value]:
        """A standing demand's attributes (defaults applied by validation), through
        the same checks as a request's, in the order given."""
        every = self._every
        return {name: every[name].check(value) for name, value in attrs.items()}


def normalize_demand(compiled: CompiledPolicy, demand: Any) -> dict[str, Value]:
    """Check a demand against ``compiled``'s vocabulary (builds the checks: an
    engine keeps one :class:`DemandChecks` instead)."""
    return DemandChecks(compiled).normalize(demand)


_REQUEST_FIELDS = ("as_of", "demand", "jurisdiction")

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: Any) -> datetime.date | None:
    """A calendar date written ``YYYY-MM-DD`` (or a ``datetime.date``), else None.

    Only that one form: ``date.fromisoformat`` also takes ``20240517`` and
    week dates, which a policy author or a sender would not recognise as the
    date they wrote."""
    kind = type(value)
    if kind is datetime.date:
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        text = value if kind is str else _plain(value)
        if len(text) == 10 and _ISO_DATE.fullmatch(text):
            try:
                return datetime.date.fromisoformat(text)
            except ValueError:
                return None
    return None


def check_as_of(value: Any, field: str = "as_of") -> datetime.date:
    """The request's (or the caller's) ``as_of``: a date ``YYYY-MM-DD``, or a :class:`RequestError`."""
    found = parse_date(value)
    if found is not None:
        return found
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "…"
        raise RequestError(field, f"`{shown}` is not a date", hint="write it `YYYY-MM-DD`, e.g. `2024-05-17`")
    raise RequestError(field, f"must be a date such as `2024-05-17`, not {json_type(value)}", code="request.bad-type")


def split_request(request: Any) -> tuple[str, Mapping[str, Any], datetime.date | None]:
    """:func:`parse_request` and the request's own ``as_of`` (None when it gives none)."""
    code, demand = parse_request(request)
    if isinstance(request, Request):
        return code, demand, request.as_of
    raw = request.get("as_of", MISSING)
    return code, demand, None if raw is MISSING else check_as_of(raw)


def parse_request(request: Any) -> tuple[str, Mapping[str, Any]]:
    """Split a request (dict or :class:`Request`) into its checked jurisdiction
    code and its demand (checked by :class:`DemandChecks`).

    A :class:`Request` has its shape from pydantic but not these checks: its
    code is checked exactly as a dict's is, so that neither path can decide
    (and memoise) what the other refuses.
    """
    if isinstance(request, Request):
        return JURISDICTION.check(request.jurisdiction), request.demand  # type: ignore[return-value]
    if not isinstance(request, Mapping):
        raise RequestError(
            "request",
            f"must be an object with `jurisdiction` and `demand`, not {json_type(request)}",
            code="request.bad-type",
        )
    extra = [k for k in request if k not in _REQUEST_FIELDS]
    if extra:
        name = str(extra[0])[:40]
        if not name:
            raise RequestError("request", "has a field with an empty name", _REQUEST_FIELDS, code="request.unknown-field")
        raise RequestError(
            name,
            "is not a request field",
            _REQUEST_FIELDS,
            did_you_mean(name, ["jurisdiction", "demand", "as_of"]),
            code="request.unknown-field",
        )
    jurisdiction = JURISDICTION.check(request.get("jurisdiction", MISSING))
    if "demand" not in request:
        raise RequestError(
            "demand",
            "is required",
            hint='an object such as {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}',
            code="request.missing",
        )
    return jurisdiction, request["demand"]  # type: ignore[return-value]
