"""The demand space: every possible decision of a policy set, exactly, by enumeration.

Stage contract: :func:`demand_space` takes a
:class:`~policyengine.compile.CompiledPolicy` and returns a
:class:`DemandSpace`, a finite partition of (jurisdiction × demand) into
classes whose members all get the same decision: the same matching rules, so
the same outcome, deciding rules and undetermined rules.  It never raises on
a validated policy set.  :func:`joint_split` is the same construction over
several rule sets at once (two versions of a policy set, or two
jurisdictions), which is what ``diff`` and the cross-jurisdiction lint check
need.

Why enumeration is enough: the vocabulary is finite.  Enumerations and
booleans have finitely many values; rules only compare numbers with
constants, so the constants cut a number's range into finitely many intervals
inside which every comparison has the same truth; ``unknown`` is one more
value where the vocabulary allows it.  Jurisdictions are the loaded ones.

Why it stays small: nothing builds the full cross product.  Jurisdictions are
grouped by the truth of every test rules make of their attributes; the demand
side is decided per ``demand.kind`` (the compiled kind index gives the
candidate rules), and below that the space is split one attribute at a time,
only on attributes that some still-undecided rule reads, and only into the
classes that the tests still in play can tell apart.  An attribute no rule
reads is never split at all.  Attributes that no rule tests together are
split apart, as independent *parts* whose leaves are combined only when
asked (:func:`split_regions`), so independent rules cost the sum of their
classes, not the product; what is built is charged to a
:class:`~policyengine.analysis.budget.Meter`, and past its budget the space
is marked incomplete.  docs/analysis.md describes the construction and gives
measured sizes and timings.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ..evaluation.compile import CompiledPolicy
from ..evaluation.decision import show_value
from ..language import ast, intervals, logic
from ..language.intervals import Interval
from ..language.logic import literal_value
from ..language.model import SEVERITY, AttributeType, JurisdictionModel, Kind, PolicySet, Value
from .budget import Budget, BudgetExceeded, Meter

_INF = intervals.INF

# --- conditions as inspectable residuals -----------------------------------------
#
# The compiled closures decide fast but cannot be asked which tests they still
# contain.  Splitting needs exactly that, so conditions are lowered once into
# this small tree and specialised as values become known, with the Kleene
# logic of policyengine.language.logic (the same functions the closures use).


@dataclass(frozen=True, slots=True)
class _Atom:
    node: ast.Condition  # Comparison, Membership, KnownTest or TruthTest
    attribute: str  # dotted
    test: Callable[[Value], bool | None] = field(compare=False, repr=False)

    @property
    def atoms(self) -> tuple[_Atom, ...]:
        return (self,)


@dataclass(frozen=True, slots=True)
class _Not:
    operand: _Open
    atoms: tuple[_Atom, ...] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class _Junction:
    is_all: bool
    operands: tuple[_Open, ...]
    unknown: bool  # an operand already evaluated to unknown
    #: The tests still open below, in condition order, computed once: splitting
    #: asks for them at every step.
    atoms: tuple[_Atom, ...] = field(compare=False, repr=False)


_Open = _Atom | _Not | _Junction
#: A condition after some attributes are known: True, False, None (unknown) or
#: what is still open.
Residual = bool | None | _Open


def lower(condition: ast.Condition) -> Residual:
    """The condition as a residual with nothing known yet."""
    if isinstance(condition, ast.Not):
        return _negate(lower(condition.operand))
    if isinstance(condition, (ast.AllOf, ast.AnyOf)):
        return _junction(isinstance(condition, ast.AllOf), [lower(c) for c in condition.operands], False)
    return _Atom(condition, condition.ref.dotted, logic.value_test(condition))


def _negate(r: Residual) -> Residual:
    if r is None or isinstance(r, bool):
        return logic.negate(r)
    return _Not(r, r.atoms)


def _junction(is_all: bool, parts: Sequence[Residual], unknown: bool) -> Residual:
    """Kleene ``and``/``or`` of ``parts``, keeping the parts still open: False decides an ``and``, True an ``or``."""
    decisive = logic.decisive(is_all)
    kept: list[_Open] = []
    for p in parts:
        if p is None:
            unknown = True
        elif isinstance(p, bool):
            if p is decisive:
                return decisive
        else:
            kept.append(p)
    if not kept:
        return logic.settle(is_all, unknown)
    if len(kept) == 1 and not unknown:
        return kept[0]
    return _Junction(is_all, tuple(kept), unknown, tuple(a for k in kept for a in k.atoms))


def specialise(r: Residual, env: Mapping[str, Value]) -> Residual:
    """``r`` with the attributes of ``env`` (dotted name → value) filled in.

    A residual that reads none of them is returned as it is (the same object).
    """
    if r is None or isinstance(r, bool):
        return r
    if not any(a.attribute in env for a in r.atoms):
        return r
    if isinstance(r, _Atom):
        return r.test(env[r.attribute])
    if isinstance(r, _Not):
        return _negate(specialise(r.operand, env))
    return _junction(r.is_all, [specialise(p, env) for p in r.operands], r.unknown)


def atoms(r: Residual) -> tuple[_Atom, ...]:
    """The tests still open in ``r``, in condition order."""
    if r is None or isinstance(r, bool):
        return ()
    return r.atoms


# --- classes of values -------------------------------------------------------------


def _day(ordinal: float) -> datetime.date:
    return datetime.date.fromordinal(int(ordinal))


def _show_interval(name: str, iv: Interval, bounds: tuple[float, float], dates: bool = False) -> str:
    lo, hi, lo_in, hi_in = iv
    if dates:
        return _show_days(name, iv)
    if lo == hi:
        return f"{name} = {show_value(lo)}"
    # The ends of the declared range go without saying: `rule_of_law < 0.6`,
    # not `rule_of_law >= 0 and rule_of_law < 0.6`.
    if lo_in and lo == bounds[0]:
        lo = -_INF
    if hi_in and hi == bounds[1]:
        hi = _INF
    parts = []
    if lo != -_INF:
        parts.append(f"{name} {'>=' if lo_in else '>'} {show_value(lo)}")
    if hi != _INF:
        parts.append(f"{name} {'<=' if hi_in else '<'} {show_value(hi)}")
    return " and ".join(parts) or f"{name} is any number"


def _show_days(name: str, iv: Interval) -> str:
    """A run of days (closed, as ordinals; infinite ends open): ``issued < 2017-07-01``."""
    lo, hi, _, _ = iv
    if lo == hi:
        return f"{name} = {_day(lo).isoformat()}"
    parts = []
    if lo != -_INF:
        parts.append(f"{name} >= {_day(lo).isoformat()}")
    if hi != _INF:
        # `< the next day` reads as the cut a rule writes (`issued < 2017-07-01`).
        last = datetime.date.max.toordinal()
        parts.append(f"{name} < {_day(hi + 1).isoformat()}" if hi < last else f"{name} <= {_day(hi).isoformat()}")
    return " and ".join(parts) or f"{name} is any date"


@dataclass(frozen=True)
class ValueClass:
    """Values of one attribute that every test still in play treats alike.

    Discrete values (enumeration values, booleans, jurisdiction codes and None
    for unknown) are listed in ``values``; numbers in ``intervals``.
    ``representative`` is the member used to decide the whole class.
    """

    attribute: str  # dotted
    values: tuple[Value, ...]
    intervals: tuple[Interval, ...]
    representative: Value
    #: For a discrete attribute, the values it could have had (to describe a
    #: big class by what it is not).
    universe: tuple[Value, ...] = field(default=(), compare=False, repr=False)
    #: For a number, its declared range (to leave the range's ends unsaid).
    bounds: tuple[float, float] = field(default=(-_INF, _INF), compare=False, repr=False)
    #: The intervals are runs of days (ordinals, both ends included), for a date attribute.
    dates: bool = field(default=False, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.attribute.split(".", 1)[1]

    def __contains__(self, value: object) -> bool:
        if self.dates and isinstance(value, datetime.date):
            day = value.toordinal()
            return any(lo <= day <= hi for lo, hi, _, _ in self.intervals)
        if self.intervals and type(value) in (int, float):
            x = float(value)  # type: ignore[arg-type]
            if any(intervals.contains(iv, x) for iv in self.intervals):
                return True
        for v in self.values:
            # bool is an int in Python: keep true apart from 1 and false from 0.
            if v is None or isinstance(v, bool):
                if value is v:
                    return True
            elif type(value) is not bool and value == v:
                return True
        return False

    def describe(self) -> str:
        """The class as an author would write it: ``legal_basis = court_order``,
        ``category in {fraud, drugs}``, ``rule_of_law < 0.6``."""
        name = self.name
        known = [v for v in self.values if v is not None]
        parts: list[str] = []
        if self.intervals:
            parts.extend(_show_interval(name, iv, self.bounds, self.dates) for iv in self.intervals)
        elif len(known) == 1:
            parts.append(f"{name} = {show_value(known[0])}")
        elif known:
            rest = [v for v in self.universe if v is not None and v not in known]
            if len(rest) == 1 and len(known) > 1:
                parts.append(f"{name} != {show_value(rest[0])}")
            elif self.universe and len(rest) < len(known) and rest:
                parts.append(f"{name} not in {{{', '.join(show_value(v) for v in rest)}}}")
            else:
                parts.append(f"{name} in {{{', '.join(show_value(v) for v in known)}}}")
        if None in self.values:
            parts.append(f"{name} is unknown")
        return " or ".join(parts)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"attribute": self.attribute, "description": self.describe()}
        if self.intervals:
            out["intervals"] = [
                {
                    "low": None if lo == -_INF else _day(lo).isoformat() if self.dates else lo,
                    "high": None if hi == _INF else _day(hi).isoformat() if self.dates else hi,
                    "low_included": lo_in,
                    "high_included": hi_in,
                }
                for lo, hi, lo_in, hi_in in self.intervals
            ]
            if None in self.values:
                out["unknown"] = True
        else:
            out["values"] = list(self.values)
        return out


def _number_regions(attr: AttributeType, tests: Sequence[ast.Condition]) -> list[tuple[Interval, float]]:
    """The points and open intervals that the constants of ``tests`` cut the range into, each
    with a representative number.  Inside one region every comparison has one truth value."""
    lo = -_INF if attr.lo is None else attr.lo
    hi = _INF if attr.hi is None else attr.hi
    cuts = {
        float(literal_value(t.value))  # type: ignore[arg-type]
        for t in tests
        if isinstance(t, ast.Comparison) and isinstance(t.value, ast.Number)
    }
    return intervals.regions(lo, hi, cuts)


def _day_regions(tests: Sequence[ast.Condition]) -> list[tuple[Interval, datetime.date]]:
    """Dates as ordinal days, cut like numbers by the dates ``tests`` compare with: each day
    named, and the runs of days between (none between two consecutive days), as closed
    ranges of ordinals (infinite ends open), each with a representative day."""
    days = sorted(
        {
            value.toordinal()
            for t in tests
            if isinstance(t, ast.Comparison) and isinstance(value := literal_value(t.value), datetime.date)
        }
    )
    first, last = datetime.date.min.toordinal(), datetime.date.max.toordinal()
    if not days:
        return [((-_INF, _INF, False, False), datetime.date(2000, 1, 1))]
    regions: list[tuple[Interval, datetime.date]] = []
    if days[0] > first:
        regions.append(((-_INF, days[0] - 1, False, True), _day(days[0] - 1)))
    for i, d in enumerate(days):
        regions.append(((d, d, True, True), _day(d)))
        following = days[i + 1] if i + 1 < len(days) else None
        if following is not None and following - d > 1:
            regions.append(((d + 1, following - 1, True, True), _day(d + 1)))
    if days[-1] < last:
        regions.append(((days[-1] + 1, _INF, True, False), _day(days[-1] + 1)))
    return regions


def _merge_days(ivs: list[Interval]) -> tuple[Interval, ...]:
    """Runs of days that touch joined: [1, 4] and [5, 5] become [1, 5]."""
    out: list[Interval] = []
    for iv in sorted(ivs):
        if out and out[-1][1] + 1 >= iv[0]:
            plo, _, plo_in, _ = out[-1]
            out[-1] = (plo, iv[1], plo_in, iv[3])
            continue
        out.append(iv)
    return tuple(out)


def domain(attr: AttributeType, codes: Sequence[str] = ()) -> list[tuple[Value, Interval | None]]:
    """Every value an attribute can take, up to number regions: (value, region or None)."""
    out: list[tuple[Value, Interval | None]]
    if attr.kind is Kind.ENUM:
        out = [(v, None) for v in attr.values]
    elif attr.kind is Kind.BOOL:
        out = [(True, None), (False, None)]
    elif attr.kind is Kind.CODE:
        out = [(c, None) for c in codes]
    elif attr.kind is Kind.NUMBER:
        out = [(rep, iv) for iv, rep in _number_regions(attr, ())]
    elif attr.kind is Kind.DATE:
        out = [(day, iv) for iv, day in _day_regions(())]
    else:  # texts are opaque: for people to read, never tested
        out = []
    if attr.unknown_allowed:
        out.append((None, None))
    return out


def partition(
    attr: AttributeType,
    tests: Sequence[ast.Condition] | Mapping[ast.Condition, Callable[[Value], bool | None]],
    codes: Sequence[str] = (),
) -> list[ValueClass]:
    """The classes of ``attr``'s values that ``tests`` cannot tell apart, in domain order.

    Two values are in one class when every test gives them the same truth
    value (True, False or unknown), so any condition built from these tests
    gives them the same truth value too.  ``tests`` may map each test to its
    :func:`~policyengine.language.logic.value_test` when the caller has them already.
    """
    testers = dict(tests) if isinstance(tests, Mapping) else {t: logic.value_test(t) for t in tests}
    unique = list(testers)
    checks = list(testers.values())
    members: list[tuple[Value, Interval | None]]
    if attr.kind is Kind.NUMBER or attr.kind is Kind.DATE:
        regions: Sequence[tuple[Interval, Value]] = (
            _number_regions(attr, unique) if attr.kind is Kind.NUMBER else _day_regions(unique)
        )
        members = [(rep, iv) for iv, rep in regions]
        if attr.unknown_allowed:
            members.append((None, None))
    else:
        members = domain(attr, codes)
    groups: dict[tuple[bool | None, ...], list[tuple[Value, Interval | None]]] = {}
    for value, iv in members:
        sig = tuple(check(value) for check in checks)
        groups.setdefault(sig, []).append((value, iv))
    universe = tuple(v for v, _ in members) if attr.kind not in (Kind.NUMBER, Kind.DATE) else ()
    out = []
    for group in groups.values():
        if attr.kind is Kind.DATE:
            days = [iv for _, iv in group if iv is not None]
            unknown = tuple(v for v, iv in group if iv is None)
            out.append(ValueClass(attr.dotted, unknown, _merge_days(days), group[0][0], dates=True))
        elif attr.kind is Kind.NUMBER:
            ivs = [iv for _, iv in group if iv is not None]
            values = tuple(v for v, iv in group if iv is None)
            bounds = (-_INF if attr.lo is None else attr.lo, _INF if attr.hi is None else attr.hi)
            out.append(ValueClass(attr.dotted, values, intervals.merge(ivs), group[0][0], bounds=bounds))
        else:
            out.append(ValueClass(attr.dotted, tuple(v for v, _ in group), (), group[0][0], universe))
    return out


# --- splitting -----------------------------------------------------------------------

#: The rules of one side still in play: (rule index, residual).
Side = list[tuple[int, Residual]]
#: What a leaf decided on one side: (matched rule indices, undetermined rule indices).
Verdict = tuple[tuple[int, ...], tuple[int, ...]]


def _split(
    sides: Sequence[Side],
    attributes: Mapping[str, AttributeType],
    assigned: tuple[ValueClass, ...],
    meter: Meter | None,
) -> Iterator[tuple[tuple[ValueClass, ...], tuple[Verdict, ...]]]:
    """Split one part of the space, an attribute at a time, until no rule of any side is open."""
    readers: dict[str, set[tuple[int, int]]] = {}
    tests: dict[str, dict[ast.Condition, Callable[[Value], bool | None]]] = {}
    for s, side in enumerate(sides):
        for i, r in side:
            for atom in atoms(r):
                readers.setdefault(atom.attribute, set()).add((s, i))
                tests.setdefault(atom.attribute, {}).setdefault(atom.node, atom.test)
    if not readers:
        if meter is not None:
            meter.charge()
        yield assigned, tuple((tuple(i for i, r in side if r is True), tuple(i for i, r in side if r is None)) for side in sides)
        return
    name = min(readers, key=lambda a: (-len(readers[a]), a))
    attr = attributes[name]
    reading = readers[name]
    for cls in partition(attr, tests[name]):
        env = {name: cls.representative}
        # Only the rules that read the attribute change; the others are kept as they are.
        narrowed: list[Side] = []
        for s, side in enumerate(sides):
            kept: Side = []
            for i, r in side:
                if (s, i) in reading:
                    r = specialise(r, env)
                    if r is False:
                        continue
                kept.append((i, r))
            narrowed.append(kept)
        yield from _split(narrowed, attributes, (*assigned, cls), meter)


@dataclass(frozen=True)
class Leaf:
    """One class of one independent part of the space: the classes assigned, a verdict per side."""

    assigned: tuple[ValueClass, ...]
    verdicts: tuple[Verdict, ...]


#: Independent parts of the space, each a non-empty list of leaves: a class of
#: the whole space is one leaf of every part.
Components = tuple[tuple[Leaf, ...], ...]


def _groups(sides: Sequence[Side]) -> tuple[list[Side], list[list[Side]]]:
    """The rules already decided, and the open rules grouped by the attributes they test together
    (two attributes are in one group when a rule, or a chain of rules, tests both); groups are
    ordered by their first attribute name, so the result depends on the rules only."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for side in sides:
        for _, r in side:
            names = [atom.attribute for atom in atoms(r)]
            for n in names:
                parent.setdefault(n, n)
            for n in names[1:]:
                ra, rb = find(names[0]), find(n)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    decided: list[Side] = [[(i, r) for i, r in side if not atoms(r)] for side in sides]
    groups: dict[str, list[Side]] = {}
    for s, side in enumerate(sides):
        for i, r in side:
            found = atoms(r)
            if found:
                part = groups.setdefault(find(found[0].attribute), [[] for _ in sides])
                part[s].append((i, r))
    return decided, [groups[root] for root in sorted(groups)]


