"""The market rule: a jurisdiction's standing-demand decisions → one market outcome.

Stage contract: :func:`market_outcome` is a pure function of a jurisdiction
and the decisions of its standing demands (made by
:mod:`~policyengine.evaluation.decide`); it reads no rule and raises nothing.
docs/semantics.md ("The market") is the long form.
"""

from __future__ import annotations

from ..language.model import JurisdictionModel
from .decision import Decision, MarketDecision, Outcome


def market_outcome(j: JurisdictionModel, decisions: tuple[Decision, ...], version: str) -> MarketDecision:
    """The market rule:

    * withdraw when a *mandatory* standing demand is decided withdraw: the
      platform cannot stay without breaking either the law or its principles;
    * otherwise negotiate when any standing demand is decided negotiate or
      withdraw (a refusable demand that the platform refuses);
    * otherwise comply (every standing demand complied with, or none made).
    """
    by_id = {d.demand: d for d in decisions}
    demands = {d.id: d for d in j.demands}
    forced = [i for i, d in by_id.items() if d.outcome is Outcome.WITHDRAW and demands[i or ""].attrs.get("mandatory") is True]
    if forced:
        outcome, decisive = Outcome.WITHDRAW, forced
        names = ", ".join(f"`{i}`" for i in forced)
        why = f"the mandatory demand{'s' if len(forced) > 1 else ''} {names} cannot be reconciled with the principles"
    else:
        open_ = [i for i, d in by_id.items() if d.outcome is not Outcome.COMPLY]
        if open_:
            outcome, decisive = Outcome.NEGOTIATE, open_
            many = len(open_) > 1
            names = ", ".join(f"`{i}`" for i in open_)
            why = f"{len(open_)} standing demand{'s' if many else ''} need{'' if many else 's'} review or refusal: {names}"
        elif decisions:
            outcome, decisive = Outcome.COMPLY, []
            why = "every standing demand can be complied with"
        else:
            outcome, decisive = Outcome.COMPLY, []
            why = "no standing demands"
    return MarketDecision(
        jurisdiction=j.code,
        name=j.name,
        outcome=outcome,
        summary=f"{outcome.value}: {why}",
        decisive=tuple(i or "" for i in decisive),
        decisions=decisions,
        jurisdiction_chain=j.chain,
        policy_version=version,
    )
