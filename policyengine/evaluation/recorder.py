"""The journal as the engine sees it: a :class:`DecisionRecorder`.

Stage contract: evaluation cannot import the journal (a layer above it), so
it names what it needs of one here, and :class:`policyengine.journal.Journal`
satisfies it.  :func:`journaled` records a decision and returns the copy that
carries its ``decision_id``; the memoised original is never changed, so every
caller keeps sharing it.  A recorder that fails raises, and the decision is
not returned (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .decision import Decision, MarketDecision


@runtime_checkable
class DecisionRecorder(Protocol):
    """Something that records decisions and gives each an id."""

    def record(self, request: Mapping[str, Any], decision: Decision, *, policy_version: str) -> str: ...

    def record_many(self, items: Sequence[tuple[Mapping[str, Any], Decision]], *, policy_version: str) -> list[str]: ...


def _input(decision: Decision) -> dict[str, Any]:
    return {"jurisdiction": decision.jurisdiction, "demand": decision.request}


def journaled(recorder: DecisionRecorder, request: Any, decision: Decision) -> Decision:
    """Record one decision; the copy with its ``decision_id``."""
    given = request if isinstance(request, Mapping) else _input(decision)
    decision_id = recorder.record(given, decision, policy_version=decision.policy_version)
    return decision.model_copy(update={"decision_id": decision_id})


def journaled_many(recorder: DecisionRecorder, decisions: Sequence[Decision]) -> list[Decision]:
    """Record a batch in one go; the copies with their ids, in order."""
    if not decisions:
        return []
    version = decisions[0].policy_version
    ids = recorder.record_many([(_input(d), d) for d in decisions], policy_version=version)
    return [d.model_copy(update={"decision_id": i}) for d, i in zip(decisions, ids, strict=True)]


def journaled_market(recorder: DecisionRecorder, market: MarketDecision) -> MarketDecision:
    """Record every standing-demand decision of a market; the market with their ids."""
    return market.model_copy(update={"decisions": tuple(journaled_many(recorder, list(market.decisions)))})