def _flat(group: Sequence[Side], attributes: Mapping[str, AttributeType], meter: Meter | None) -> tuple[Leaf, ...]:
    try:
        return tuple(Leaf(a, v) for a, v in _split(group, attributes, (), meter))
    except BudgetExceeded as stop:
        if stop.rule is None:
            stop.rule = min(i for side in group for i, _ in side)
        raise


#: A region of the space: the classes assigned to reach it (when a group of rules
#: was split on an attribute they all test), and its independent parts.
Region = tuple[tuple[ValueClass, ...], Components]


def split_regions(sides: Sequence[Side], attributes: Mapping[str, AttributeType], meter: Meter | None = None) -> list[Region]:
    """The space of ``sides`` as disjoint regions, each a product of independent parts.

    Attributes that no open rule tests together are independent: the rules of
    one part read none of the attributes of another, so splitting one part
    never changes the others' rules, and the classes of the whole space are
    exactly one leaf of each part, combined.  Building the parts apart costs
    the *sum* of their sizes instead of the product: 18 rules on 18 boolean
    attributes are 18 parts of 2 leaves (36 classes built) rather than 2^18
    classes.  The first part holds the rules already decided (no test open),
    with a single leaf.

    Rules that all test one attribute besides their own (``withdraw when
    demand.mandatory and demand.fN``) form one group, although they are
    independent as soon as that attribute is known.  Such a group is split
    on that attribute first, when that makes it fall apart, and each class of
    it is a region whose parts are found again (the other groups' parts are
    shared by all the regions): eighteen such rules are 2 regions and 36
    leaves, not 2^17 leaves.  A group without such an attribute is split as
    it is.  Each region is charged to ``meter`` as one class.
    """
    decided, groups = _groups(sides)
    const: Components = (tuple(Leaf(a, v) for a, v in _split(decided, attributes, (), meter)),)
    alternatives: list[list[Region]] = [[((), const)]]
    for group in groups:
        alternatives.append(_group_regions(group, attributes, meter))
    regions: list[Region] = []
    for combo in itertools.product(*alternatives):
        if meter is not None:
            meter.charge()
        regions.append((tuple(c for prefix, _ in combo for c in prefix), tuple(p for _, parts in combo for p in parts)))
    return regions


