"""The market rule: a jurisdiction's standing-demand decisions → one market outcome.

Stage contract: :func:`counts` says whether a standing demand weighs on the
market on a date (in force then, and made of this platform or of all
platforms) and, when it does not, why; :func:`market_outcome` is a pure
function of a jurisdiction, the decisions of its standing demands (made by
:mod:`~policyengine.evaluation.decide`) and that date.  Neither reads a rule
nor raises.  docs/semantics.md ("The market") is the long form.
"""

from __future__ import annotations

import datetime

from ..language.model import DemandModel, JurisdictionModel
from .decision import ContextDemand, Decision, MarketDecision, Outcome, build_context, build_market
from .requests import parse_date

#: What a status that is not (or no longer) law is shown as, when no date says more.
_STATUS_WORDS = {"proposed": "proposed, not law", "suspended": "suspended", "lifted": "lifted", "overturned": "overturned"}
#: Statuses that end on the `lifted` date: before it, the demand was in force.
_ENDED = ("lifted", "overturned")


def counts(demand: DemandModel, as_of: datetime.date) -> str | None:
    """None when ``demand`` counts for the market on ``as_of``; else the reason it is context.

    A demand counts when it is addressed to this platform or to all platforms
    (unknown counts: the cautious side), was issued on or before ``as_of``
    (unknown counts), and was in force that day: its status is ``in_force``
    (or unknown) and its ``lifted`` date, if any, is after ``as_of``.  A
    demand ``lifted`` or ``overturned`` on a known date was in force before
    it, so evaluating as of an earlier date counts it.
    """
    attrs = demand.attrs
    if attrs.get("addressee") == "other_platform":
        return "made of another platform"
    issued = parse_date(attrs.get("issued"))
    if issued is not None and issued > as_of:
        return f"issued after {as_of.isoformat()}"
    status = attrs.get("status")
    lifted = parse_date(attrs.get("lifted"))
    if status in _ENDED and lifted is not None:
        return None if lifted > as_of else f"{status} {lifted.isoformat()}"
    if isinstance(status, str) and status in _STATUS_WORDS:
        return _STATUS_WORDS[status]
    if lifted is not None and lifted <= as_of:
        return f"lifted {lifted.isoformat()}"
    return None


def _mandatory(demands: dict[str, DemandModel], decision: Decision) -> bool:
    found = demands.get(decision.demand or "")
    return found is not None and found.attrs.get("mandatory") is True


def market_outcome(j: JurisdictionModel, decisions: tuple[Decision, ...], version: str, as_of: datetime.date) -> MarketDecision:
    """The market rule, over the standing demands that count on ``as_of`` (:func:`counts`):

    * withdraw when a *mandatory* counted demand is decided withdraw: the
      platform cannot stay without breaking either the law or its principles;
    * otherwise negotiate when any counted demand is decided negotiate or
      withdraw (a refusable demand that the platform refuses);
    * otherwise comply (every counted demand complied with, or none counts).

    The demands that do not count are listed as context, with the reason.
    """
    demands = {d.id: d for d in j.demands}
    counted: list[Decision] = []
    context: list[ContextDemand] = []
    for decision in decisions:
        ident = decision.demand or ""
        why = counts(demands[ident], as_of) if ident in demands else None
        if why is None:
            counted.append(decision)
        else:
            context.append(build_context(demand=ident, reason=why))
    forced = [
        d.demand or ""
        for d in counted
        if d.outcome is Outcome.WITHDRAW and demands[d.demand or ""].attrs.get("mandatory") is True
    ]
    if forced:
        outcome, decisive = Outcome.WITHDRAW, forced
        names = ", ".join(f"`{i}`" for i in forced)
        why_text = f"the mandatory demand{'s' if len(forced) > 1 else ''} {names} cannot be reconciled with the principles"
    else:
        open_ = [d.demand or "" for d in counted if d.outcome is not Outcome.COMPLY]
        if open_:
            outcome, decisive = Outcome.NEGOTIATE, open_
            many = len(open_) > 1
            names = ", ".join(f"`{i}`" for i in open_)
            why_text = f"{len(open_)} standing demand{'s' if many else ''} need{'' if many else 's'} review or refusal: {names}"
        elif counted:
            outcome, decisive = Outcome.COMPLY, []
            why_text = "every standing demand can be complied with"
        elif decisions:
            outcome, decisive = Outcome.COMPLY, []
            why_text = f"no standing demand in force on {as_of.isoformat()} is made of this platform"
        else:
            outcome, decisive = Outcome.COMPLY, []
            why_text = "no standing demands"
    if context:
        why_text += f" ({len(context)} not counted, listed as context)"
    return build_market(
        jurisdiction=j.code,
        name=j.name,
        outcome=outcome,
        summary=f"{outcome.value}: {why_text}",
        decisive=tuple(decisive),
        decisions=decisions,
        jurisdiction_chain=j.chain,
        policy_version=version,
        as_of=as_of,
        counted=tuple(d.demand or "" for d in counted),
        context=tuple(context),
    )
