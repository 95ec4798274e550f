"""Prometheus metrics of one service process.

Stage contract: :class:`Metrics` owns a :class:`prometheus_client.CollectorRegistry`
of its own (not the process-wide default), so that two applications in one
process, as in the tests, count separately; :meth:`Metrics.render` gives the
text exposition format for ``GET /metrics``.

Labels are bounded by the policy set, never by requests: ``outcome`` has
three values and ``group`` is the outermost group of the deciding
jurisdiction's chain (``EU``), ``none`` for a jurisdiction in no group and
``unknown`` for a code the set does not define, so a client that sends
random codes cannot grow the series without bound.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..evaluation.decision import Decision

#: Decisions take microseconds (memo hit) to a millisecond (cold, large set).
DECISION_BUCKETS = (0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
#: Journal writes: an fsync on a local disk to a PostgreSQL round trip.
JOURNAL_BUCKETS = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "policyengine_decisions",
            "Decisions made, by outcome and jurisdiction group",
            ["outcome", "group"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "policyengine_decision_seconds",
            "Time to decide one request, request checks included",
            buckets=DECISION_BUCKETS,
            registry=self.registry,
        )
        self.reloads = Counter(
            "policyengine_reloads",
            "Policy sets swapped in (accepted) or refused because they had errors (rejected); the first load not counted",
            ["result"],
            registry=self.registry,
        )
        self.journal_write = Histogram(
            "policyengine_journal_write_seconds",
            "Time to journal one decision",
            buckets=JOURNAL_BUCKETS,
            registry=self.registry,
        )
        self.version = Gauge(
            "policyengine_policy_info", "The policy version served (value 1)", ["version"], registry=self.registry
        )
        for result in ("accepted", "rejected"):
            self.reloads.labels(result)
        self._shown_version: str | None = None

    def decided(self, decision: Decision, seconds: float) -> None:
        chain = decision.jurisdiction_chain
        group = chain[-1] if len(chain) > 1 else ("none" if chain else "unknown")
        self.decisions.labels(decision.outcome.value, group).inc()
        self.latency.observe(seconds)
        if decision.policy_version != self._shown_version:
            self.policy_version(decision.policy_version)

    def policy_version(self, version: str) -> None:
        if self._shown_version is not None:
            self.version.remove(self._shown_version)
        self.version.labels(version).set(1)
        self._shown_version = version

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