def _group_regions(group: list[Side], attributes: Mapping[str, AttributeType], meter: Meter | None) -> list[Region]:
    readers: dict[str, int] = {}
    tests: dict[str, dict[ast.Condition, Callable[[Value], bool | None]]] = {}
    rules = 0
    for side in group:
        for _, r in side:
            rules += 1
            for name in {a.attribute for a in atoms(r)}:
                readers[name] = readers.get(name, 0) + 1
            for a in atoms(r):
                tests.setdefault(a.attribute, {}).setdefault(a.node, a.test)
    hubs = sorted(n for n, k in readers.items() if k == rules)
    if len(readers) >= 3 and hubs:
        hub = hubs[0]
        classes = partition(attributes[hub], tests[hub])
        narrowed: list[list[Side]] = []
        for cls in classes:
            env = {hub: cls.representative}
            kept: list[Side] = [[(i, t) for i, r in side if (t := specialise(r, env)) is not False] for side in group]
            narrowed.append(kept)
        if any(len(_groups(n)[1]) > 1 for n in narrowed):
            out: list[Region] = []
            for cls, sides in zip(classes, narrowed):
                out.extend(((cls, *prefix), parts) for prefix, parts in split_regions(sides, attributes, meter))
            return out
    return [((), (_flat(group, attributes, meter),))]


