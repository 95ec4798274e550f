"""The exact impact of a policy change: which decisions move, for whom, and why.

Stage contract: :func:`diff_engines` takes two loaded engines (before, after)
and returns a :class:`PolicyDiff`.  It never raises on valid policy sets.
:func:`git_revision` materialises a directory as it was at a git revision
(through ``git archive``, no shell) and raises :class:`GitError` with git's
own words when that is impossible.

Exactness: the two rule sets are split *jointly* over the demand space
(:func:`policyengine.analysis.joint_split`), so each leaf is a class of
demands that neither version can tell apart; comparing one representative
per leaf compares every demand.  Jurisdictions are grouped by the pair (class
before, class after), so a jurisdiction whose score changed, or one that a
threshold moved across, lands in its own group.  The demand space compared
is the one both vocabularies share; vocabulary changes are listed
separately.
"""

from __future__ import annotations

import datetime
import io
import os
import subprocess
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PolicyEngineError
from ..language.model import AttributeType, Kind, PolicySet
from .budget import Budget, BudgetExceeded
from .space import (
    ValueClass,
    candidates,
    combine,
    differing,
    jurisdiction_classes,
    kind_values,
    lower,
    split_regions,
    verdict_outcome,
)

if TYPE_CHECKING:
    from ..evaluation.decision import Decision
    from ..evaluation.engine import Engine


@dataclass(frozen=True)
class Verdict:
    """What one version decides: the outcome and the deciding rules (none: the default applied)."""

    outcome: str
    rules: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.outcome} ({', '.join(self.rules) if self.rules else 'default'})"

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "decided_by": list(self.rules), "default_applied": not self.rules}


@dataclass(frozen=True)
class ClassChange:
    """A class of demands, in some jurisdictions, whose outcome changes."""

    jurisdictions: tuple[str, ...]
    kind: str
    demand: tuple[ValueClass, ...]  # the other attributes (any value for those not listed)
    before: Verdict
    after: Verdict

    def describe_demand(self) -> str:
        return ", ".join([f"kind = {self.kind}", *(c.describe() for c in self.demand)])

    def to_json(self) -> dict[str, Any]:
        return {
            "jurisdictions": list(self.jurisdictions),
            "kind": self.kind,
            "demand": self.describe_demand(),
            "attributes": [c.to_json() for c in self.demand],
            "before": self.before.to_json(),
            "after": self.after.to_json(),
        }


@dataclass(frozen=True)
class StandingChange:
    """A standing demand whose decision changes (None: the demand does not exist on that side)."""

    jurisdiction: str
    demand: str
    before: Verdict | None
    after: Verdict | None

    def to_json(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.jurisdiction,
            "demand": self.demand,
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
        }


