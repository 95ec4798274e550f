"""HTTP plumbing shared by the API and the pages: problems, bodies, the edge middleware.

Stage contract: :class:`ServiceProblem` is the one error a handler raises;
:func:`problem_response` turns it (or a :class:`RequestError`) into an
RFC 9457 ``application/problem+json`` answer.  :func:`read_body` reads a body
no larger than a limit and checks its content type before a byte of it is
parsed.  :class:`Edge` is the outermost ASGI middleware: security headers on
every answer (a strict CSP among them) and one JSON line of access log per
request, without bodies unless asked.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from datetime import UTC, datetime
from typing import IO, Any

from starlette.requests import Request
from starlette.responses import Response

from ..evaluation.requests import RequestError
from ..language.text import json_safe

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROBLEM_TYPE = "application/problem+json"

#: Every page and every answer: scripts, styles and requests only from this
#: origin, nothing inline, no frames, no plugins, forms post only here.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # same-origin, not no-referrer: under no-referrer a browser sends `Origin: null`
    # with the pages' own form posts, which the cross-site check could not tell apart.
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}
_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`")


class ServiceProblem(Exception):
    """An answer other than success, raised by a handler and rendered as problem+json."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        hint: str | None = None,
        field: str | None = None,
        allowed: Collection[str] = (),
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.hint = hint
        self.field = field
        self.allowed = list(allowed)
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        match = _DID_YOU_MEAN.search(self.hint or "")
        out: dict[str, Any] = {
            "type": f"urn:policyengine:{self.code}",
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "field": self.field,
            "allowed": self.allowed,
            "hint": self.hint,
            "did_you_mean": match.group(1) if match else None,
        }
        out.update(self.extra)
        return out


def request_problem(err: RequestError, status: int | None = None) -> ServiceProblem:
    """A bad request as a problem: 413 for a request past a limit, else 400 (or ``status``)."""
    if status is None:
        status = 413 if err.code == "request.too-large" else 400
    detail = f"{err.field}: {err.message}" if err.field else err.message
    return ServiceProblem(status, err.code, detail, hint=err.hint, field=err.field, allowed=err.allowed)


def problem_json(problem: ServiceProblem) -> dict[str, Any]:
    return problem.body()


def problem_response(problem: ServiceProblem) -> Response:
    text = json_safe(json.dumps(problem.body(), ensure_ascii=False))
    headers = dict(problem.headers)
    return Response(text, status_code=problem.status, media_type=PROBLEM_TYPE, headers=headers)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


#: What a JSON body may be labelled.  ``curl -d`` labels every body
#: ``application/x-www-form-urlencoded`` unless told otherwise; the body is
#: still read as JSON (a real form body is not JSON, and gets a 400).
JSON_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded", "text/json", ""})
LINES_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/json-lines", "application/jsonlines"})


def check_media_type(request: Request, accepted: Collection[str]) -> str:
    kind = media_type(request)
    if kind in accepted or (kind.endswith("+json") and "application/json" in accepted):
        return kind
    shown = ", ".join(sorted(t for t in accepted if t))
    raise ServiceProblem(
        415,
        "request.media-type",
        f"a body of type `{kind}` is not read here",
        hint=f"send it as {shown}",
        headers={"Accept-Post": ", ".join(sorted(t for t in accepted if t))},
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to pass ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ServiceProblem:
    return ServiceProblem(
        413,
        "request.too-large",
        f"the body is at least {size:,} bytes long; the limit is {limit:,}",
        hint="send less, or split a batch into several",
        field="request",
    )


def decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceProblem(
            400,
            "request.not-unicode",
            f"request: the body is not UTF-8 text (byte {exc.start + 1})",
            hint="encode the request as UTF-8",
            field="request",
        ) from None


class Edge:
    """Security headers on every answer, and one JSON line of access log per request.

    The log line carries method, path, status, bytes sent, milliseconds and the
    client; the request body only with ``log_bodies`` (up to 4 KiB of it),
    because bodies name jurisdictions and demands that an access log kept for
    operations has no need of.
    """

    BODY_SHOWN = 4096

    def __init__(self, app: ASGIApp, *, log: IO[str] | None = None, log_bodies: bool = False, service: Any = None):
        self.app = app
        #: The :class:`~policyengine.service.app.Service` behind the app (for the CLI and tests).
        self.service = service
        self.log = log
        self.log_bodies = log_bodies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state: dict[str, Any] = {"status": 0, "bytes": 0}
        body: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                state["bytes"] += len(message.get("body", b""))
            await send(message)

        inner_receive = receive
        if self.log is not None and self.log_bodies:

            async def receive_logged() -> Message:
                message = await receive()
                if message["type"] == "http.request" and sum(map(len, body)) < self.BODY_SHOWN:
                    body.append(message.get("body", b""))
                return message

            inner_receive = receive_logged
        try:
            await self.app(scope, inner_receive, send_with_headers)
        finally:
            if self.log is not None:
                self._write(scope, state, time.perf_counter() - start, b"".join(body))

    def _write(self, scope: Scope, state: dict[str, Any], seconds: float, body: bytes) -> None:
        client = scope.get("client")
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": state["status"],
            "bytes": state["bytes"],
            "ms": round(seconds * 1000, 3),
            "client": f"{client[0]}:{client[1]}" if client else None,
        }
        principal = scope.get("state", {}).get("principal")
        if principal is not None:
            record["who"] = principal
        if self.log_bodies and body:
            record["body"] = body[: self.BODY_SHOWN].decode("utf-8", "replace")
        assert self.log is not None
        try:
            self.log.write(json_safe(json.dumps(record, ensure_ascii=False)) + "\n")
            self.log.flush()
        except (OSError, ValueError):  # a closed or full log must not fail the request
            print("policyengine serve: could not write the access log", file=sys.stderr)