def combine(leaves: Sequence[Leaf]) -> tuple[tuple[ValueClass, ...], tuple[Verdict, ...]]:
    """One class of the whole space from one leaf of each part."""
    assigned = tuple(c for leaf in leaves for c in leaf.assigned)
    verdicts = tuple(
        (
            tuple(sorted(i for leaf in leaves for i in leaf.verdicts[s][0])),
            tuple(sorted(i for leaf in leaves for i in leaf.verdicts[s][1])),
        )
        for s in range(len(leaves[0].verdicts))
    )
    return assigned, verdicts


def product(parts: Components, meter: Meter | None = None) -> Iterator[tuple[tuple[ValueClass, ...], tuple[Verdict, ...]]]:
    """Every class of the whole space, lazily: one leaf of each part (each charged to ``meter``)."""
    for leaves in itertools.product(*parts):
        if meter is not None:
            meter.charge()
        yield combine(leaves)


def product_size(parts: Components) -> int:
    return math.prod(len(p) for p in parts)


def _severity(policy_set: PolicySet, matched: tuple[int, ...]) -> int:
    """The severity of the most severe matched rule; -1 when none matched (the default applies)."""
    return max((SEVERITY[policy_set.rules[i].outcome] for i in matched), default=-1)


def _outcome(level: int) -> str:
    return "negotiate" if level < 0 else next(o for o, s in SEVERITY.items() if s == level)


