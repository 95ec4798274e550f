"""Lint: warnings about a policy set that is valid but probably not what its authors meant.

Stage contract: :func:`lint` takes a compiled policy set (so one without
errors) and returns a :class:`LintReport`: the findings as
:class:`~policyengine.diagnostics.Diagnostic` values with PE4xx codes (all
warnings), sorted, plus the findings that ``# lint: allow`` comments mark as
deliberate.  It never raises on a valid policy set.

Every check that is about decisions is answered exactly, over the whole
:mod:`demand space <policyengine.analysis>`, not by sampling: "this rule
never matches" means no loaded jurisdiction and no demand makes its
condition true.

Deliberate findings are marked in the policy file, next to what they are
about, with a reason (docs/analysis.md)::

    # lint: allow PE402 — kept so that explanations name the treaty as well
    rule treaty: comply when ...

    # lint: allow PE404 data_localization — negotiating is the position

A comment on its own line covers the next line that holds code; at the end of
a line it covers that line.  With a subject (a rule ``principle.rule``, a
kind, a principle or ``enum.value``) it covers that subject wherever the
finding points, which is how findings located in the standard vocabulary are
allowed.  A directive without a reason, or one that allows nothing, is itself
a finding, so that the marks stay honest.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..evaluation.compile import CompiledPolicy, literal_value
from ..language import ast
from ..language.diagnostics import Diagnostic, one_of, sorted_diagnostics
from ..language.model import SEVERITY, AttributeType, Kind, PolicySet, RuleModel, Value
from ..language.source import Source, Span
from ..language.validate import PRELUDE_PREFIX
from .budget import Budget, BudgetExceeded, Meter
from .space import (
    Cell,
    DemandSpace,
    JurisdictionClass,
    Leaf,
    candidates,
    combine,
    demand_attributes,
    demand_space,
    differing,
    joint_split,
    lower,
    split_regions,
    verdict_outcome,
)

#: Codes a `# lint: allow` comment may name (the directive codes themselves cannot be allowed).
ALLOWABLE = ("PE401", "PE402", "PE403", "PE404", "PE405", "PE406", "PE407", "PE408", "PE412")


@dataclass(frozen=True)
class Finding:
    """A lint diagnostic and what it is about (for ``# lint: allow CODE SUBJECT``)."""

    diagnostic: Diagnostic
    subject: str | None = None


@dataclass
class Directive:
    """One ``# lint: allow`` comment."""

    codes: tuple[str, ...]
    subjects: tuple[str, ...]  # empty: the positional form, about the line it covers
    reason: str
    span: Span
    line: int  # the line it covers (positional form)
    used: set[str | None] = field(default_factory=set)  # the subjects (None: the line) it allowed

    def covers(self, finding: Finding) -> bool:
        d = finding.diagnostic
        if d.code not in self.codes:
            return False
        if self.subjects:
            return finding.subject in self.subjects
        return d.span.path == self.span.path and d.span.line == self.line


@dataclass(frozen=True)
class LintReport:
    findings: tuple[Diagnostic, ...]  # what to show: findings not allowed, directive problems
    allowed: tuple[tuple[Diagnostic, Directive], ...]  # findings marked deliberate, with the directive
    space: DemandSpace
    #: Set when the analysis stopped at its budget: the report is incomplete, not clean.
    incomplete: BudgetExceeded | None = None


# --- directives --------------------------------------------------------------------------


def comments(text: str) -> list[tuple[int, str]]:
    """(offset of ``#``, comment text after it) for every comment of a policy file.

    A ``#`` inside a string is not a comment, so strings are skipped with the
    lexer's rules: plain strings end at an unescaped quote or a newline,
    triple-quoted ones at the next unescaped triple quote.
    """
    out: list[tuple[int, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            end = n if end == -1 else end
            out.append((i, text[i + 1 : end]))
            i = end
        elif text.startswith('"""', i):
            i += 3
            while i < n and not text.startswith('"""', i):
                i += 2 if text[i] == "\\" else 1
            i += 3
        elif ch == '"':
            i += 1
            while i < n and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
            i += 1
        else:
            i += 1
    return out


_DIRECTIVE = re.compile(r"\s*lint\s*:(?P<body>.*)\Z", re.S)
_ALLOW = re.compile(
    r"\s*allow\s+(?P<codes>[A-Za-z]+\d+(?:\s*,\s*[A-Za-z]+\d+)*)"
    r"(?P<subjects>(?:\s+[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)*)"
    r"\s*(?:(?:—|--)\s*(?P<reason>.*?))?\s*\Z",
    re.S,
)


def _code_line(source: Source, line: int) -> int:
    """The first line after ``line`` that holds code (not blank, not only a comment)."""
    for n in range(line + 1, source.line_count + 1):
        stripped = source.line_text(n).strip()
        if stripped and not stripped.startswith("#"):
            return n
    return line + 1


_USAGE = "write `# lint: allow CODE [SUBJECT ...] — why this is deliberate`"
_SUBJECT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?\Z")


def _unreadable(body: str) -> tuple[str, str]:
    """Why a ``# lint:`` comment did not read, as (label, hint): the author should not have to guess."""
    words = body.split()
    if not words or words[0].lower() != "allow":
        return "not a `lint: allow` directive", _USAGE
    if len(words) < 2 or not re.fullmatch(r"[A-Za-z]+\d+,?", words[1]):
        return "no lint code after `allow`", f"name the code first, e.g. `PE407`; {_USAGE}"
    head = re.split(r"—|--", body, maxsplit=1)[0].split()
    codes_done = False
    for word in head[1:]:
        if not codes_done and re.fullmatch(r",?[A-Za-z]+\d+,?|,", word):
            continue
        codes_done = True
        if word.endswith(",") and _SUBJECT.match(word[:-1]):
            return "subjects are separated by spaces, not commas", f"write `{word[:-1]} …` (commas separate codes only)"
        if not _SUBJECT.match(word):
            return (
                f"`{word}` is not a subject",
                "subjects are names such as `kind.hotline` or `encryption.no_keys`, separated by spaces"
                " (commas separate codes only), then `—` and the reason",
            )
    return "not a `lint: allow` directive", _USAGE


def directives(source: Source) -> tuple[list[Directive], list[Diagnostic]]:
    """The ``# lint: allow`` comments of one file, and diagnostics for malformed ones."""
    found: list[Directive] = []
    problems: list[Diagnostic] = []
    for offset, body in comments(source.text):
        m = _DIRECTIVE.match(body)
        if m is None:
            continue
        span = Span(source, offset, offset + 1 + len(body))
        a = _ALLOW.match(m.group("body"))
        if a is None:
            label, hint = _unreadable(m.group("body"))
            problems.append(Diagnostic("PE409", "this lint directive cannot be read", span, hint=hint, label=label))
            continue
        codes = tuple(c.strip().upper() for c in a.group("codes").split(","))
        bad = [c for c in codes if c not in ALLOWABLE]
        if bad:
            problems.append(
                Diagnostic(
                    "PE409",
                    f"`{bad[0]}` is not a lint code that can be allowed",
                    span,
                    hint=f"lint codes: {one_of(ALLOWABLE)}",
                )
            )
            continue
        reason = (a.group("reason") or "").strip()
        if not reason:
            problems.append(
                Diagnostic(
                    "PE409",
                    "this lint directive gives no reason",
                    span,
                    hint="say why the finding is deliberate after a dash: `# lint: allow PE402 — the reason`",
                    label="reason missing",
                )
            )
            continue
        line, _ = source.line_col(offset)
        before = source.line_text(line)[: source.line_col(offset)[1] - 1]
        target = line if before.strip() else _code_line(source, line)
        # Several subjects share one reason (`# lint: allow PE407 data.a data.b — why`).
        found.append(Directive(codes, tuple(a.group("subjects").split()), reason, span, target))
    return found, problems


# --- the checks ---------------------------------------------------------------------------


@dataclass
class _Context:
    compiled: CompiledPolicy
    space: DemandSpace
    meter: Meter | None = None
    rule_names: dict[str, ast.Ident] = field(default_factory=dict)  # qualified → name ident
    principle_names: dict[str, ast.Ident] = field(default_factory=dict)
    enum_values: dict[tuple[str, str], ast.Ident] = field(default_factory=dict)
    _hits: dict[int, list[tuple[int, int, tuple[int, ...]]]] | None = None

    @property
    def policy_set(self) -> PolicySet:
        return self.compiled.policy_set

    def rule_span(self, rule: RuleModel) -> Span:
        ident = self.rule_names.get(rule.qualified)
        return ident.span if ident is not None else rule.span

    def hits(self) -> dict[int, list[tuple[int, int, tuple[int, ...]]]]:
        """Rule index → (block, part, leaves of that part where it matches), computed once.

        A rule's tests all lie in one part of a block, so the cells where it
        matches are exactly those leaves combined with any leaf of the other
        parts: the checks below reason on parts and never build the product.
        """
        if self._hits is None:
            out: dict[int, list[tuple[int, int, tuple[int, ...]]]] = defaultdict(list)
            for b, block in enumerate(self.space.blocks):
                for p, part in enumerate(block.parts):
                    found: dict[int, list[int]] = defaultdict(list)
                    for n, leaf in enumerate(part):
                        for i in leaf.verdicts[0][0]:
                            found[i].append(n)
                    for i, leaves in found.items():
                        out[i].append((b, p, tuple(leaves)))
            self._hits = dict(out)
        return self._hits


def _index(ctx: _Context) -> None:
    for f in ctx.policy_set.files:
        for decl in f.declarations:
            if isinstance(decl, ast.Principle):
                ctx.principle_names.setdefault(decl.name.name, decl.name)
                for rule in decl.rules:
                    ctx.rule_names.setdefault(f"{decl.name.name}.{rule.name.name}", rule.name)
            elif isinstance(decl, ast.Vocabulary):
                for enum in decl.enums:
                    for v in enum.values:
                        ctx.enum_values.setdefault((enum.name.name, v.name.name), v.name)


def _jurisdictions(codes: Iterable[str], limit: int = 6) -> str:
    items = sorted(codes)
    shown = ", ".join(f"`{c}`" for c in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _example(cell: Cell) -> str:
    where = f"`{cell.jurisdictions.codes[0]}`"
    if not cell.demand:
        return f"any such demand in {where}"
    return f"in {where} with {', '.join(c.describe() for c in cell.demand)}"


def _satisfiable(ctx: _Context, rule: RuleModel) -> bool:
    """Whether some values of the attributes (loaded jurisdictions or not) make the rule's condition true."""
    attributes: dict[str, AttributeType] = {
        a.dotted: a for a in ctx.policy_set.vocabulary.attributes.values() if a.testable and a.kind is not Kind.CODE
    }
    code = ctx.policy_set.vocabulary.attributes.get("jurisdiction.code")
    if code is not None:
        # Codes are split over the loaded jurisdictions by the partition itself.
        attributes[code.dotted] = AttributeType(
            code.scope, code.name, Kind.ENUM, values=tuple(ctx.policy_set.jurisdictions), builtin=True
        )
    return any(v[0][0] for _, v in joint_split([[(0, lower(rule.condition))]], attributes, ctx.meter))


def check_never_matches(ctx: _Context) -> list[Finding]:
    """PE401: a rule whose condition is true for no jurisdiction and no demand."""
    matching = ctx.hits()
    unknown = {i for block in ctx.space.blocks for part in block.parts for leaf in part for i in leaf.verdicts[0][1]}
    out = []
    for i, rule in enumerate(ctx.policy_set.rules):
        if matching.get(i):
            continue
        if i in unknown:
            hint = "its condition is never true, only unknown: it needs a value that is unknown wherever the rest of it holds"
        elif _satisfiable(ctx, rule):
            hint = "no loaded jurisdiction has the attribute values it asks for; check its jurisdiction tests and thresholds"
        else:
            hint = "its tests exclude each other for every demand; did you mean `or`, or other values?"
        out.append(
            Finding(
                Diagnostic(
                    "PE401", f"rule `{rule.qualified}` never matches any jurisdiction or demand", ctx.rule_span(rule), hint=hint
                ),
                rule.qualified,
            )
        )
    return out


def _leaf_severity(rules: tuple[RuleModel, ...], leaf: Leaf) -> int:
    """The severity of the most severe rule matching in a leaf (-1: none)."""
    return max((SEVERITY[rules[k].outcome] for k in leaf.verdicts[0][0]), default=-1)


def check_never_decides(ctx: _Context) -> list[Finding]:
    """PE402: a rule that matches somewhere, but everywhere it does a more severe rule matches too.

    Worked out on the parts of each block: a cell's outcome is its most
    severe match, so the rule decides in a block when one of its own leaves
    has nothing more severe and every other part has a leaf with nothing
    more severe either.  Which stronger rules match in *every* cell where it
    matches, and in how many, follow part by part the same way.
    """
    rules = ctx.policy_set.rules
    blocks = ctx.space.blocks
    top_level = max(SEVERITY.values())
    # Per (block, part): the least severity of a leaf's most severe match.
    weakest = {
        (b, p): min(_leaf_severity(rules, leaf) for leaf in part)
        for b, block in enumerate(blocks)
        for p, part in enumerate(block.parts)
    }
    out = []
    for i, hits in sorted(ctx.hits().items()):
        severity = SEVERITY[rules[i].outcome]
        if severity == top_level:
            continue
        decides = any(
            any(_leaf_severity(rules, blocks[b].parts[p][n]) <= severity for n in leaves)
            and all(weakest[(b, q)] <= severity for q in range(len(blocks[b].parts)) if q != p)
            for b, p, leaves in hits
        )
        if decides:
            continue
        common: set[int] | None = None
        counts: dict[int, int] = defaultdict(int)
        for b, p, leaves in hits:
            parts = blocks[b].parts
            sizes = [len(leaves) if q == p else len(part) for q, part in enumerate(parts)]
            cells = math.prod(sizes)
            here: set[int] = set()
            for q, part in enumerate(parts):
                chosen = [part[n] for n in leaves] if q == p else list(part)
                tally: dict[int, int] = defaultdict(int)
                always: set[int] | None = None
                for leaf in chosen:
                    stronger = {k for k in leaf.verdicts[0][0] if SEVERITY[rules[k].outcome] > severity}
                    always = stronger if always is None else always & stronger
                    for k in stronger:
                        tally[k] += 1
                here |= always or set()
                for k, n in tally.items():
                    counts[k] += n * (cells // sizes[q])
            common = here if common is None else common & here
        rule = rules[i]
        if common:
            k = min(common)
            others = f" (and {len(common) - 1} more)" if len(common) > 1 else ""
            msg = (
                f"rule `{rule.qualified}` never decides: wherever it matches, `{rules[k].qualified}`{others} "
                f"also matches and {rules[k].outcome} outranks {rule.outcome}"
            )
        else:
            top = sorted(counts, key=lambda k: (-counts[k], k))[:3]
            names = ", ".join(f"`{rules[k].qualified}`" for k in top)
            msg = f"rule `{rule.qualified}` never decides: wherever it matches, a more severe rule matches too ({names})"
        out.append(
            Finding(
                Diagnostic(
                    "PE402",
                    msg,
                    ctx.rule_span(rule),
                    hint="it only ever appears as outranked; narrow the other rule, change this one, or mark it deliberate",
                ),
                rule.qualified,
            )
        )
    return out


def check_duplicate_rules(ctx: _Context) -> list[Finding]:
    """PE403: two rules with the same outcome that match exactly the same (jurisdiction, demand) pairs."""
    rules = ctx.policy_set.rules
    blocks = ctx.space.blocks
    # The cells where a rule matches, block by block: the whole block when it
    # matches in every leaf of its part, else its part and those leaves.
    groups: dict[tuple[str, tuple[object, ...]], list[int]] = defaultdict(list)
    for i, hits in ctx.hits().items():
        key = tuple((b, "all") if len(leaves) == len(blocks[b].parts[p]) else (b, p, leaves) for b, p, leaves in hits)
        groups[(rules[i].outcome, key)].append(i)
    out = []
    for (outcome, _), members in groups.items():
        first = rules[min(members)]
        for i in sorted(members)[1:]:
            out.append(
                Finding(
                    Diagnostic(
                        "PE403",
                        f"rule `{rules[i].qualified}` duplicates `{first.qualified}`: "
                        f"both {outcome} on exactly the same demands in the same jurisdictions",
                        ctx.rule_span(rules[i]),
                        hint=f"`{first.qualified}` is at {first.span.short_location()}; keep one, or make them differ",
                    ),
                    rules[i].qualified,
                )
            )
    return out


def check_uncovered(ctx: _Context) -> list[Finding]:
    """PE404: demands that no rule decides (they fall through to the default), one finding per kind.

    Counted on the parts of each block: a cell is uncovered when each of its
    leaves matches nothing, so a block has the product of its parts' empty
    leaves uncovered, and the first empty leaf of each part is an example.
    """
    ps = ctx.policy_set
    total: dict[str, int] = defaultdict(int)
    uncovered: dict[str, int] = defaultdict(int)
    unknown: dict[str, int] = defaultdict(int)
    codes: dict[str, set[str]] = defaultdict(set)
    example: dict[str, Cell] = {}
    split: dict[str, bool] = defaultdict(bool)
    for block in ctx.space.blocks:
        kind = block.kind
        total[kind] += block.size()
        empty = [[leaf for leaf in part if not leaf.verdicts[0][0]] for part in block.parts]
        n = math.prod(len(e) for e in empty)
        if not n:
            continue
        uncovered[kind] += n
        unknown[kind] += n - math.prod(sum(1 for leaf in e if not leaf.verdicts[0][1]) for e in empty)
        codes[kind].update(block.jurisdictions.codes)
        example.setdefault(kind, block.cell(ps, [e[0] for e in empty]))
        split[kind] = split[kind] or bool(block.prefix) or any(leaf.assigned for e in empty for leaf in e)
    out = []
    for kind in ctx.space.kinds:
        if not uncovered.get(kind):
            continue
        ident = ctx.enum_values.get(("kind", kind))
        if ident is None:
            continue
        n_j = len(ps.jurisdictions)
        if uncovered[kind] == total[kind] and not split[kind] and len(codes[kind]) == n_j:
            msg = f"no rule decides `{kind}` demands: in every jurisdiction they fall through to the default (negotiate)"
        else:
            where = "every jurisdiction" if len(codes[kind]) == n_j else f"{len(codes[kind])} of {n_j} jurisdictions"
            msg = (
                f"some `{kind}` demands fall through to the default (negotiate) in {where}: "
                f"{uncovered[kind]} of {total[kind]} classes, e.g. {_example(example[kind])}"
            )
        if unknown[kind]:
            msg += f" ({unknown[kind]} of them because a value is unknown)"
        out.append(
            Finding(
                Diagnostic(
                    "PE404",
                    msg,
                    ident.span,
                    hint=f"write a rule that decides them or, if that is deliberate: `# lint: allow PE404 kind.{kind} — why`",
                ),
                f"kind.{kind}",
            )
        )
    return out


def check_jurisdiction_specific(ctx: _Context) -> list[Finding]:
    """PE405: jurisdictions that rules cannot tell apart by their attributes but decide differently,
    because a rule tests ``jurisdiction.code``.  Listed for review, one finding per such rule.

    Jurisdiction classes with the same attribute signature (a *family*) differ
    only by code tests.  The rules of all classes of a family are split
    jointly, so every leaf is a class of demands that none of them tells
    apart; where the outcomes in a leaf differ, the rules that match in some
    classes of the family and not in others are the reason.
    """
    ps = ctx.policy_set
    lowered = [lower(r.model.condition) for r in ctx.compiled.rules]
    attributes = demand_attributes(ctx.compiled)
    families: dict[tuple[bool | None, ...], list[JurisdictionClass]] = defaultdict(list)
    for jc in ctx.space.jurisdiction_classes:
        families[jc.attribute_signature].append(jc)
    # rule → [(codes where it matched, codes decided otherwise, kind, outcome where matched, outcome elsewhere)]
    seen: dict[int, list[tuple[set[str], set[str], str, str, str]]] = defaultdict(list)
    for family in families.values():
        if len(family) < 2:
            continue
        for kind in ctx.space.kinds:
            sides = [candidates(ctx.compiled, lowered, j.representative, kind) for j in family]
            # Only the classes where the family's outcomes differ (the parts that
            # cannot make a difference are never combined).
            for leaves in (
                leaves
                for _, parts in split_regions(sides, attributes, ctx.meter)
                for leaves in differing(parts, [ps] * len(sides), ctx.meter)
            ):
                _, verdicts = combine(leaves)
                outcomes = [verdict_outcome(ps, v)[0] for v in verdicts]
                matched = [set(v[0]) for v in verdicts]
                for i in sorted(set().union(*matched) - matched[0].intersection(*matched[1:])):
                    here = [n for n, m in enumerate(matched) if i in m]
                    mine = outcomes[here[0]]
                    there = [n for n in range(len(family)) if outcomes[n] != mine]
                    if not there:
                        continue
                    seen[i].append(
                        (
                            {c for n in here for c in family[n].codes},
                            {c for n in there for c in family[n].codes},
                            kind,
                            mine,
                            outcomes[there[0]],
                        )
                    )
    out = []
    for i, diffs in sorted(seen.items()):
        rule = ps.rules[i]
        _, _, kind, mine, theirs = diffs[0]
        singled = {c for d in diffs for c in d[0]}
        others = {c for d in diffs for c in d[1]} - singled
        kinds = sorted({d[2] for d in diffs})
        more = f" (and {len(kinds) - 1} more kinds)" if len(kinds) > 1 else ""
        out.append(
            Finding(
                Diagnostic(
                    "PE405",
                    f"rule `{rule.qualified}` decides {_jurisdictions(singled)} unlike {_jurisdictions(others)}, which the rules "
                    f"cannot otherwise tell apart from it: `{kind}` demands get {mine} there, {theirs} in the others{more}",
                    ctx.rule_span(rule),
                    hint="a rule that names jurisdictions should say why in its `because`; review it, then mark it deliberate",
                ),
                rule.qualified,
            )
        )
    return out


def check_empty_principles(ctx: _Context) -> list[Finding]:
    """PE406: a principle with no rules decides nothing."""
    with_rules = {r.principle for r in ctx.policy_set.rules}
    out = []
    for pid, (_, span) in ctx.policy_set.principles.items():
        if pid in with_rules:
            continue
        ident = ctx.principle_names.get(pid)
        out.append(
            Finding(
                Diagnostic(
                    "PE406",
                    f"principle `{pid}` has no rules, so it decides nothing",
                    ident.span if ident is not None else span,
                    hint="add rules that encode it, or remove it",
                ),
                pid,
            )
        )
    return out


def _mentioned_values(ps: PolicySet) -> set[tuple[str, Value]]:
    """(enumeration, value) pairs that a rule tests or that a demand, jurisdiction, default or test uses."""
    voc = ps.vocabulary
    out: set[tuple[str, Value]] = set()

    def note(attr: AttributeType | None, value: Value) -> None:
        if attr is not None and attr.kind is Kind.ENUM and attr.enum is not None:
            out.add((attr.enum, value))

    for rule in ps.rules:
        for node in ast.walk_condition(rule.condition):
            if isinstance(node, ast.Comparison):
                note(voc.attributes.get(node.ref.dotted), literal_value(node.value))
            elif isinstance(node, ast.Membership):
                for lit in node.values:
                    note(voc.attributes.get(node.ref.dotted), literal_value(lit))
    for attr in voc.attributes.values():
        if attr.has_default:
            note(attr, attr.default)
    for j in ps.jurisdictions.values():
        for k, v in j.attrs.items():
            note(voc.attribute("jurisdiction", k), v)
        for d in j.demands:
            for k, v in d.attrs.items():
                note(voc.attribute("demand", k), v)
    for t in ps.tests:
        for exp in t.expectations:
            if isinstance(exp, ast.InlineExpectation):
                for asg in exp.assignments:
                    note(voc.attribute("demand", asg.name.name), literal_value(asg.value))
    return out


def check_unused_values(ctx: _Context) -> list[Finding]:
    """PE407: enumeration values that no rule tests and no demand, jurisdiction or test uses."""
    used = _mentioned_values(ctx.policy_set)
    typed = {a.enum for a in ctx.policy_set.vocabulary.attributes.values() if a.kind is Kind.ENUM}
    out = []
    for enum, values in ctx.policy_set.vocabulary.enums.items():
        if enum not in typed:
            continue
        for value in values:
            ident = ctx.enum_values.get((enum, value))
            # The standard vocabulary is not the author's to edit: only a set's own values count.
            if (enum, value) in used or ident is None or ident.span.path.startswith(PRELUDE_PREFIX):
                continue
            out.append(
                Finding(
                    Diagnostic(
                        "PE407",
                        f"`{enum}` value `{value}` is never used: no rule tests it and no demand or test has it",
                        ident.span,
                        hint=f"write the rule or test it calls for, or mark it: `# lint: allow PE407 {enum}.{value} — why`",
                    ),
                    f"{enum}.{value}",
                )
            )
    return out


def _expectation_key(ps: PolicySet, exp: ast.Expectation) -> tuple[object, ...]:
    if isinstance(exp, ast.MarketExpectation):
        return ("market", exp.jurisdiction.name, exp.outcome)
    by = exp.decided_by
    by_key = None if by is None else "default" if by.is_default else f"{by.principle.name}.{by.rule.name}"  # type: ignore[union-attr]
    if isinstance(exp, ast.StandingExpectation):
        return ("standing", exp.jurisdiction.name, exp.demand.name, exp.outcome, by_key)
    attrs: dict[str, Value] = {a.name: a.default for a in ps.vocabulary.scoped("demand") if a.has_default}
    attrs.update((a.name.name, literal_value(a.value)) for a in exp.assignments)
    return ("inline", exp.jurisdiction.name, tuple(sorted(attrs.items(), key=lambda kv: kv[0])), exp.outcome, by_key)


def check_duplicate_tests(ctx: _Context) -> list[Finding]:
    """PE408: a test that checks nothing another test does not already check."""
    ps = ctx.policy_set
    keyed = [(t, frozenset(_expectation_key(ps, e) for e in t.expectations)) for t in ps.tests]
    out = []
    for n, (t, keys) in enumerate(keyed):
        if not keys:
            continue
        for m, (other, other_keys) in enumerate(keyed):
            if m == n or not keys <= other_keys or (keys == other_keys and m > n):
                continue
            same = "checks exactly what" if keys == other_keys else "checks nothing that"
            tail = "does" if keys == other_keys else "does not already check"
            out.append(
                Finding(
                    Diagnostic(
                        "PE408",
                        f'test "{t.description.value}" {same} test "{other.description.value}" {tail}',
                        t.description.span,
                        hint=f"the other test is at {other.description.span.location()}; merge them or test something new",
                    )
                )
            )
            break
    return out


def check_contradictory_actions(ctx: _Context) -> list[Finding]:
    """PE412: two things a `conflict` declaration says contradict, both in one decision
    (:mod:`policyengine.analysis.conflicts`)."""
    from .conflicts import contradictions

    return [Finding(d, subject) for d, subject in contradictions(ctx.compiled, ctx.meter)]


#: The checks, in the order they run (each reads only the context, so any order gives the same
#: findings), with the code each reports.  The first five read the demand space: when the
#: analysis stops at its budget they are not made (or their findings are dropped), since a
#: partial space would turn "not seen yet" into "never".
CHECKS: tuple[tuple[str, str, Callable[[_Context], list[Finding]]], ...] = (
    ("never-matches", "PE401", check_never_matches),
    ("never-decides", "PE402", check_never_decides),
    ("duplicate-rule", "PE403", check_duplicate_rules),
    ("uncovered-demands", "PE404", check_uncovered),
    ("jurisdiction-specific", "PE405", check_jurisdiction_specific),
    ("empty-principle", "PE406", check_empty_principles),
    ("unused-value", "PE407", check_unused_values),
    ("duplicate-test", "PE408", check_duplicate_tests),
    ("contradictory-actions", "PE412", check_contradictory_actions),
)
SPACE_CODES = ("PE401", "PE402", "PE403", "PE404", "PE405", "PE412")


def _incomplete(ctx: _Context, stop: BudgetExceeded, skipped: Sequence[str]) -> Diagnostic:
    """PE411, at the rule whose part of the space was being built (else the first rule, else the first file)."""
    rules = ctx.policy_set.rules
    rule = rules[stop.rule] if stop.rule is not None else (rules[0] if rules else None)
    if rule is not None:
        span = ctx.rule_span(rule)
        where = f", in the part of the demand space that rule `{rule.qualified}` tests" if stop.rule is not None else ""
    else:
        span = Span(ctx.policy_set.sources[0], 0, 0)
        where = ""
    return Diagnostic(
        "PE411",
        f"analysis incomplete: {stop.detail}{where}; {', '.join(skipped)} were not checked, so their absence "
        "does not mean the policy set is clean",
        span,
        hint=stop.hint,
        label="analysis stopped here",
    )


def lint(compiled: CompiledPolicy, space: DemandSpace | None = None, budget: Budget | None = None) -> LintReport:
    """Run every check over ``compiled`` and apply the ``# lint: allow`` directives of its files.

    The checks that read the demand space share one :class:`Budget` (the
    default one unless given); past it they stop, and the report says so
    with PE411 and ``incomplete`` instead of looking clean.
    """
    meter = (budget if budget is not None else Budget()).start()
    space = space if space is not None else demand_space(compiled, meter)
    ctx = _Context(compiled, space, meter)
    _index(ctx)
    findings: list[Finding] = []
    stop = space.incomplete
    skipped: list[str] = []
    for _name, code, check in CHECKS:
        if code in SPACE_CODES and stop is not None:
            skipped.append(code)
            continue
        try:
            findings.extend(check(ctx))
        except BudgetExceeded as exceeded:
            stop = exceeded
            skipped.append(code)
    marks: list[Directive] = []
    problems: list[Diagnostic] = []
    for source in compiled.policy_set.sources:
        if source.path.startswith(PRELUDE_PREFIX):
            continue
        found, bad = directives(source)
        marks.extend(found)
        problems.extend(bad)
    shown: list[Diagnostic] = []
    allowed: list[tuple[Diagnostic, Directive]] = []
    for f in findings:
        mark = next((d for d in marks if d.covers(f)), None)
        if mark is None:
            shown.append(f.diagnostic)
        else:
            mark.used.add(f.subject if mark.subjects else None)
            allowed.append((f.diagnostic, mark))
    for d in marks:
        # A directive for a check that was not made may well allow something.
        if set(d.codes) & set(skipped):
            continue
        for subject in d.subjects or (None,):
            if subject in d.used:
                continue
            codes = "/".join(d.codes)
            if len(d.subjects) > 1:
                message = f"`{subject}` in this lint directive allows nothing: no {codes} finding about it"
                hint = f"remove `{subject}` from it: what it allowed is gone, or the subject is misspelled"
            elif subject:
                message = f"this lint directive allows nothing: no {codes} finding about `{subject}`"
                hint = "remove it: what it allowed is gone, or the subject is misspelled"
            else:
                message = f"this lint directive allows nothing: no {codes} finding about line {d.line}"
                hint = "remove it, or move it to the line just before what it is about"
            problems.append(Diagnostic("PE410", message, d.span, hint=hint))
    if stop is not None:
        problems.append(_incomplete(ctx, stop, skipped))
    shown.extend(problems)
    allowed.sort(key=lambda pair: pair[0].sort_key())
    return LintReport(tuple(sorted_diagnostics(shown)), tuple(allowed), space, stop)