@dataclass(frozen=True)
class MarketChange:
    jurisdiction: str
    before: str | None  # None: the jurisdiction does not exist on that side
    after: str | None

    def to_json(self) -> dict[str, Any]:
        return {"jurisdiction": self.jurisdiction, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class PolicyDiff:
    before_version: str
    after_version: str
    changes: tuple[ClassChange, ...]
    standing: tuple[StandingChange, ...]
    markets: tuple[MarketChange, ...]
    jurisdictions_added: tuple[str, ...]
    jurisdictions_removed: tuple[str, ...]
    rules_added: tuple[str, ...]
    rules_removed: tuple[str, ...]
    rules_changed: tuple[str, ...]
    vocabulary: tuple[str, ...]  # notes on what the two vocabularies do not share
    #: Set when the comparison stopped at its budget (``analysis incomplete: …``): the changes
    #: listed are real, but others may be missing.
    incomplete: str | None = None
    incomplete_hint: str | None = None
    as_of: datetime.date | None = None  # the day standing demands and markets were compared on

    @property
    def decisions_changed(self) -> bool:
        """Whether any decision differs: a class, a standing demand, a market or a jurisdiction."""
        return bool(self.changes or self.standing or self.markets or self.jurisdictions_added or self.jurisdictions_removed)

    def summary(self) -> list[str]:
        """One line per (kind, before, after): ``12 jurisdictions: `user_data` from negotiate to comply``."""
        groups: dict[tuple[str, str, str], tuple[set[str], list[ClassChange]]] = {}
        for c in self.changes:
            codes, members = groups.setdefault((c.kind, c.before.outcome, c.after.outcome), (set(), []))
            codes.update(c.jurisdictions)
            members.append(c)
        lines = []
        for (kind, before, after), (codes, members) in groups.items():
            n = len(codes)
            lines.append(
                f"{n} jurisdiction{'' if n == 1 else 's'}: `{kind}` from {before} to {after}"
                f" ({len(members)} demand class{'' if len(members) == 1 else 'es'}): {_codes(codes)}"
            )
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "before_version": self.before_version,
            "after_version": self.after_version,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "decisions_changed": self.decisions_changed,
            "summary": self.summary(),
            "changes": [c.to_json() for c in self.changes],
            "standing": [s.to_json() for s in self.standing],
            "markets": [m.to_json() for m in self.markets],
            "jurisdictions_added": list(self.jurisdictions_added),
            "jurisdictions_removed": list(self.jurisdictions_removed),
            "rules": {"added": list(self.rules_added), "removed": list(self.rules_removed), "changed": list(self.rules_changed)},
            "vocabulary": list(self.vocabulary),
            "incomplete": None if self.incomplete is None else {"message": self.incomplete, "hint": self.incomplete_hint},
        }


def _codes(codes: set[str] | tuple[str, ...], limit: int = 12) -> str:
    items = sorted(codes)
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- vocabulary -------------------------------------------------------------------------


def _shared_attributes(old: PolicySet, new: PolicySet, notes: list[str]) -> dict[str, AttributeType]:
    """The demand attributes to split on: enumerations cut down to the values both sides know."""
    out: dict[str, AttributeType] = {}
    old_attrs = {a.dotted: a for a in old.vocabulary.attributes.values()}
    new_attrs = {a.dotted: a for a in new.vocabulary.attributes.values()}
    for name in sorted(set(old_attrs) | set(new_attrs)):
        a, b = old_attrs.get(name), new_attrs.get(name)
        if a is None and b is not None:
            notes.append(f"attribute `{name}` added")
            if b.scope == "demand":
                out[name] = b
            continue
        if b is None and a is not None:
            notes.append(f"attribute `{name}` removed")
            if a.scope == "demand":
                out[name] = a
            continue
        assert a is not None and b is not None
        if a.kind is not b.kind:
            notes.append(f"attribute `{name}` changed type from {a.type_label} to {b.type_label}; compared as {b.type_label}")
        if a.kind is Kind.ENUM and b.kind is Kind.ENUM:
            added = [v for v in b.values if v not in a.values]
            removed = [v for v in a.values if v not in b.values]
            if added:
                notes.append(f"`{name}` values added: {', '.join(added)} (decisions for them are not compared)")
            if removed:
                notes.append(f"`{name}` values removed: {', '.join(removed)} (decisions for them are not compared)")
            b = AttributeType(**{**b.__dict__, "values": tuple(v for v in b.values if v in a.values)})
        elif a.kind is Kind.NUMBER and b.kind is Kind.NUMBER and (a.lo, a.hi) != (b.lo, b.hi):
            notes.append(f"the range of `{name}` changed; compared over the new range")
        if a.unknown_allowed != b.unknown_allowed:
            notes.append(f"`{name}` {'may now' if b.unknown_allowed else 'may no longer'} be unknown")
        if b.scope == "demand":
            out[name] = b
    return {k: v for k, v in out.items() if v.testable and not v.builtin}


def _rule_changes(old: PolicySet, new: PolicySet) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    a = {r.qualified: r for r in old.rules}
    b = {r.qualified: r for r in new.rules}
    added = tuple(sorted(set(b) - set(a)))
    removed = tuple(sorted(set(a) - set(b)))
    changed = tuple(
        sorted(
            q
            for q in set(a) & set(b)
            if (a[q].outcome, a[q].condition, a[q].because.parts) != (b[q].outcome, b[q].condition, b[q].because.parts)
        )
    )
    return added, removed, changed