def differing(parts: Components, policy_sets: Sequence[PolicySet], meter: Meter | None = None) -> Iterator[list[Leaf]]:
    """The combinations of leaves (one per part) where the sides' outcomes are not all the same.

    ``policy_sets`` gives the set each side's rule indices belong to (the
    same set for jurisdictions compared with each other, two versions for a
    diff).  A cell's outcome on each side is its most severe match, part by
    part.  A part whose every leaf has the same most severe match on every
    side (*neutral*) cannot make a difference on its own, so the parts that
    differ are combined first; where the sides agree, no choice of the
    neutral parts changes anything and that whole subtree is skipped, and
    within the neutral parts a subtree stops once their match outranks every
    side.  Comparing a set with itself, or a change confined to a few
    parts, therefore never builds the product of the independent parts.
    """
    levels = [[tuple(_severity(ps, leaf.verdicts[s][0]) for s, ps in enumerate(policy_sets)) for leaf in part] for part in parts]
    neutral = [all(len(set(lv)) == 1 for lv in part) for part in levels]
    order = sorted(range(len(parts)), key=lambda p: neutral[p])
    first_neutral = next((n for n, p in enumerate(order) if neutral[p]), len(order))
    chosen: list[Leaf] = []

    def walk(depth: int, acc: tuple[int, ...]) -> Iterator[list[Leaf]]:
        if meter is not None:
            meter.charge()
        if depth >= first_neutral and len(set(acc)) == 1:
            return  # only neutral parts are left, and they add the same match to every side
        if depth == len(order):
            if len({_outcome(a) for a in acc}) > 1:
                yield list(chosen)
            return
        p = order[depth]
        for leaf, lv in zip(parts[p], levels[p]):
            nacc = tuple(max(a, b) for a, b in zip(acc, lv))
            if depth >= first_neutral and len(set(nacc)) == 1:
                continue  # the neutral parts now outrank every side: the same outcome whatever follows
            chosen.append(leaf)
            yield from walk(depth + 1, nacc)
            chosen.pop()

    yield from walk(0, tuple(-1 for _ in policy_sets))


