"""``GET /openapi.json``: the OpenAPI 3.1 document, generated from the pydantic models.

Stage contract: :func:`document` builds the document from :data:`ENDPOINTS`
(method, path, role, request and answer models) and the JSON schemas that
pydantic derives from :mod:`.models`; nothing in it is written by hand but
the summaries, so a field added to a model appears in the document with it.
``tests/test_service.py`` checks that every route of the app is listed and
that real answers validate against the schemas.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import __version__
from ..evaluation.decision import MarketDecision, Request
from . import models


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    role: str | None
    body: type[BaseModel] | None
    answer: type[BaseModel] | None
    errors: tuple[int, ...] = (400, 401, 403)
    body_types: tuple[str, ...] = ("application/json",)


ENDPOINTS = (
    Endpoint(
        "post",
        "/v1/decide",
        "Decide one request (the JSON contract of `decide --request`)",
        "decide",
        Request,
        models.DecisionResponse,
        (400, 401, 403, 413, 415),
    ),
    Endpoint(
        "post",
        "/v1/decide/batch",
        "Decide a JSON array or JSON lines of requests; per-item errors",
        "decide",
        None,
        models.BatchResponse,
        (400, 401, 403, 413, 415),
        ("application/json", "application/x-ndjson"),
    ),
    Endpoint(
        "get",
        "/v1/markets/{code}",
        "Every standing demand of a jurisdiction and the market outcome",
        "decide",
        None,
        MarketDecision,
        (401, 403, 404),
    ),
    Endpoint(
        "get",
        "/v1/jurisdictions",
        "The jurisdictions of the live policy set",
        "decide",
        None,
        models.JurisdictionList,
        (401, 403),
    ),
    Endpoint(
        "get",
        "/v1/policy",
        "The live policy version, its files, and the last reload's result",
        "decide",
        None,
        models.PolicyInfo,
        (401, 403),
    ),
    Endpoint(
        "post",
        "/v1/reload",
        "Reload the policy set from disk; a set with errors is refused (422)",
        "admin",
        None,
        models.ReloadResponse,
        (401, 403, 422),
    ),
    Endpoint(
        "post",
        "/v1/effects",
        "Record what was done about a journaled decision",
        "review",
        models.EffectRequest,
        models.EffectResponse,
        (400, 401, 403, 404, 409, 413, 415),
    ),
    Endpoint(
        "post",
        "/v1/playground/check",
        "Check a policy set edited in the playground, in memory",
        "decide",
        models.PlaygroundCheck,
        models.PlaygroundAnswer,
        (400, 401, 403, 413, 415),
    ),
    Endpoint(
        "post",
        "/v1/playground/decide",
        "Decide a request against a policy set edited in the playground",
        "decide",
        models.PlaygroundDecide,
        models.PlaygroundDecision,
        (400, 401, 403, 413, 415, 422),
    ),
    Endpoint("get", "/healthz", "The process is up", None, None, models.Health, ()),
    Endpoint("get", "/readyz", "A good policy set is loaded (503 while shutting down)", None, None, models.Ready, (503,)),
)
EXTRA_PATHS = {
    "/metrics": ("get", "Prometheus metrics (text exposition format)"),
    "/openapi.json": ("get", "This document"),
    "/v1/playground/files": ("get", "The server's policy files, path → text, for the playground (role decide)"),
}

_REF = "#/components/schemas/{model}"


@functools.cache
def document() -> dict[str, Any]:
    used: list[type[BaseModel]] = [models.Problem]
    for e in ENDPOINTS:
        used.extend(m for m in (e.body, e.answer) if m is not None and m not in used)
    keys, definitions = models_json_schema(
        [(m, "validation" if any(m is e.body for e in ENDPOINTS) else "serialization") for m in used],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        mode = "validation" if any(model is e.body for e in ENDPOINTS) else "serialization"
        return keys[(model, mode)]  # type: ignore[index]

    problem = {"description": "a problem (RFC 9457)", "content": {"application/problem+json": {"schema": ref(models.Problem)}}}
    paths: dict[str, Any] = {}
    for e in ENDPOINTS:
        op: dict[str, Any] = {
            "summary": e.summary,
            "operationId": e.method + e.path.replace("/", "_").replace("{", "").replace("}", "").replace(".", "_"),
            "responses": {
                "201" if e.path == "/v1/effects" else "200": {
                    "description": "success",
                    "content": {"application/json": {"schema": ref(e.answer)}} if e.answer else {},
                },
                **{str(code): problem for code in e.errors},
            },
        }
        if e.role is not None:
            op["security"] = [{"bearer": [e.role]}]
            op["description"] = f"Needs a token with the `{e.role}` role (when the service runs with tokens)."
        if e.body is not None or e.method == "post":
            schema = ref(e.body) if e.body is not None else {"type": "array", "items": ref(Request)}
            op["requestBody"] = {
                "required": (e.method == "post" and e.body is not None) or e.path.endswith("batch"),
                "content": {t: {"schema": schema} for t in e.body_types},
            }
            if e.path == "/v1/reload":
                del op["requestBody"]
        if "{code}" in e.path:
            op["parameters"] = [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}]
        paths.setdefault(e.path, {})[e.method] = op
    for path, (method, summary) in EXTRA_PATHS.items():
        paths[path] = {method: {"summary": summary, "responses": {"200": {"description": "success"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "policyengine decision service",
            "version": __version__,
            "description": "Decide government demands: comply, negotiate or withdraw. See docs/service.md.",
        },
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