# --- decisions -----------------------------------------------------------------------------


def _verdict(decision: Decision) -> Verdict:
    return Verdict(decision.outcome.value, tuple(r.qualified for r in decision.reasons) if not decision.default_applied else ())


def diff_engines(
    before: Engine, after: Engine, budget: Budget | None = None, *, as_of: datetime.date | None = None
) -> PolicyDiff:
    """Every decision that differs between two loaded policy sets; standing demands and markets
    as of ``as_of`` (None: today, UTC), one day for both sides so that only the policy differs.

    The comparison of demand classes runs within ``budget`` (the default
    one unless given); past it, the diff keeps the changes found so far and
    says it is incomplete.  Standing demands, markets and rules are always
    compared in full (there are few of them).
    """
    when = as_of if as_of is not None else datetime.datetime.now(datetime.UTC).date()
    meter = (budget if budget is not None else Budget()).start()
    stop: BudgetExceeded | None = None
    old_c, new_c = before.compiled, after.compiled
    old, new = old_c.policy_set, new_c.policy_set
    notes: list[str] = []
    attributes = _shared_attributes(old, new, notes)
    old_kinds, new_kinds = kind_values(old), kind_values(new)
    kinds = tuple(k for k in new_kinds if k in old_kinds)
    common = [c for c in new.jurisdictions if c in old.jurisdictions]
    added_j = tuple(sorted(set(new.jurisdictions) - set(old.jurisdictions)))
    removed_j = tuple(sorted(set(old.jurisdictions) - set(new.jurisdictions)))

    # Jurisdictions decided alike on both sides are compared once.
    old_class = {c: jc.index for jc in jurisdiction_classes(old_c) for c in jc.codes}
    new_class = {c: jc.index for jc in jurisdiction_classes(new_c) for c in jc.codes}
    groups: dict[tuple[int, int], list[str]] = defaultdict(list)
    for code in common:
        groups[(old_class[code], new_class[code])].append(code)
    old_lowered = [lower(r.model.condition) for r in old_c.rules]
    new_lowered = [lower(r.model.condition) for r in new_c.rules]
    changes: list[ClassChange] = []
    try:
        for codes in sorted(groups.values(), key=lambda cs: sorted(cs)[0]):
            codes = sorted(codes)
            rep = codes[0]
            for kind in kinds:
                sides = [
                    candidates(old_c, old_lowered, old.jurisdictions[rep], kind),
                    candidates(new_c, new_lowered, new.jurisdictions[rep], kind),
                ]
                for prefix, leaves in (
                    (prefix, leaves)
                    for prefix, parts in split_regions(sides, attributes, meter)
                    for leaves in differing(parts, (old, new), meter)
                ):
                    assigned, (va, vb) = combine(leaves)
                    assigned = (*prefix, *assigned)
                    oa, da = verdict_outcome(old, va)
                    ob, db = verdict_outcome(new, vb)
                    changes.append(
                        ClassChange(
                            tuple(codes),
                            kind,
                            tuple(sorted(assigned, key=lambda c: c.attribute)),
                            Verdict(oa, tuple(old.rules[i].qualified for i in da)),
                            Verdict(ob, tuple(new.rules[i].qualified for i in db)),
                        )
                    )
    except BudgetExceeded as exceeded:
        stop = exceeded
    # The same change in several jurisdiction groups (say, EU members and
    # others moved by one threshold) is one change for a reader.
    merged: dict[tuple[object, ...], ClassChange] = {}
    for c in changes:
        key = (c.kind, c.demand, c.before, c.after)
        prev = merged.get(key)
        merged[key] = c if prev is None else ClassChange(tuple(sorted({*prev.jurisdictions, *c.jurisdictions})), *key)
    changes = list(merged.values())
    kind_order = {k: n for n, k in enumerate(kinds)}
    changes.sort(key=lambda c: (kind_order[c.kind], c.jurisdictions[0], c.describe_demand()))

    standing: list[StandingChange] = []
    markets: list[MarketChange] = []
    for code in sorted(common):
        a_ids = {d.id for d in old.jurisdictions[code].demands}
        b_ids = {d.id for d in new.jurisdictions[code].demands}
        for did in sorted(a_ids | b_ids):
            was = _verdict(before.standing(code, did, as_of=when)) if did in a_ids else None
            now = _verdict(after.standing(code, did, as_of=when)) if did in b_ids else None
            if was is None or now is None or was.outcome != now.outcome:
                standing.append(StandingChange(code, did, was, now))
        ma, mb = before.market(code, as_of=when).outcome.value, after.market(code, as_of=when).outcome.value
        if ma != mb:
            markets.append(MarketChange(code, ma, mb))
    markets.extend(MarketChange(c, None, after.market(c, as_of=when).outcome.value) for c in added_j)
    markets.extend(MarketChange(c, before.market(c, as_of=when).outcome.value, None) for c in removed_j)
    markets.sort(key=lambda m: m.jurisdiction)

    rules_added, rules_removed, rules_changed = _rule_changes(old, new)
    return PolicyDiff(
        before.version,
        after.version,
        tuple(changes),
        tuple(standing),
        tuple(markets),
        added_j,
        removed_j,
        rules_added,
        rules_removed,
        rules_changed,
        tuple(notes),
        None if stop is None else f"{stop.message}: more demand classes may change than are listed",
        None if stop is None else stop.hint,
        when,
    )