def joint_split(
    sides: Sequence[Side], attributes: Mapping[str, AttributeType], meter: Meter | None = None
) -> Iterator[tuple[tuple[ValueClass, ...], tuple[Verdict, ...]]]:
    """Split the demand space until no rule of any side is left open.

    Yields (classes assigned on the way, one verdict per side).  Every
    attribute not assigned in a leaf is read by no rule still open there, so
    the leaf's verdicts hold for any value of it.  Attributes are split in
    order of how many open rules read them (ties by name), which keeps the
    tree shallow without making the result depend on anything but the rules.
    Independent parts (:func:`split_regions`) are split apart and their
    leaves combined lazily; ``meter`` is charged once per class built and
    once per class yielded.
    """
    for prefix, parts in split_regions(sides, attributes, meter):
        for assigned, verdicts in product(parts, meter):
            yield (*prefix, *assigned), verdicts


def verdict_outcome(policy_set: PolicySet, verdict: Verdict) -> tuple[str, tuple[int, ...]]:
    """(outcome, deciding rule indices) of a verdict; no deciding rules means the default."""
    matched = verdict[0]
    if not matched:
        return "negotiate", ()
    rules = policy_set.rules
    top = max(SEVERITY[rules[i].outcome] for i in matched)
    outcome = next(o for o, s in SEVERITY.items() if s == top)
    return outcome, tuple(i for i in matched if SEVERITY[rules[i].outcome] == top)


# --- the space -------------------------------------------------------------------------


@dataclass(frozen=True)
class JurisdictionClass:
    """Jurisdictions that every test rules make of jurisdiction attributes treats alike."""

    index: int
    codes: tuple[str, ...]
    representative: JurisdictionModel
    #: Signature over tests of attributes other than ``jurisdiction.code``:
    #: jurisdiction classes that share it differ only by code-specific rules.
    attribute_signature: tuple[bool | None, ...]
    classes: tuple[ValueClass, ...]  # the class of each attribute rules read, for describing

    def describe(self) -> str:
        return ", ".join(c.describe() for c in self.classes) or "any jurisdiction"


