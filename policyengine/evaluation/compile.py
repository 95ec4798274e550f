"""Validated policy set → compiled form that decides without the AST.

Stage contract: :func:`compile_policy` takes a :class:`~policyengine.model.PolicySet`
(already validated: it cannot fail on author input) and returns an immutable
:class:`CompiledPolicy`.  Conditions become Python closures built from the
AST's structure; nothing from a policy file is ever turned into Python source
or evaluated, so a name or text that looks like code stays inert.

Three-valued logic: every condition evaluates to True, False or None
(unknown), by the one definition in :mod:`policyengine.language.logic`
(Kleene's tables; an atom on an unknown value is unknown; only ``is
known``/``is unknown`` look at unknown values directly).

Indexing (:class:`RuleIndex`): every attribute with a small known domain
(enumerations, bools, ``jurisdiction.code``) gets one bitset per value, bit
*i* set when rule *i* can still hold at that value.  A decision intersects the
bitsets of its jurisdiction and kind once per (jurisdiction, kind) pair, then
narrows that short list with small per-pair masks for the remaining demand
attributes, and evaluates only the rules left, each with a closure compiled
once over the whole condition.  Cost per decision therefore follows the number
of rules that can apply to a request, not the size of the policy set.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from ..language import ast, logic
from ..language.logic import literal_value as literal_value  # re-exported: the callers' old name
from ..language.model import SEVERITY, AttributeType, JurisdictionModel, Kind, PolicySet, RuleModel, Value
from .decision import Action, build_action

#: A demand as the compiled rules see it: attribute name → value.
DemandAttrs = Mapping[str, Value]


def evaluate_atom(node: ast.Condition, value: Value) -> bool | None:
    """Truth of one atom for a known or unknown (None) value."""
    return logic.value_test(node)(value)


#: A whole condition compiled once: (demand attributes, jurisdiction attributes)
#: → True, False or None (unknown), both mappings keyed by short names.
ConditionFn = Callable[[DemandAttrs, DemandAttrs], Union[bool, None]]  # noqa: UP007


def compile_condition(node: ast.Condition) -> ConditionFn:
    """Compile a whole condition to one closure, with Kleene ``and``/``or``/``not`` (:mod:`~policyengine.language.logic`).

    Nothing is known in advance: the closure reads the demand and the
    jurisdiction it is given, so one closure per rule serves every
    jurisdiction (no per-jurisdiction specialisation to build or keep).
    """
    if isinstance(node, (ast.Comparison, ast.Membership, ast.KnownTest, ast.TruthTest)):
        return logic.field_test(node, node.ref.scope == "demand")  # type: ignore[return-value]
    if isinstance(node, ast.Not):
        return logic.negation(compile_condition(node.operand))
    assert isinstance(node, (ast.AllOf, ast.AnyOf))
    return logic.junction_of(isinstance(node, ast.AllOf), tuple(compile_condition(op) for op in node.operands))


# --- the candidate index -----------------------------------------------------------


def _atom_allowed(node: ast.Condition, domain: Collection[Value], negated: bool) -> frozenset[Value]:
    """The values of ``domain`` at which the atom (negated when ``negated``) is not definitely False."""
    excluded = negated  # the atom's own truth value that makes the (negated) atom False
    if isinstance(node, ast.Membership) or (isinstance(node, ast.Comparison) and node.op in ("==", "!=")):
        # The common atoms, by set algebra rather than one test per value:
        # a jurisdiction code domain has hundreds of values.
        if isinstance(node, ast.Membership):
            listed, inside = frozenset(literal_value(v) for v in node.values), not node.negated
        else:
            listed, inside = frozenset((literal_value(node.value),)), node.op == "=="
        if not isinstance(domain, frozenset):
            domain = frozenset(domain)
        hits = listed & domain
        # With a known value the atom is True exactly on `hits`, or exactly off them.
        return hits if inside is not excluded else domain - hits
    test = logic.value_test(node)
    return frozenset(v for v in domain if test(v) is not excluded)


def allowed_values(
    node: ast.Condition,
    domains: Mapping[str, Collection[Value]],
    negated: bool = False,
    memo: dict[tuple[ast.Condition, bool], frozenset[Value]] | None = None,
) -> dict[str, frozenset[Value]]:
    """For each indexed attribute the condition constrains, the values at which it may hold.

    Sound under Kleene logic: with attribute ``A`` known and outside
    ``result[A]``, the condition (its negation when ``negated``) is definitely
    False, whatever the other attributes are and whether they are known.
    Attributes absent from the result are unconstrained.  Negation is pushed
    down to the atoms (De Morgan), so ``not (a and b)`` counts as
    ``not a or not b`` and loses no precision.
    """
    if isinstance(node, ast.Not):
        return allowed_values(node.operand, domains, not negated, memo)
    if isinstance(node, (ast.AllOf, ast.AnyOf)):
        parts = [allowed_values(op, domains, negated, memo) for op in node.operands]
        if isinstance(node, ast.AllOf) != negated:
            # A conjunction is False as soon as one operand is: intersect.
            merged: dict[str, frozenset[Value]] = {}
            for part in parts:
                for name, values in part.items():
                    merged[name] = merged[name] & values if name in merged else values
            return merged
        # A disjunction is False only when every operand is: an attribute
        # constrains it only if it constrains every operand.
        common = set(parts[0]).intersection(*parts[1:])
        return {name: frozenset().union(*(p[name] for p in parts)) for name in common}
    dotted = sys.intern(node.ref.dotted)  # (a key of every rule's table: one string, not one per rule)
    domain = domains.get(dotted)
    if domain is None:
        return {}
    if memo is None:
        return {dotted: _atom_allowed(node, domain, negated)}
    # The same atom (`demand.kind == user_data`) recurs in many rules; spans
    # are not part of an atom's equality, so equal atoms share one answer.
    key = (node, negated)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _atom_allowed(node, domain, negated)
    return {dotted: found}


def _to_bits(indices: list[int]) -> int:
    bits = bytearray((max(indices) >> 3) + 1 if indices else 0)
    for i in indices:
        bits[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(bits, "little")


def bit_indices(bits: int) -> list[int]:
    """The positions of the set bits, ascending (one pass over the binary digits)."""
    digits = bin(bits)[:1:-1]  # least significant first, without "0b"
    out = []
    i = digits.find("1")
    while i >= 0:
        out.append(i)
        i = digits.find("1", i + 1)
    return out


@dataclass(frozen=True)
class Candidates:
    """The rules that can apply to one (jurisdiction, kind) pair.

    ``rules`` lists them with their condition closures, in rule order.
    ``masks`` narrows them further per request: for each other indexed demand
    attribute, value → bitmask over positions in ``rules`` (a value missing
    from the table leaves every position in).
    """

    rules: tuple[tuple[CompiledRule, ConditionFn], ...]
    masks: tuple[tuple[str, dict[Value, int]], ...]
    full: int

    def select(self, demand: DemandAttrs) -> Sequence[tuple[CompiledRule, ConditionFn]]:
        """The candidates whose other indexed attributes admit the demand's values."""
        if not self.masks:
            return self.rules
        keep = self.full
        for name, table in self.masks:
            keep &= table.get(demand[name], self.full)
            if not keep:
                return ()
        if keep == self.full:
            return self.rules
        rules = self.rules
        return [rules[p] for p in bit_indices(keep)]


