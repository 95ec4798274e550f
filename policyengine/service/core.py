"""The state behind one service: configuration, policy store, journal, tokens, metrics.

Stage contract: :class:`Service` is built from a :class:`ServiceConfig`; it
loads the policy set (raising :class:`~policyengine.language.diagnostics.PolicyError`
when the first set has errors) and opens the journal.  :meth:`Service.principal`
answers who a request comes from, or raises the 401/403 problem.  The API
(:mod:`.app`) and the pages (:mod:`.pages`) share it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from starlette.requests import Request

from ..evaluation.decision import Decision
from ..evaluation.engine import Engine
from ..evaluation.jsonio import RequestLimits
from ..evaluation.store import PolicyStore
from . import models
from .auth import LOCAL, Principal, Tokens, bearer
from .http import ServiceProblem
from .metrics import Metrics

log = logging.getLogger("policyengine.service")

#: The cookie the pages use to carry a token (a browser cannot add a header to a form).
COOKIE = "policyengine_token"


@dataclass(frozen=True)
class ServiceConfig:
    """Everything ``policyengine serve`` configures; also what a test builds an app from."""

    paths: Sequence[str] | None = None
    watch: bool = False
    journal: str | None = None
    journal_mode: str = "durable"
    tokens: Tokens | None = None
    limits: RequestLimits = field(default_factory=RequestLimits)
    #: A batch body may hold many requests: this many bytes in all.
    max_batch_bytes: int = 16_000_000
    max_batch_items: int = 10_000
    access_log: IO[str] | None = None
    access_log_bodies: bool = False
    #: Hours a reviewer has to act on a negotiate decision, when the journal gives no deadline.
    review_hours: float = 72.0
    #: Install the SIGHUP handler (only possible in the main thread; tests run servers in threads).
    sighup: bool = True
    secure_cookies: bool = False
    #: Called after ``POST /v1/reload`` reloads this process: with ``--workers`` it asks the
    #: parent to pass SIGHUP to every worker, so that one request reloads them all.
    reload_others: Callable[[], None] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Service:
    """The state behind one application: the store, the journal, the metrics, the tokens."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.metrics = Metrics()
        self.store = PolicyStore(
            list(config.paths) if config.paths else None,
            watch=config.watch,
            on_reload=lambda engine: self.metrics.reloads.labels("accepted").inc(),
            on_error=lambda err: self.metrics.reloads.labels("rejected").inc(),
        )
        self.metrics.policy_version(self.store.version)
        self.journal: Any = None
        self.journal_shown: str | None = None
        if config.journal is not None:
            self.journal, self.journal_shown = open_journal(config.journal, config.journal_mode)
        self.ready = True
        self._journal_lock = threading.Lock()

    # --- auth --------------------------------------------------------------------------

    def principal(self, request: Request, role: str) -> Principal:
        """Who is asking, or 401/403 as problem+json.  Without tokens everyone is local (loopback only).

        Two browser attacks are refused before any token is looked at.  A page
        of another site can make a visitor's browser send a "simple" POST
        (no preflight, any body) to the service: a write that a browser marks
        as coming from elsewhere (``Sec-Fetch-Site``, ``Origin``) is refused.
        And without tokens, a page can rebind its own host name to 127.0.0.1:
        a request whose ``Host`` is not a loopback name is refused, so only
        programs on this machine that mean to reach it get answers.
        """
        unsafe = request.method not in ("GET", "HEAD")
        if unsafe and _from_another_site(request):
            raise ServiceProblem(
                403,
                "auth.cross-site",
                "a page of another site may not act on this service",
                hint="call the API from a program, or use the service's own pages",
            )
        tokens = self.config.tokens
        if tokens is None:
            if not _loopback_host(request.headers.get("host", "")):
                raise ServiceProblem(
                    403,
                    "auth.host",
                    "without tokens the service answers only requests addressed to a loopback name",
                    hint="use http://127.0.0.1:PORT or http://localhost:PORT, or start the service with --tokens",
                )
            request.scope.setdefault("state", {})["principal"] = LOCAL.name
            return LOCAL
        token = bearer(request.headers.get("authorization"))
        from_cookie = False
        if token is None:
            token = request.cookies.get(COOKIE)
            from_cookie = token is not None
        if token is None:
            raise ServiceProblem(
                401,
                "auth.missing-token",
                "this endpoint needs a bearer token",
                hint="send `Authorization: Bearer <token>` (the service was started with --tokens)",
                headers={"WWW-Authenticate": 'Bearer realm="policyengine"'},
            )
        who = tokens.role_of(token)
        if who is None:
            raise ServiceProblem(
                401,
                "auth.bad-token",
                "the bearer token is not one the service knows",
                hint="check the token against the service's token file",
                headers={"WWW-Authenticate": 'Bearer realm="policyengine", error="invalid_token"'},
            )
        if from_cookie and unsafe and not _same_origin(request):
            raise ServiceProblem(403, "auth.cross-site", "a page of another site may not act with your session")
        request.scope.setdefault("state", {})["principal"] = who.name
        if not who.may(role):
            raise ServiceProblem(
                403,
                "auth.forbidden",
                f"the token `{who.name}` may not do this: it needs the `{role}` role",
                hint=f"use a token with the `{role}` role",
                headers={"WWW-Authenticate": f'Bearer realm="policyengine", error="insufficient_scope", scope="{role}"'},
            )
        return who

    # --- deciding ------------------------------------------------------------------------

    def decide_one(self, engine: Engine, value: Any) -> Decision:
        start = time.perf_counter()
        decision = engine.decide(value)
        self.metrics.decided(decision, time.perf_counter() - start)
        return decision

    def record(self, items: Sequence[tuple[Any, Decision]]) -> list[str | None]:
        """Journal decisions (blocking: call it in a thread); ids in order, None without a journal."""
        if self.journal is None:
            return [None] * len(items)
        from ..journal import JournalError

        ids: list[str | None] = []
        try:
            # One commit per policy version (a batch has one; the loop is for safety).
            for version in dict.fromkeys(d.policy_version for _, d in items):
                group = [(r if isinstance(r, Mapping) else {}, d) for r, d in items if d.policy_version == version]
                start = time.perf_counter()
                ids.extend(self.journal.record_many(group, policy_version=version))
                self.metrics.journal_write.observe((time.perf_counter() - start) / max(1, len(group)))
        except JournalError as exc:
            # Fail closed: a decision the journal could not keep is not handed out.
            raise ServiceProblem(
                503, "journal.unavailable", f"the decision could not be journaled: {exc.message}", hint=exc.hint
            ) from None
        return ids

    def close(self) -> None:
        self.ready = False
        self.store.close()
        if self.journal is not None:
            with self._journal_lock:
                self.journal.close()
                self.journal = None


