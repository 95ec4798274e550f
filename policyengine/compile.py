"""Validated policy set → compiled form that decides without the AST.

Stage contract: :func:`compile_policy` takes a :class:`~policyengine.model.PolicySet`
(already validated: it cannot fail on author input) and returns an immutable
:class:`CompiledPolicy`.  Conditions become Python closures built from the
AST's structure; nothing from a policy file is ever turned into Python source
or evaluated, so a name or text that looks like code stays inert.

Three-valued logic: every condition evaluates to True, False or None
(unknown).  A comparison with an unknown value is unknown; ``and``/``or``/
``not`` follow Kleene's tables; only ``is known``/``is unknown`` look at
unknown values directly.

Indexing: each rule is filed under the values of ``demand.kind`` for which
it can hold, found by partial evaluation with only the kind known.  When a
(jurisdiction, kind) pair is first decided, the candidate rules are
specialised with that jurisdiction's attributes, leaving small residual
closures over the demand alone; later decisions for the pair reuse them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Union

from . import ast
from .model import SEVERITY, AttributeType, JurisdictionModel, Kind, PolicySet, RuleModel, Value

#: A demand as the compiled rules see it: attribute name → value.
DemandAttrs = Mapping[str, Value]
#: A partially evaluated condition: a constant (True, False or None for
#: unknown) or a closure over the demand that returns one.
Residual = Union[bool, None, Callable[[DemandAttrs], Union[bool, None]]]

_OPS: dict[str, Callable[[object, object], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,  # type: ignore[dict-item]
    "<=": operator.le,  # type: ignore[dict-item]
    ">": operator.gt,  # type: ignore[dict-item]
    ">=": operator.ge,  # type: ignore[dict-item]
}


def literal_value(lit: ast.Literal) -> Value:
    if isinstance(lit, ast.Symbol):
        return lit.name
    if isinstance(lit, ast.Unknown):
        return None
    return lit.value


def _atom_closure(node: ast.Condition, name: str) -> Callable[[DemandAttrs], bool | None]:
    """A closure testing demand attribute ``name`` as the atom says."""
    if isinstance(node, ast.Comparison):
        op = _OPS[node.op]
        const = literal_value(node.value)

        def compare(d: DemandAttrs) -> bool | None:
            v = d[name]
            return None if v is None else op(v, const)

        return compare
    if isinstance(node, ast.Membership):
        values = frozenset(literal_value(v) for v in node.values)
        if node.negated:

            def not_member(d: DemandAttrs) -> bool | None:
                v = d[name]
                return None if v is None else v not in values

            return not_member

        def member(d: DemandAttrs) -> bool | None:
            v = d[name]
            return None if v is None else v in values

        return member
    if isinstance(node, ast.KnownTest):
        known = node.known
        return lambda d: (d[name] is not None) is known
    assert isinstance(node, ast.TruthTest)
    return lambda d: d[name]  # type: ignore[return-value]


def evaluate_atom(node: ast.Condition, value: Value) -> bool | None:
    """Truth of one atom for a known or unknown (None) value."""
    if isinstance(node, ast.KnownTest):
        return (value is not None) is node.known
    if value is None:
        return None
    if isinstance(node, ast.Comparison):
        return _OPS[node.op](value, literal_value(node.value))
    if isinstance(node, ast.Membership):
        inside = value in {literal_value(v) for v in node.values}
        return not inside if node.negated else inside
    assert isinstance(node, ast.TruthTest)
    return bool(value)


def partial(node: ast.Condition, env: Mapping[str, Value]) -> Residual:
    """Evaluate what ``env`` (dotted name → value) determines; leave a closure for the rest.

    Attributes not in ``env`` must be demand attributes: the residual reads
    them from the demand mapping by their short name.
    """
    if isinstance(node, (ast.Comparison, ast.Membership, ast.KnownTest, ast.TruthTest)):
        dotted = node.ref.dotted
        if dotted in env:
            return evaluate_atom(node, env[dotted])
        return _atom_closure(node, node.ref.name)
    if isinstance(node, ast.Not):
        inner = partial(node.operand, env)
        if inner is None or isinstance(inner, bool):
            return None if inner is None else not inner

        def negate(d: DemandAttrs) -> bool | None:
            r = inner(d)  # type: ignore[operator]
            return None if r is None else not r

        return negate
    is_all = isinstance(node, ast.AllOf)
    assert isinstance(node, (ast.AllOf, ast.AnyOf))
    decisive = not is_all  # False decides an `and`, True decides an `or`
    closures: list[Callable[[DemandAttrs], bool | None]] = []
    saw_unknown = False
    for operand in node.operands:
        r = partial(operand, env)
        if r is None:
            saw_unknown = True
        elif isinstance(r, bool):
            if r is decisive:
                return decisive
        else:
            closures.append(r)
    if not closures:
        return None if saw_unknown else not decisive
    if len(closures) == 1 and not saw_unknown:
        return closures[0]
    parts = tuple(closures)
    start_unknown = saw_unknown

    def combine(d: DemandAttrs) -> bool | None:
        unknown = start_unknown
        for c in parts:
            r = c(d)
            if r is decisive:
                return decisive
            if r is None:
                unknown = True
        return None if unknown else not decisive

    return combine


@dataclass(frozen=True)
class CompiledRule:
    index: int
    model: RuleModel
    severity: int
    source: str  # path:line
    refs: tuple[str, ...]  # dotted attributes the condition reads, sorted


@dataclass(frozen=True)
class CompiledPolicy:
    """Everything decide() needs, precomputed.  Immutable apart from the
    residual memo, which only ever gains entries that any thread would
    compute identically (so sharing it between threads is safe)."""

    policy_set: PolicySet
    version: str
    demand_attrs: tuple[AttributeType, ...]  # settable demand attributes, by name
    rules: tuple[CompiledRule, ...]
    by_kind: dict[str, tuple[int, ...]]
    all_rules: tuple[int, ...]
    _residuals: dict[tuple[str, str], tuple[tuple[CompiledRule, Residual], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def jurisdictions(self) -> dict[str, JurisdictionModel]:
        return self.policy_set.jurisdictions

    def residuals(self, jurisdiction: JurisdictionModel, kind: str) -> tuple[tuple[CompiledRule, Residual], ...]:
        key = (jurisdiction.code, kind)
        found = self._residuals.get(key)
        if found is not None:
            return found
        env: dict[str, Value] = {f"jurisdiction.{k}": v for k, v in jurisdiction.attrs.items()}
        env["demand.kind"] = kind
        out = []
        for i in self.by_kind.get(kind, self.all_rules):
            rule = self.rules[i]
            r = partial(rule.model.condition, env)
            if r is not False:
                out.append((rule, r))
        result = tuple(out)
        self._residuals[key] = result
        return result


def _refs(cond: ast.Condition) -> tuple[str, ...]:
    return tuple(sorted({n.ref.dotted for n in ast.walk_condition(cond) if hasattr(n, "ref")}))


def compile_policy(policy_set: PolicySet) -> CompiledPolicy:
    """Compile a validated policy set once; the result serves any number of decisions."""
    rules = tuple(
        CompiledRule(i, r, SEVERITY[r.outcome], r.span.short_location(), _refs(r.condition))
        for i, r in enumerate(policy_set.rules)
    )
    voc = policy_set.vocabulary
    demand_attrs = tuple(sorted((a for a in voc.scoped("demand") if not a.builtin), key=lambda a: a.name))
    kind_attr = voc.attribute("demand", "kind")
    by_kind: dict[str, tuple[int, ...]] = {}
    if kind_attr is not None and kind_attr.kind is Kind.ENUM:
        for value in kind_attr.values:
            env = {"demand.kind": value}
            by_kind[value] = tuple(r.index for r in rules if partial(r.model.condition, env) is not False)
    return CompiledPolicy(
        policy_set,
        policy_set.version,
        demand_attrs,
        rules,
        by_kind,
        tuple(r.index for r in rules),
    )