def _holds(d: DemandAttrs, j: DemandAttrs) -> bool:
    return True


def _fails(d: DemandAttrs, j: DemandAttrs) -> bool:
    return False


def _unknown(d: DemandAttrs, j: DemandAttrs) -> None:
    return None


#: The residual of a condition that one (jurisdiction, kind) pair settles.
_CONSTANT: dict[bool | None, ConditionFn] = {True: _holds, False: _fails, None: _unknown}


class RuleIndex:
    """Bitsets over rule indices per (attribute, value), and per-pair candidate lists.

    Built once per compiled policy; the per-jurisdiction bitsets, the compiled
    conditions and the per-(jurisdiction, kind) candidate lists are filled on
    first use.  Those memo tables only gain entries that any thread would
    compute identically, and a dict assignment is atomic, so the index can be
    shared between threads without a lock.
    """

    #: Largest enumeration (or jurisdiction list) indexed per attribute value.
    MAX_DOMAIN = 5_000

    def __init__(self, rules: tuple[CompiledRule, ...], domains: dict[str, tuple[Value, ...]], kind_attr: str | None):
        self.rules = rules
        self.all = (1 << len(rules)) - 1
        self.kind_attr = kind_attr  # short name of the demand attribute keying the pair lists
        sets = {name: frozenset(values) for name, values in domains.items()}
        memo: dict[tuple[ast.Condition, bool], frozenset[Value]] = {}
        self.allowed = tuple(allowed_values(r.model.condition, sets, memo=memo) for r in rules)
        constrained: dict[str, dict[Value, list[int]]] = {a: {v: [] for v in dom} for a, dom in domains.items()}
        free: dict[str, list[int]] = {a: [] for a in domains}
        for i, allowed in enumerate(self.allowed):
            for name in domains:
                values = allowed.get(name)
                if values is None:
                    free[name].append(i)
                else:
                    table = constrained[name]
                    for v in values:
                        table[v].append(i)
        self.bits: dict[str, dict[Value, int]] = {}
        for name, table in constrained.items():
            loose = _to_bits(free[name])
            self.bits[name] = {v: loose | _to_bits(idx) for v, idx in table.items()}
        self.demand_names = tuple(sorted(a.split(".", 1)[1] for a in domains if a.startswith("demand.")))
        self.jurisdiction_names = tuple(sorted(a.split(".", 1)[1] for a in domains if a.startswith("jurisdiction.")))
        self._conditions: dict[int, ConditionFn] = {}
        self._jurisdiction_bits: dict[str, int] = {}
        self._jurisdiction_rules: dict[str, tuple[int, ...]] = {}
        self._pairs: dict[tuple[str, Value], Candidates] = {}
        self._residuals: dict[tuple[Any, ...], ConditionFn] = {}
        self._reads: dict[int, tuple[str, ...]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Closures do not pickle, and the memo tables refill on first use.
        state = dict(self.__dict__)
        state["_conditions"], state["_jurisdiction_bits"], state["_jurisdiction_rules"], state["_pairs"] = {}, {}, {}, {}
        state["_residuals"], state["_reads"] = {}, {}
        return state

    def condition(self, i: int) -> ConditionFn:
        found = self._conditions.get(i)
        if found is None:
            found = self._conditions[i] = compile_condition(self.rules[i].model.condition)
        return found

    def residual(self, i: int, jurisdiction: JurisdictionModel, kind: Value) -> ConditionFn:
        """Rule ``i``'s condition for one (jurisdiction, kind) pair: what the pair
        fixes (every jurisdiction attribute, the demand's kind) substituted once,
        so a decision tests only the demand atoms that can still differ
        (:func:`~policyengine.language.logic.specialise`).

        Shared between the pairs that agree on the values the rule reads: a
        rule of one or two countries is constant False for all the others."""
        rule = self.rules[i]
        jattrs = jurisdiction.attrs
        reads = self._reads.get(i)
        if reads is None:
            reads = self._reads[i] = tuple(r.split(".", 1)[1] for r in rule.refs if r.startswith("jurisdiction."))
        key = (i, kind, *[jattrs.get(name) for name in reads])
        found = self._residuals.get(key)
        if found is None:
            kind_ref = f"demand.{self.kind_attr}" if self.kind_attr else None
            opened = logic.open_value()

            def known(dotted: str) -> object:
                if dotted.startswith("jurisdiction."):
                    return jattrs.get(dotted.split(".", 1)[1])
                return kind if dotted == kind_ref else opened

            residual = logic.specialise(rule.model.condition, known)
            made: ConditionFn = _CONSTANT[residual] if residual is None or isinstance(residual, bool) else residual  # type: ignore[assignment]
            self._residuals[key] = made
            return made
        return found

    def jurisdiction_bits(self, jurisdiction: JurisdictionModel) -> int:
        """The rules that the jurisdiction's own indexed attributes do not rule out."""
        found = self._jurisdiction_bits.get(jurisdiction.code)
        if found is None:
            found = self.all
            for name in self.jurisdiction_names:
                value = jurisdiction.attrs.get(name)
                if value is not None:
                    found &= self.bits[f"jurisdiction.{name}"].get(value, self.all)
            self._jurisdiction_bits[jurisdiction.code] = found
        return found

    def jurisdiction_rules(self, jurisdiction: JurisdictionModel) -> tuple[int, ...]:
        """:meth:`jurisdiction_bits` as rule indices, decoded once per jurisdiction."""
        found = self._jurisdiction_rules.get(jurisdiction.code)
        if found is None:
            found = self._jurisdiction_rules[jurisdiction.code] = tuple(bit_indices(self.jurisdiction_bits(jurisdiction)))
        return found

    def candidates(self, jurisdiction: JurisdictionModel, demand: DemandAttrs) -> Candidates:
        kind = demand.get(self.kind_attr) if self.kind_attr else None
        key = (jurisdiction.code, kind)
        found = self._pairs.get(key)
        if found is None:
            found = self._pairs[key] = self._build(jurisdiction, kind)
        return found

    #: Below this many candidates a pair gets no masks: evaluating a few
    #: closures costs less than building and applying the masks.
    MASK_MIN = 8

    def _build(self, jurisdiction: JurisdictionModel, kind: Value) -> Candidates:
        # The jurisdiction's list is short (its own rules and the global
        # ones); filtering it by kind is cheaper than decoding a 10,000-bit
        # intersection for every pair.
        allowed = self.allowed
        positions: list[int] | tuple[int, ...] = self.jurisdiction_rules(jurisdiction)
        if self.kind_attr is not None and kind is not None:
            dotted_kind = f"demand.{self.kind_attr}"
            positions = [i for i in positions if (a := allowed[i].get(dotted_kind)) is None or kind in a]
        rules = tuple((self.rules[i], self.residual(i, jurisdiction, kind)) for i in positions)
        masks = []
        full = (1 << len(positions)) - 1
        for name in self.demand_names if len(positions) >= self.MASK_MIN else ():
            if name == self.kind_attr:
                continue
            dotted = f"demand.{name}"
            if all(dotted not in allowed[i] for i in positions):
                continue  # no candidate constrains it
            table: dict[Value, list[int]] = {v: [] for v in self.bits[dotted]}
            for p, i in enumerate(positions):
                values = allowed[i].get(dotted)
                for v in table:
                    if values is None or v in values:
                        table[v].append(p)
            masks.append((name, {v: _to_bits(ps) for v, ps in table.items()}))
        return Candidates(rules, tuple(masks), full)


def index_domains(policy_set: PolicySet, demand_attrs: tuple[AttributeType, ...]) -> dict[str, tuple[Value, ...]]:
    """The attributes worth a bitset per value: small, known domains only.

    Demand enumerations and bools, jurisdiction enumerations and bools, and
    ``jurisdiction.code``.  Numbers and texts have no finite domain and are
    left to the condition closures.
    """
    domains: dict[str, tuple[Value, ...]] = {}
    scoped = list(demand_attrs) + policy_set.vocabulary.scoped("jurisdiction")
    for attr in scoped:
        if attr.kind is Kind.ENUM and len(attr.values) <= RuleIndex.MAX_DOMAIN:
            domains[attr.dotted] = attr.values
        elif attr.kind is Kind.BOOL:
            domains[attr.dotted] = (False, True)
        elif attr.kind is Kind.CODE and attr.scope == "jurisdiction" and len(policy_set.jurisdictions) <= RuleIndex.MAX_DOMAIN:
            domains[attr.dotted] = tuple(sorted(policy_set.jurisdictions))
    return domains


@dataclass(frozen=True)
class CompiledAction:
    """One action a rule attaches to its outcome: its condition compiled like a rule's
    (None when it has none), and the :class:`~policyengine.evaluation.decision.Action`
    a decision carries, built once."""

    name: str
    within_hours: float | None
    condition: ConditionFn | None
    action: Action


@dataclass(frozen=True)
class CompiledRule:
    index: int
    model: RuleModel
    severity: int
    source: str  # path:line
    refs: tuple[str, ...]  # dotted attributes the condition reads, sorted
    #: Short names of the demand attributes its condition or `because` text reads:
    #: with the jurisdiction, all that its explanation depends on.
    demand_reads: tuple[str, ...] = ()
    #: Its actions, in the order written (merged by name in decide.py).
    actions: tuple[CompiledAction, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        # Action conditions are closures: they are compiled again on unpickling.
        state = {name: getattr(self, name) for name in self.__dataclass_fields__}
        state["actions"] = ()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "actions", compile_actions(self.model))


def compile_actions(rule: RuleModel) -> tuple[CompiledAction, ...]:
    """A rule's actions with their conditions compiled once."""
    qualified = rule.qualified
    return tuple(
        CompiledAction(
            a.name,
            a.within_hours,
            None if a.condition is None else compile_condition(a.condition),
            build_action(action=a.name, within_hours=a.within_hours, rule=qualified),
        )
        for a in rule.actions
    )


@dataclass(frozen=True)
class CompiledPolicy:
    """Everything decide() needs, precomputed.  Immutable apart from the
    memo tables (those of :class:`RuleIndex`), which only ever
    gain entries that any thread would compute identically (so sharing them
    between threads is safe)."""

    policy_set: PolicySet
    version: str
    demand_attrs: tuple[AttributeType, ...]  # settable demand attributes, by name
    rules: tuple[CompiledRule, ...]
    by_kind: dict[str, tuple[int, ...]]
    all_rules: tuple[int, ...]
    index: RuleIndex = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    #: Compiled explanations, filled by decide.py on first use (rule index → closures).
    explainers: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["explainers"] = {}  # closures do not pickle; they refill on use
        return state

    @property
    def jurisdictions(self) -> dict[str, JurisdictionModel]:
        return self.policy_set.jurisdictions


# The names below are interned: every rule of a large set reads `demand.kind`,
# and one shared string instead of one per rule is some 100,000 fewer objects
# for a 10,000-rule set, in memory and in the load cache's entry.


def condition_refs(cond: ast.Condition) -> tuple[str, ...]:
    """The dotted attributes a condition reads, sorted."""
    return tuple(sorted({sys.intern(n.ref.dotted) for n in ast.walk_condition(cond) if hasattr(n, "ref")}))


def _demand_reads(rule: RuleModel, refs: tuple[str, ...]) -> tuple[str, ...]:
    dotted = set(refs) | {p.ref.dotted for p in rule.because.placeholders()}
    return tuple(sorted(sys.intern(d.split(".", 1)[1]) for d in dotted if d.startswith("demand.")))


def compile_policy(policy_set: PolicySet) -> CompiledPolicy:
    """Compile a validated policy set once; the result serves any number of decisions.

    The cyclic collector is paused meanwhile, as :func:`policyengine.load`
    pauses it for a whole load: compiling makes tens of thousands of
    long-lived objects (the index's tables) and no garbage cycles, and the
    collector would rescan the set's whole syntax tree as they are made, for
    nothing (on a 10,000-rule set, 0.47 s with it and 0.22 s without, CPU).
    Only the call that paused it resumes it."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _compile_policy(policy_set)
    finally:
        if paused:
            gc.enable()


def _compile_policy(policy_set: PolicySet) -> CompiledPolicy:
    built = []
    for i, r in enumerate(policy_set.rules):
        refs = condition_refs(r.condition)
        reads = _demand_reads(r, refs)
        built.append(CompiledRule(i, r, SEVERITY[r.outcome], r.span.short_location(), refs, reads, compile_actions(r)))
    rules = tuple(built)
    voc = policy_set.vocabulary
    demand_attrs = tuple(sorted((a for a in voc.scoped("demand") if not a.builtin), key=lambda a: a.name))
    kind_attr = voc.attribute("demand", "kind")
    domains = index_domains(policy_set, demand_attrs)
    index = RuleIndex(rules, domains, "kind" if "demand.kind" in domains else None)
    by_kind: dict[str, tuple[int, ...]] = {}
    if kind_attr is not None and kind_attr.kind is Kind.ENUM and "demand.kind" in domains:
        # The static analysis is sound, so these lists hold every rule that
        # specialising each condition to the kind alone would keep.
        for value, bits in index.bits["demand.kind"].items():
            by_kind[str(value)] = tuple(bit_indices(bits))
    return CompiledPolicy(
        policy_set,
        policy_set.version,
        demand_attrs,
        rules,
        by_kind,
        tuple(r.index for r in rules),
        index,
    )