def open_journal(target: str, mode: str) -> tuple[Any, str]:
    """Open the journal at ``target``; also return the target with any password masked."""
    from ..journal import JournalError
    from ..journal import open_journal as open_it

    try:
        opened = open_it(target, mode=mode)  # type: ignore[arg-type]
    except JournalError as exc:
        raise ServiceSetupError(f"--journal: {exc.message}", exc.hint) from None
    return opened, opened.target


class ServiceSetupError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _from_another_site(request: Request) -> bool:
    """True when a browser says the request comes from a page of another origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:  # every current browser sends it; it is the browser's own verdict
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False  # not a browser, or a browser that sent no Origin: a same-origin navigation
    return origin == "null" or origin.split("://", 1)[-1] != request.headers.get("host", "")


def _loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    return name in ("localhost", "127.0.0.1", "::1") or name.endswith(".localhost") or name.startswith("127.")


def _same_origin(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def parse_effect(value: Any) -> models.EffectRequest:
    """An effect request checked against its model, every problem named by field."""
    from pydantic import ValidationError

    if not isinstance(value, dict):
        raise ServiceProblem(400, "request.bad-type", "request: must be a JSON object", field="request")
    try:
        return models.EffectRequest.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_name = ".".join(str(p) for p in first["loc"]) or "request"
        allowed = (*models.EFFECTS, *models.EFFECT_ALIASES) if field_name == "effect" else ()
        code = "request.unknown-field" if first["type"] == "extra_forbidden" else "request.bad-value"
        if first["type"] == "missing":
            code = "request.missing"
        hint = None
        if field_name == "effect" and isinstance(value.get("effect"), str):
            from ..language.diagnostics import did_you_mean

            hint = did_you_mean(value["effect"], allowed)
        raise ServiceProblem(
            400, code, f"{field_name}: {first['msg'].lower()}", field=field_name, allowed=allowed, hint=hint
        ) from None


def record_effect(service: Service, effect: models.EffectRequest, who: Principal) -> str:
    if service.journal is None:
        raise ServiceProblem(
            409,
            "service.no-journal",
            "this service keeps no journal, so there is no decision to record an effect on",
            hint="start it with `policyengine serve --journal URL`",
        )
    from ..journal import JournalError

    name = models.EFFECT_ALIASES.get(effect.effect, effect.effect)
    start = time.perf_counter()
    try:
        effect_id: str = service.journal.record_effect(effect.decision_id, name, by=who.name, note=effect.note)
    except JournalError as exc:
        if exc.code == "journal.unknown-decision":
            raise ServiceProblem(
                404,
                exc.code,
                f"decision_id: the journal has no decision `{effect.decision_id}`",
                field="decision_id",
                hint="the ids are in each decision's `decision_id` and in the review queue",
            ) from None
        if exc.code == "journal.unknown-effect":
            raise ServiceProblem(400, exc.code, exc.message, field="effect", hint=exc.hint, allowed=models.EFFECTS) from None
        raise ServiceProblem(503, "journal.unavailable", f"the effect could not be journaled: {exc.message}") from None
    service.metrics.journal_write.observe(time.perf_counter() - start)
    return effect_id
