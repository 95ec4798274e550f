"""The decision service: an ASGI application (Starlette) over a :class:`PolicyStore`.

Stage contract: :func:`create_app` takes a :class:`ServiceConfig`, loads the
policy set (raising :class:`~policyengine.language.diagnostics.PolicyError`
when the first set has errors, before anything listens), opens the journal
when one is configured, and returns the ASGI application.  Every answer to
bad input is ``application/problem+json`` with a 4xx status; a 500 means a
bug of ours and carries no traceback.

Why decisions run on the event loop: a decision is a memo lookup or a few
microseconds of compiled closures, cheaper than a hop to a thread, so the
handler decides inline; only work that may block (the journal, a reload,
checking a policy set pasted in the playground) goes to the thread pool.

Routes (docs/service.md): ``/v1/decide``, ``/v1/decide/batch``,
``/v1/markets/{code}``, ``/v1/jurisdictions``, ``/v1/policy``,
``/v1/reload``, ``/v1/effects``, ``/healthz``, ``/readyz``, ``/metrics``,
``/openapi.json``, and the pages of :mod:`.pages`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..evaluation.decision import Decision
from ..evaluation.engine import Engine
from ..evaluation.jsonio import RequestLimits, parse_json
from ..evaluation.requests import RequestError
from ..language.diagnostics import PolicyError
from ..language.text import json_safe
from . import models
from .core import Service, ServiceConfig, ServiceSetupError, _service, parse_effect, record_effect
from .http import (
    JSON_TYPES,
    LINES_TYPES,
    Edge,
    ServiceProblem,
    check_media_type,
    decode,
    problem_response,
    read_body,
    request_problem,
)

log = logging.getLogger("policyengine.service")


def decision_body(engine: Engine, decision: Decision, decision_id: str | None) -> str:
    """A decision's JSON with its journal id; without one, the engine's memoised JSON (``decision_id: null``)."""
    if decision_id is None:
        return engine.decision_json(decision)
    return decision.model_copy(update={"decision_id": decision_id}).model_dump_json()


def _json(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(text, status_code=status, media_type="application/json", headers=dict(headers or {}))


def _model(obj: Any, status: int = 200) -> Response:
    return _json(obj.model_dump_json(), status)


# --- handlers --------------------------------------------------------------------------------


async def decide(request: Request) -> Response:
    service = _service(request)
    service.principal(request, "decide")
    check_media_type(request, JSON_TYPES)
    limits = service.config.limits
    text = decode(await read_body(request, limits.max_bytes))
    engine = service.store.engine
    try:
        value = parse_json(text, limits)
        decision = service.decide_one(engine, value)
    except RequestError as err:
        raise request_problem(err) from None
    decision_id = None
    if service.journal is not None:
        (decision_id,) = await run_in_threadpool(service.record, [(value, decision)])
    headers = {"X-Policy-Version": decision.policy_version, "X-Decision-Id": decision_id or "none"}
    return _json(decision_body(engine, decision, decision_id), headers=headers)


async def decide_batch(request: Request) -> Response:
    service = _service(request)
    service.principal(request, "decide")
    kind = check_media_type(request, JSON_TYPES | LINES_TYPES)
    limits = service.config.limits
    text = decode(await read_body(request, service.config.max_batch_bytes))
    items: list[tuple[int, str | Any]]
    if kind in LINES_TYPES or (kind in ("", "application/x-www-form-urlencoded") and not text.lstrip().startswith("[")):
        items = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        parse_each = True
    else:
        try:
            array = parse_json(text, RequestLimits(max_bytes=service.config.max_batch_bytes, max_depth=limits.max_depth + 1))
        except RequestError as err:
            raise request_problem(err) from None
        if not isinstance(array, list):
            raise ServiceProblem(
                400,
                "request.bad-type",
                "request: a batch must be a JSON array of requests (or JSON lines)",
                hint="send `[{...}, {...}]`, or one request a line as application/x-ndjson",
                field="request",
            )
        items = list(enumerate(array))
        parse_each = False
    if len(items) > service.config.max_batch_items:
        raise ServiceProblem(
            413,
            "request.too-large",
            f"request: the batch has {len(items):,} requests; the limit is {service.config.max_batch_items:,}",
            hint="split it into several batches",
            field="request",
        )
    engine = service.store.engine  # one set for the whole batch
    outcomes: list[tuple[int, Any, Decision | RequestError]] = []
    for index, item in items:
        try:
            value = parse_json(item, limits) if parse_each else item
            outcomes.append((index, value, service.decide_one(engine, value)))
        except RequestError as err:
            outcomes.append((index, item, err))
    decided = [(value, d) for _, value, d in outcomes if isinstance(d, Decision)]
    ids = iter(await run_in_threadpool(service.record, decided) if service.journal is not None else [None] * len(decided))
    parts = []
    errors = 0
    for index, _, result in outcomes:
        if isinstance(result, Decision):
            parts.append(f'{{"index":{index},"decision":{decision_body(engine, result, next(ids))}}}')
        else:
            errors += 1
            problem = json_safe(json.dumps(request_problem(result).body(), ensure_ascii=False))
            parts.append(f'{{"index":{index},"error":{problem}}}')
    body = (
        f'{{"policy_version":{json.dumps(engine.version)},"decided":{len(outcomes) - errors},'
        f'"errors":{errors},"results":[{",".join(parts)}]}}'
    )
    return _json(body, headers={"X-Policy-Version": engine.version})


async def market(request: Request) -> Response:
    service = _service(request)
    service.principal(request, "decide")
    code = request.path_params["code"]
    engine = service.store.engine
    try:
        result = engine.market(code)
    except RequestError as err:
        raise request_problem(err, 404 if err.code == "request.unknown-jurisdiction" else None) from None
    if service.journal is not None:
        # Each standing demand's decision is a decision like any other: journaled, with its id.
        items = [({"jurisdiction": d.jurisdiction, "demand": d.request}, d) for d in result.decisions]
        ids = await run_in_threadpool(service.record, items)
        decisions = tuple(d.model_copy(update={"decision_id": i}) for d, i in zip(result.decisions, ids, strict=True))
        result = result.model_copy(update={"decisions": decisions})
    return _json(result.model_dump_json(), headers={"X-Policy-Version": result.policy_version})


async def jurisdictions(request: Request) -> Response:
    service = _service(request)
    service.principal(request, "decide")
    engine = service.store.engine
    listing = models.JurisdictionList(
        policy_version=engine.version,
        jurisdictions=[
            models.Jurisdiction(
                code=j.code,
                name=j.name,
                is_group=j.is_group,
                chain=list(j.chain),
                demands=[d.id for d in j.demands],
            )
            for j in sorted(engine.policy_set.jurisdictions.values(), key=lambda j: j.code)
        ],
    )
    return _model(listing)


async def policy(request: Request) -> Response:
    service = _service(request)
    service.principal(request, "decide")
    live = service.store
    engine = live.engine
    status = live.status
    info = models.PolicyInfo(
        version=engine.version,
        files=[s.path for s in engine.policy_set.sources if not s.path.startswith("<")],
        loaded_at=status.loaded_at,
        status=status,
        journal=service.journal_shown,
    )
    return _model(info)


async def reload(request: Request) -> Response:
    service = _service(request)
    service.principal(request, "admin")
    status = await run_in_threadpool(service.store.reload)
    if service.config.reload_others is not None:
        service.config.reload_others()
    if status.last_attempt == "rejected":
        raise ServiceProblem(
            422,
            "policy.rejected",
            f"the policy set on disk has {sum(d.severity == 'error' for d in status.last_error)} error(s); "
            f"still serving version {status.version}",
            hint="fix the diagnostics below (`policyengine check` shows them too), then reload again",
            extra={
                "version": status.version,
                "rejected_version": status.rejected_version,
                "diagnostics": [d.model_dump() for d in status.last_error],
                "internal_error": status.internal_error,
            },
        )
    answer = models.ReloadResponse(result=status.last_attempt, version=status.version)
    return _model(answer)


async def effects(request: Request) -> Response:
    service = _service(request)
    who = service.principal(request, "review")
    check_media_type(request, JSON_TYPES)
    text = decode(await read_body(request, service.config.limits.max_bytes))
    try:
        value = parse_json(text, service.config.limits)
    except RequestError as err:
        raise request_problem(err) from None
    effect = parse_effect(value)
    effect_id = await run_in_threadpool(record_effect, service, effect, who)
    answer = models.EffectResponse(effect_id=effect_id, decision_id=effect.decision_id, effect=effect.effect, by=who.name)
    return _model(answer, 201)


async def healthz(request: Request) -> Response:
    return _model(models.Health(status="ok"))


async def readyz(request: Request) -> Response:
    service = _service(request)
    if not service.ready:
        return _model(models.Ready(ready=False), 503)
    status = service.store.status
    return _model(models.Ready(ready=True, version=status.version, last_reload=status.last_attempt))


async def metrics(request: Request) -> Response:
    service = _service(request)
    body, content_type = service.metrics.render()
    return Response(body, media_type=content_type)


async def openapi(request: Request) -> Response:
    from .openapi import document

    return JSONResponse(document())


# --- errors ----------------------------------------------------------------------------------


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceProblem)
    return problem_response(exc)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "http.not-found", 405: "http.method-not-allowed"}.get(exc.status_code, "http.error")
    detail = {404: f"nothing is served at `{request.url.path}`", 405: f"`{request.method}` is not allowed here"}.get(
        exc.status_code, str(exc.detail)
    )
    return problem_response(
        ServiceProblem(exc.status_code, code, detail, hint="see /openapi.json for the endpoints", headers=dict(exc.headers or {}))
    )


async def _on_bug(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        ServiceProblem(500, "internal", "the service failed on this request; this is a bug, and it is logged")
    )


def api_routes() -> list[BaseRoute]:
    return [
        Route("/v1/decide", decide, methods=["POST"]),
        Route("/v1/decide/batch", decide_batch, methods=["POST"]),
        Route("/v1/markets/{code}", market, methods=["GET"]),
        Route("/v1/jurisdictions", jurisdictions, methods=["GET"]),
        Route("/v1/policy", policy, methods=["GET"]),
        Route("/v1/reload", reload, methods=["POST"]),
        Route("/v1/effects", effects, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


def create_app(config: ServiceConfig | None = None) -> Edge:
    """The ASGI application for ``config``; raises PolicyError when the policy set has errors."""
    from .pages import page_routes

    config = config if config is not None else ServiceConfig()
    service = Service(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if config.sighup and threading.current_thread() is threading.main_thread():
            service.store.install_signal_handler()
            # A SIGHUP that came between the load and this handler was ignored (a worker
            # ignores it until here, so it is not killed while loading): one reload now
            # catches what it asked for, and is "unchanged" when nothing moved.
            service.store.request_reload()
        try:
            yield
        finally:
            # uvicorn has let in-flight requests finish before it gets here.
            service.close()

    app = Starlette(
        routes=[*api_routes(), *page_routes()],
        exception_handlers={ServiceProblem: _on_problem, HTTPException: _on_http, Exception: _on_bug},
        lifespan=lifespan,
    )
    app.state.service = service
    return Edge(app, log=config.access_log, log_bodies=config.access_log_bodies, service=service)


__all__ = ["PolicyError", "Service", "ServiceConfig", "ServiceSetupError", "create_app", "decision_body"]