# --- git ---------------------------------------------------------------------------------------


class GitError(PolicyEngineError):
    """A git revision that cannot be read; the message is git's own, on one line."""

    code = "git"


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False, timeout=120)
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"`git {args[0]}` took more than 2 minutes") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(message[0] if message else f"`git {args[0]}` failed with exit code {proc.returncode}")
    return proc.stdout


@contextmanager
def git_revision(directory: str | os.PathLike[str], revision: str) -> Iterator[Path]:
    """``directory`` as it was at ``revision``, extracted into a temporary directory.

    git runs without a shell and the revision is one argument; one that starts
    with ``-`` is refused so that git cannot take it for an option.  The
    archive is extracted with tarfile's ``data`` filter, which refuses links
    and paths that would land outside the temporary directory.
    """
    if not revision or revision.startswith("-"):
        raise GitError(f"`{revision}` is not a git revision")
    path = Path(directory).resolve()
    if not path.exists():
        raise GitError(f"`{directory}` does not exist")
    base = path if path.is_dir() else path.parent
    top = Path(_git(["rev-parse", "--show-toplevel"], base).decode("utf-8", "surrogateescape").strip())
    try:
        rel = path.relative_to(top.resolve()).as_posix() if path != top.resolve() else "."
    except ValueError:
        raise GitError(f"`{directory}` is not inside the git repository at {top}") from None
    data = _git(["archive", "--format=tar", revision, "--", rel], top)
    with tempfile.TemporaryDirectory(prefix="policyengine-diff-") as tmp:
        links: list[tarfile.TarInfo] = []

        def keep(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
            # A committed symbolic link is recreated as it was, after the
            # files, so that loading the revision applies the loader's link
            # rule to it (followed inside the policy directory, PE007
            # outside) instead of failing the extraction.
            if member.issym():
                links.append(member)
                return None
            return tarfile.data_filter(member, dest)

        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                tar.extractall(tmp, filter=keep)
            for link in links:
                where = Path(tmp, link.name)
                if ".." in Path(link.name).parts or not where.parent.resolve().is_relative_to(Path(tmp).resolve()):
                    raise GitError(f"revision `{revision}` holds a link at `{link.name}`, outside its directory")
                where.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(link.linkname, where)
        except (tarfile.TarError, OSError) as exc:
            raise GitError(f"cannot extract revision `{revision}`: {exc}") from None
        yield Path(tmp) / rel