@dataclass(frozen=True)
class Cell:
    """One class of the space: a jurisdiction class, a kind and a class of the other demand attributes."""

    jurisdictions: JurisdictionClass
    kind: str
    demand: tuple[ValueClass, ...]  # split attributes, sorted by name; any value for the others
    matched: tuple[int, ...]  # rule indices (into PolicySet.rules) whose condition is true
    undetermined: tuple[int, ...]
    outcome: str
    deciding: tuple[int, ...]  # empty: the default applied

    @property
    def default_applied(self) -> bool:
        return not self.deciding

    def describe(self) -> str:
        """``kind = user_data, category = criminal_suspect, legal_basis = court_order``."""
        return ", ".join([f"kind = {self.kind}", *(c.describe() for c in self.demand)])

    def contains(self, code: str, demand: Mapping[str, Value]) -> bool:
        if code not in self.jurisdictions.codes or demand.get("kind") != self.kind:
            return False
        return all(demand.get(c.name) in c for c in self.demand)


def jurisdiction_env(j: JurisdictionModel) -> dict[str, Value]:
    return {f"jurisdiction.{k}": v for k, v in j.attrs.items()}


def _jurisdiction_classes(policy_set: PolicySet, lowered: Sequence[Residual]) -> list[JurisdictionClass]:
    voc = policy_set.vocabulary
    tests: dict[str, list[ast.Condition]] = {}
    for r in lowered:
        for atom in atoms(r):
            if atom.attribute.startswith("jurisdiction."):
                tests.setdefault(atom.attribute, []).append(atom.node)
    names = sorted(tests)
    codes = tuple(policy_set.jurisdictions)
    parts = {n: partition(voc.attributes[n], tests[n], codes) for n in names}
    groups: dict[tuple[int, ...], list[JurisdictionModel]] = {}
    for j in policy_set.jurisdictions.values():
        env = jurisdiction_env(j)
        sig = tuple(next(k for k, c in enumerate(parts[n]) if env.get(n) in c) for n in names)
        groups.setdefault(sig, []).append(j)
    out = []
    for index, (sig, members) in enumerate(sorted(groups.items(), key=lambda kv: kv[1][0].code)):
        rep = members[0]
        attr_sig = tuple(
            logic.value_test(t)(rep.attrs.get(n.split(".", 1)[1]))
            for n in names
            if n != "jurisdiction.code"
            for t in dict.fromkeys(tests[n])
        )
        classes = tuple(parts[n][k] for n, k in zip(names, sig))
        out.append(JurisdictionClass(index, tuple(m.code for m in members), rep, attr_sig, classes))
    return out


@dataclass(frozen=True)
class Block:
    """The demand space of one jurisdiction class and one kind, as a product of independent parts."""

    jurisdictions: JurisdictionClass
    kind: str
    parts: Components
    #: Classes every cell of the block has (a region of :func:`split_regions`); () for the whole kind.
    prefix: tuple[ValueClass, ...] = ()

    def size(self) -> int:
        """Number of classes (cells) the block stands for, without building them."""
        return product_size(self.parts)

    def cell(self, policy_set: PolicySet, leaves: Sequence[Leaf]) -> Cell:
        assigned, ((matched, undetermined),) = combine(leaves)
        outcome, deciding = verdict_outcome(policy_set, (matched, undetermined))
        return Cell(
            self.jurisdictions,
            self.kind,
            tuple(sorted((*self.prefix, *assigned), key=lambda c: c.attribute)),
            matched,
            undetermined,
            outcome,
            deciding,
        )

    def cells(self, policy_set: PolicySet, meter: Meter | None = None) -> Iterator[Cell]:
        for leaves in itertools.product(*self.parts):
            if meter is not None:
                meter.charge()
            yield self.cell(policy_set, leaves)


