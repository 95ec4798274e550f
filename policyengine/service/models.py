"""The service's JSON shapes: pydantic models that are also the OpenAPI document.

Stage contract: every body the service sends or reads (other than a decision,
whose model is :class:`~policyengine.evaluation.decision.Decision`) has a
model here, and ``/openapi.json`` is generated from these models
(:mod:`.openapi`), so the published contract cannot drift from what the
handlers produce: the handlers build their answers from the same classes.
Bodies are *read* with :func:`policyengine.parse_json` (duplicate keys,
depth, surrogates), never by pydantic's own JSON parser; the models only
check the shape of what that parser returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..evaluation.decision import Decision, MarketDecision, Request
from ..evaluation.store import StoreDiagnostic, StoreStatus

#: The effects a reviewer can record on a negotiate decision: the journal's own
#: (``policyengine.journal.EFFECTS``; tests/test_service_journal.py keeps them equal).
EFFECTS = ("given", "refused", "narrowed", "escalated", "challenged")
#: ``complied`` (the word of the issue that asked for the queue) is taken as ``given``.
EFFECT_ALIASES = {"complied": "given"}
Effect = Literal["given", "refused", "narrowed", "escalated", "challenged", "complied"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Problem(_Model):
    """An error, as RFC 9457 ``application/problem+json`` with the request error's own fields."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = Field(description="a URI naming the kind of problem: `urn:policyengine:<code>`")
    title: str = Field(description="what kind of problem, the same for every problem of this type")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what is wrong with this request, in the author's words")
    code: str = Field(description="the stable code (`request.bad-value`, `auth.missing-token`, …)")
    field: str | None = Field(default=None, description="the request field at fault, e.g. `demand.kind`")
    allowed: list[str] = Field(default=[], description="the values the field may take")
    hint: str | None = Field(default=None, description="how to fix it, e.g. a did-you-mean")
    did_you_mean: str | None = Field(default=None, description="the allowed value closest to the one given")


class DecisionResponse(Decision):
    """A decision, as ``decide --request --format json`` prints it; ``decision_id`` is the
    journal's id for it, null when the service runs without a journal."""


class BatchItem(_Model):
    """One request of a batch: its decision or its error, never both."""

    index: int = Field(description="0-based position in the array, or 1-based line number for JSON lines")
    decision: DecisionResponse | None = None
    error: Problem | None = None


class BatchResponse(_Model):
    """A batch, decided against one policy version even if a reload lands meanwhile."""

    policy_version: str
    decided: int
    errors: int
    results: list[BatchItem]


class Jurisdiction(_Model):
    code: str
    name: str
    is_group: bool
    chain: list[str] = Field(description="itself first, then its group, that group's group, …")
    demands: list[str] = Field(description="ids of the standing demands it makes itself (a member also inherits its groups')")


class JurisdictionList(_Model):
    policy_version: str
    jurisdictions: list[Jurisdiction]


class PolicyInfo(_Model):
    """What the service serves: ``GET /v1/policy``."""

    version: str
    files: list[str] = Field(description="the policy files of the live set, as authors name them")
    loaded_at: datetime
    status: StoreStatus = Field(description="the store's status: loads, rejections, the last reload's result")
    journal: str | None = Field(description="where decisions are journaled (credentials masked); null without a journal")


class ReloadResponse(_Model):
    """``POST /v1/reload``: what the reload did; a rejected set leaves the last good one served."""

    result: Literal["loaded", "unchanged", "rejected"]
    version: str = Field(description="the version served after the reload")
    rejected_version: str | None = None
    diagnostics: list[StoreDiagnostic] = []


class EffectRequest(_Model):
    """``POST /v1/effects``: what was done about a journaled decision."""

    decision_id: str = Field(min_length=1, max_length=200)
    effect: Effect = Field(description="given (alias: complied), refused, narrowed, escalated or challenged")
    note: str = Field(default="", max_length=10_000)


class EffectResponse(_Model):
    effect_id: str
    decision_id: str
    effect: Effect
    by: str = Field(description="the role (and token name) that recorded it")


class Health(_Model):
    status: Literal["ok"]


class Ready(_Model):
    ready: bool
    version: str | None = None
    last_reload: str | None = None


class PlaygroundCheck(_Model):
    """``POST /v1/playground/check``: a policy set held in the page, checked in memory.

    ``files`` replaces or adds files of the server's set by path (the server's
    own files are never written); ``format`` also returns ``formatted`` text
    for ``path``.
    """

    files: dict[str, str] = Field(default={}, description="path → edited text; the other files are the server's")
    path: str | None = Field(default=None, description="the file shown in the page (highlighted, formatted)")
    format: bool = False


class TokenSpan(_Model):
    kind: str = Field(description="the token class (`kw`, `name`, `str`, `num`, `comply`, …)")
    text: str


class PlaygroundDiagnostic(StoreDiagnostic):
    rendered: str = Field(description="the plain rendering: file:line:col, the line, a caret, the hint")


class VocabularyAttribute(_Model):
    name: str
    kind: str
    values: list[str] = []
    required: bool = False


class PlaygroundAnswer(_Model):
    ok: bool
    version: str | None
    errors: int
    warnings: int
    diagnostics: list[PlaygroundDiagnostic]
    tokens: list[TokenSpan] = Field(default=[], description="the shown file, lexed by the project's own lexer")
    formatted: str | None = None
    jurisdictions: list[str] = []
    attributes: list[VocabularyAttribute] = Field(default=[], description="the demand attributes of the vocabulary")


class PlaygroundDecide(_Model):
    files: dict[str, str] = {}
    request: dict[str, Any] = Field(description="the JSON contract of `decide --request`")


class MatrixCell(_Model):
    kind: str
    outcome: str
    decided_by: list[str]


class PlaygroundDecision(_Model):
    decision: Decision
    explanation: str = Field(description="the explanation tree as `explain` prints it")
    matrix_row: list[MatrixCell] = Field(description="the jurisdiction's row of `policyengine matrix`")


__all__ = [
    "EFFECTS",
    "BatchItem",
    "BatchResponse",
    "DecisionResponse",
    "EffectRequest",
    "EffectResponse",
    "Health",
    "Jurisdiction",
    "JurisdictionList",
    "MarketDecision",
    "PlaygroundAnswer",
    "PlaygroundCheck",
    "PlaygroundDecide",
    "PlaygroundDecision",
    "PolicyInfo",
    "Problem",
    "Ready",
    "ReloadResponse",
    "Request",
]