@dataclass(frozen=True)
class DemandSpace:
    """Every decision a policy set can make, as blocks of independent parts; :attr:`cells` lists them.

    ``incomplete`` is set when the construction stopped at its budget: the
    blocks then cover only part of the space, and nothing may be concluded
    from what is missing.
    """

    compiled: CompiledPolicy
    jurisdiction_classes: tuple[JurisdictionClass, ...]
    blocks: tuple[Block, ...]
    kinds: tuple[str, ...]
    _by_key: dict[tuple[str, str], tuple[Block, ...]] = field(default_factory=dict, repr=False, compare=False)
    incomplete: BudgetExceeded | None = field(default=None, compare=False)
    meter: Meter | None = field(default=None, repr=False, compare=False)

    @property
    def policy_set(self) -> PolicySet:
        return self.compiled.policy_set

    @functools.cached_property
    def cells(self) -> tuple[Cell, ...]:
        """Every cell, built on first use (charged to the space's meter: there may be very many)."""
        ps = self.policy_set
        return tuple(c for b in self.blocks for c in b.cells(ps, self.meter))

    def cell_count(self) -> int:
        """Number of cells, without building them."""
        return sum(b.size() for b in self.blocks)

    def size(self) -> int:
        """Number of (jurisdiction, demand class) pairs the cells stand for."""
        return sum(b.size() * len(b.jurisdictions.codes) for b in self.blocks)

    def locate(self, code: str, demand: Mapping[str, Value]) -> Cell | None:
        """The cell of a jurisdiction and a normalised demand (short attribute names)."""
        kind = demand.get("kind")
        for block in self._by_key.get((code, kind if isinstance(kind, str) else ""), ()):
            if not all(demand.get(c.name) in c for c in block.prefix):
                continue
            leaves = []
            for part in block.parts:
                leaf = next((lf for lf in part if all(demand.get(c.name) in c for c in lf.assigned)), None)
                if leaf is None:
                    return None
                leaves.append(leaf)
            return block.cell(self.policy_set, leaves)
        return None

    def representative(self, cell: Cell) -> dict[str, object]:
        """A request that falls in ``cell``: its representatives, defaults for the rest."""
        demand: dict[str, Value] = {}
        for attr in self.compiled.demand_attrs:
            if not attr.testable:  # texts: for people to read; no rule reads them
                continue
            if attr.has_default:
                demand[attr.name] = attr.default
            elif attr.unknown_allowed:
                demand[attr.name] = None
            else:
                demand[attr.name] = domain(attr)[0][0]
        demand["kind"] = cell.kind
        for c in cell.demand:
            demand[c.name] = c.representative
        return {"jurisdiction": cell.jurisdictions.codes[0], "demand": demand}


def demand_attributes(compiled: CompiledPolicy) -> dict[str, AttributeType]:
    return {a.dotted: a for a in compiled.demand_attrs if a.testable}


def kind_values(policy_set: PolicySet) -> tuple[str, ...]:
    kind = policy_set.vocabulary.attribute("demand", "kind")
    return kind.values if kind is not None and kind.kind is Kind.ENUM else ()


def candidates(compiled: CompiledPolicy, lowered: Sequence[Residual], j: JurisdictionModel, kind: str) -> Side:
    """The rules that can still hold for ``j`` and ``kind``, specialised to them (the kind index first)."""
    env = jurisdiction_env(j)
    env["demand.kind"] = kind
    side: Side = []
    for i in compiled.by_kind.get(kind, compiled.all_rules):
        r = specialise(lowered[i], env)
        if r is not False:
            side.append((i, r))
    return side


def jurisdiction_classes(compiled: CompiledPolicy) -> list[JurisdictionClass]:
    """The jurisdiction classes of ``compiled`` alone (no demand is split)."""
    return _jurisdiction_classes(compiled.policy_set, [lower(r.model.condition) for r in compiled.rules])


def demand_space(compiled: CompiledPolicy, budget: Budget | Meter | None = None) -> DemandSpace:
    """Partition every (jurisdiction, demand) of ``compiled`` into classes decided alike.

    With a budget (or the meter of a running analysis), a construction that
    passes it stops and returns the blocks built so far, with ``incomplete``
    set; without one it is unbounded.
    """
    meter = budget.start() if isinstance(budget, Budget) else budget
    ps = compiled.policy_set
    lowered = [lower(r.model.condition) for r in compiled.rules]
    jclasses = _jurisdiction_classes(ps, lowered)
    attributes = demand_attributes(compiled)
    kinds = kind_values(ps)
    blocks: list[Block] = []
    by_key: dict[tuple[str, str], tuple[Block, ...]] = {}
    stop: BudgetExceeded | None = None
    try:
        for jc in jclasses:
            for kind in kinds:
                side = candidates(compiled, lowered, jc.representative, kind)
                here = tuple(Block(jc, kind, parts, prefix) for prefix, parts in split_regions([side], attributes, meter))
                blocks.extend(here)
                for code in jc.codes:
                    by_key[(code, kind)] = here
    except BudgetExceeded as exceeded:
        stop = exceeded
    return DemandSpace(compiled, tuple(jclasses), tuple(blocks), kinds, by_key, stop, meter)
