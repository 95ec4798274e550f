"""The pages: the playground (``/``), the review queue (``/review``) and ``/login``.

Stage contract: every page is rendered on the server from the live policy set
(or the journal) with every value escaped by :func:`html.escape`; the one
script (``static/playground.js``) and style sheet are files of this package,
served from this origin, so the strict CSP of :mod:`.http` holds (no inline
script or style, no CDN).  The playground's endpoints check and decide a
policy set *held in the page*: the texts it sends replace files of the
server's set in memory only; they are parsed, validated and compiled by the
project's own front end, never written to disk and never executed.

Why a cookie: a browser cannot add an ``Authorization`` header to a page
load or a form post, so ``/login`` turns a token into an HttpOnly,
SameSite=Strict cookie that :meth:`Service.principal` accepts as well, and
refuses for a write that does not come from this origin.
"""

from __future__ import annotations

import html
import io
import json
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..evaluation.decision import Decision
from ..evaluation.engine import Engine
from ..evaluation.jsonio import RequestLimits, parse_json
from ..evaluation.requests import RequestError
from ..language.diagnostics import Diagnostic
from ..language.loader import Limits
from ..language.model import PolicySet
from ..language.source import Source
from ..language.validate import PRELUDE_PREFIX
from . import models
from .auth import Principal
from .core import COOKIE, Service, _service, parse_effect, record_effect
from .http import JSON_TYPES, ServiceProblem, check_media_type, decode, read_body, request_problem

#: A playground body holds a whole policy set (the shipped one is ~110 kB).
PLAYGROUND_BYTES = 4_000_000
#: Compiled edited sets kept (by version) for the next decide of the same text.
_ENGINES_KEPT = 4


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: str, *, script: bool = False) -> HTMLResponse:
    js = '<script src="/static/playground.js" defer></script>' if script else ""
    text = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width, initial-scale=1'><title>{_esc(title)}</title>"
        f'<link rel=stylesheet href="/static/style.css">{js}</head><body>'
        '<nav><a href="/">playground</a> · <a href="/review">review queue</a> · <a href="/v1/policy">policy</a>'
        ' · <a href="/openapi.json">API</a> · <a href="/login">log in</a></nav>'
        f"{body}</body></html>"
    )
    return HTMLResponse(text, headers={"Cache-Control": "no-store"})


# --- the policy set held in a page ------------------------------------------------------------


class Playground:
    """Policy sets checked and compiled for pages, the last few kept by version."""

    #: Seconds a check waits for the one before it; past that the page is told to retry.
    WAIT = 10.0

    def __init__(self, service: Service):
        self.service = service
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._lock = threading.Lock()
        # Checks of pasted sets run one at a time per process: a check of the
        # shipped library takes ~0.3 s of a core, and a page types fast.
        self._gate = threading.Semaphore(1)

    def server_sources(self) -> list[Source]:
        return [s for s in self.service.store.engine.policy_set.sources if not s.path.startswith(PRELUDE_PREFIX)]

    def sources(self, files: dict[str, str]) -> list[Source]:
        by_path = {s.path: s for s in self.server_sources()}
        limits = Limits()
        for path, text in files.items():
            if len(text) > limits.max_file_bytes or text.count("\n") >= limits.max_file_lines:
                raise ServiceProblem(
                    413,
                    "request.too-large",
                    f"files: `{path[:80]}` is past the limits of a policy file "
                    f"({limits.max_file_bytes:,} characters, {limits.max_file_lines:,} lines)",
                    field="files",
                )
            if not path or path.startswith(PRELUDE_PREFIX) or not path.endswith(".policy") or len(path) > 200:
                raise ServiceProblem(
                    400,
                    "request.bad-value",
                    f"files: `{path[:80]}` is not a policy file name",
                    field="files",
                    hint="name edited files like the server's, e.g. `principles/encryption.policy`",
                )
            by_path[path] = Source(path, text.replace("\r\n", "\n").replace("\r", "\n"))
        return [by_path[p] for p in sorted(by_path)]

    def analyse(self, files: dict[str, str]) -> tuple[PolicySet | None, list[Diagnostic]]:
        from ..language.pipeline import analyse_sources

        if not files:
            engine = self.service.store.engine
            return engine.policy_set, list(engine.warnings)
        sources = self.sources(files)
        if not self._gate.acquire(timeout=self.WAIT):
            raise ServiceProblem(503, "playground.busy", "the playground is checking other edits; try again shortly")
        try:
            return analyse_sources(sources)
        finally:
            self._gate.release()

    def engine(self, files: dict[str, str]) -> Engine | list[Diagnostic]:
        if not files:
            return self.service.store.engine
        policy_set, diagnostics = self.analyse(files)
        if policy_set is None:
            return diagnostics
        with self._lock:
            engine = self._engines.get(policy_set.version)
            if engine is None:
                engine = Engine(policy_set, diagnostics)
                self._engines[policy_set.version] = engine
                while len(self._engines) > _ENGINES_KEPT:
                    self._engines.popitem(last=False)
            self._engines.move_to_end(policy_set.version)
            return engine


def _playground(request: Request) -> Playground:
    service = _service(request)
    found: Playground | None = getattr(request.app.state, "playground", None)
    if found is None:
        found = Playground(service)
        request.app.state.playground = found
    return found


_TOKEN_CLASSES = (
    ("Token.Keyword.Outcome", "outcome"),
    ("Token.Keyword.Declaration", "decl"),
    ("Token.Keyword.Constant", "const"),
    ("Token.Keyword", "kw"),
    ("Token.Comment", "comment"),
    ("Token.Literal.String", "str"),
    ("Token.Literal.Number", "num"),
    ("Token.Name.Attribute", "attr"),
    ("Token.Name.Builtin", "attr"),
    ("Token.Name", "name"),
    ("Token.Operator", "op"),
    ("Token.Punctuation", "punct"),
    ("Token.Error", "error"),
)


def highlight(text: str) -> list[models.TokenSpan]:
    """The text lexed by the project's own lexer (language/highlight.py), as classed spans."""
    from ..language.highlight import tokens

    out: list[models.TokenSpan] = []
    for ttype, value in tokens(text):
        name = str(ttype)
        kind = next((k for prefix, k in _TOKEN_CLASSES if name.startswith(prefix)), "")
        if kind == "outcome":
            kind = value if value in ("comply", "negotiate", "withdraw") else "kw"
        if out and out[-1].kind == kind:
            out[-1] = models.TokenSpan(kind=kind, text=out[-1].text + value)
        else:
            out.append(models.TokenSpan(kind=kind, text=value))
    return out


def _vocabulary(policy_set: PolicySet) -> tuple[list[str], list[models.VocabularyAttribute]]:
    attrs = [
        models.VocabularyAttribute(name=a.name, kind=a.kind.value, values=list(a.values), required=a.required)
        for a in policy_set.vocabulary.scoped("demand")
    ]
    return sorted(policy_set.jurisdictions), attrs


async def _body(request: Request, model: type[Any]) -> Any:
    check_media_type(request, JSON_TYPES)
    text = decode(await read_body(request, PLAYGROUND_BYTES))
    try:
        value = parse_json(text, RequestLimits(max_bytes=PLAYGROUND_BYTES))
    except RequestError as err:
        raise request_problem(err) from None
    from pydantic import ValidationError

    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        raise ServiceProblem(400, "request.bad-value", f"{where}: {first['msg'].lower()}", field=where) from None


def check_set(playground: Playground, ask: models.PlaygroundCheck) -> models.PlaygroundAnswer:
    from ..language.format import format_text
    from ..language.render import render_plain, to_json

    policy_set, diagnostics = playground.analyse(dict(ask.files))
    shown = [
        models.PlaygroundDiagnostic(**to_json(d), rendered=render_plain(d))
        for d in diagnostics
        if not d.span.path.startswith(PRELUDE_PREFIX) or policy_set is None
    ]
    text = None
    if ask.path is not None:
        text = ask.files.get(ask.path)
        if text is None:
            text = next((s.text for s in playground.server_sources() if s.path == ask.path), None)
    formatted = None
    if ask.format and text is not None:
        try:
            formatted = format_text(text, ask.path or "<text>")
        except Exception:  # syntax errors: the diagnostics already say where
            formatted = None
    errors = sum(d.is_error for d in diagnostics)
    vocab_set = policy_set if policy_set is not None else playground.service.store.engine.policy_set
    codes, attrs = _vocabulary(vocab_set)
    return models.PlaygroundAnswer(
        ok=policy_set is not None,
        version=policy_set.version if policy_set is not None else None,
        errors=errors,
        warnings=len(diagnostics) - errors,
        diagnostics=shown,
        tokens=highlight(formatted if formatted is not None else text) if text is not None else [],
        formatted=formatted,
        jurisdictions=codes,
        attributes=attrs,
    )


def explanation_text(decision: Decision, policy_set: PolicySet) -> str:
    from rich.console import Console

    from ..evaluation.explain import explanation_tree, tidy

    out = io.StringIO()
    Console(file=out, width=100, color_system=None, highlight=False, soft_wrap=False).print(
        tidy(explanation_tree(decision, policy_set))
    )
    return out.getvalue()


def matrix_row(engine: Engine, code: str) -> list[models.MatrixCell]:
    from ..analysis.matrix import MatrixError, build_matrix, columns

    if code not in engine.policy_set.jurisdictions:
        return []
    try:
        matrix = build_matrix(engine, columns(engine), [code])
    except MatrixError:
        return []
    row = matrix.rows[0]
    return [models.MatrixCell(kind=k, outcome=c.outcome.value, decided_by=list(c.rules)) for k, c in row.cells.items()]


def decide_in_set(playground: Playground, ask: models.PlaygroundDecide) -> models.PlaygroundDecision:
    engine = playground.engine(dict(ask.files))
    if isinstance(engine, list):
        errors = [d for d in engine if d.is_error]
        raise ServiceProblem(
            422,
            "policy.rejected",
            f"the edited policy set has {len(errors)} error(s); fix them to decide",
            hint=str(errors[0]) if errors else None,
        )
    try:
        decision = engine.decide(ask.request)
    except RequestError as err:
        raise request_problem(err) from None
    return models.PlaygroundDecision(
        decision=decision,
        explanation=explanation_text(decision, engine.policy_set),
        matrix_row=matrix_row(engine, decision.jurisdiction),
    )


async def playground_check(request: Request) -> Response:
    _service(request).principal(request, "decide")
    ask = await _body(request, models.PlaygroundCheck)
    answer = await run_in_threadpool(check_set, _playground(request), ask)
    return Response(answer.model_dump_json(), media_type="application/json")


async def playground_decide(request: Request) -> Response:
    _service(request).principal(request, "decide")
    ask = await _body(request, models.PlaygroundDecide)
    answer = await run_in_threadpool(decide_in_set, _playground(request), ask)
    return Response(answer.model_dump_json(), media_type="application/json")


async def playground_files(request: Request) -> Response:
    _service(request).principal(request, "decide")
    files = {s.path: s.text for s in _playground(request).server_sources()}
    return Response(json.dumps(files, ensure_ascii=False), media_type="application/json")


# --- pages ---------------------------------------------------------------------------------------


def _page_principal(request: Request, role: str) -> Principal | Response:
    """The principal of a page load; a browser without a token is sent to /login instead of a 401."""
    try:
        return _service(request).principal(request, role)
    except ServiceProblem as problem:
        if problem.status == 401:
            return RedirectResponse("/login", status_code=303)
        raise


async def playground_page(request: Request) -> Response:
    service = _service(request)
    who = _page_principal(request, "decide")
    if isinstance(who, Response):
        return who
    engine = service.store.engine
    codes, attrs = _vocabulary(engine.policy_set)
    files = [s.path for s in _playground(request).server_sources()]
    file_options = "".join(f"<option>{_esc(p)}</option>" for p in files)
    names = engine.policy_set.jurisdictions
    code_options = "".join(
        f"<option value='{_esc(c)}'{' selected' if c == 'RU' else ''}>{_esc(c)} — {_esc(names[c].name)}</option>" for c in codes
    )
    attr_rows = "".join(_attribute_control(a) for a in attrs)
    body = f"""
<h1>Policy playground</h1>
<p class=note>Serving policy version <code id=version>{_esc(engine.version)}</code>. Edits stay in this page:
the server checks and decides them in memory and never writes or runs them.</p>
<main class=grid>
<section>
  <h2>Policy set</h2>
  <label>File <select id=file>{file_options}</select></label>
  <button id=format type=button>Format</button> <button id=reset type=button>Back to the server's set</button>
  <span id=state class=note>the server's set (read-only copy)</span>
  <div class=editor><pre id=highlight aria-hidden=true></pre><textarea id=source spellcheck=false
    aria-label="policy text"></textarea></div>
  <h3>Diagnostics</h3>
  <ul id=diagnostics><li class=note>none yet</li></ul>
</section>
<section>
  <h2>Demand</h2>
  <form id=demand>
  <label>Jurisdiction <select id=jurisdiction name=jurisdiction>{code_options}</select></label>
  <div id=attributes>{attr_rows}</div>
  <button id=decide type=submit>Decide</button>
  </form>
  <div id=decision></div>
</section>
</main>"""
    return _page("policyengine playground", body, script=True)


def _attribute_control(a: models.VocabularyAttribute) -> str:
    name = _esc(a.name)
    if a.values:
        options = ("" if a.required else "<option value=''>(absent)</option>") + "".join(
            f"<option>{_esc(v)}</option>" for v in a.values
        )
        control = f"<select name='{name}' data-attr='{name}'>{options}</select>"
    elif a.kind == "bool":
        control = (
            f"<select name='{name}' data-attr='{name}' data-kind=bool>"
            "<option value=''>(absent)</option><option>true</option><option>false</option></select>"
        )
    else:
        kind = "number" if a.kind == "number" else "text"
        control = f"<input name='{name}' data-attr='{name}' data-kind='{_esc(a.kind)}' type={kind} step=any>"
    return f"<label>{name} {control}</label>"


def _deadline(entry: Any, hours: float) -> datetime | None:
    given = getattr(entry, "deadline", None)
    if isinstance(given, datetime):
        return given
    stamp = getattr(entry, "timestamp", None)
    if isinstance(stamp, str):
        try:
            stamp = datetime.fromisoformat(stamp)
        except ValueError:
            return None
    if isinstance(stamp, datetime):
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp + timedelta(hours=hours)
    return None


def _explanation(service: Service, entry: Any) -> tuple[str, str]:
    """The explanation of a journaled decision, and the reasons as HTML list items.

    The journal keeps the deciding rules, not their texts; when the live set is
    the one that decided, deciding the recorded request again gives the same
    decision (the engine is deterministic) with its explanation.
    """
    engine = service.store.engine
    if entry.policy_version == engine.version:
        try:
            decision = engine.decide(entry.input)
        except RequestError:
            decision = None
        if decision is not None:
            items = "".join(
                f"<li><b>{_esc(r.qualified)}</b>: {_esc(r.because)} <span class=note>{_esc(r.source)}</span></li>"
                for r in decision.reasons
            )
            return explanation_text(decision, engine.policy_set), items or "<li>no rule matched: the default applied</li>"
    rules = "".join(f"<li><b>{_esc(r)}</b></li>" for r in entry.rules)
    note = f"decided by policy version {entry.policy_version}; the live set is {engine.version}"
    return note, rules or "<li>no rule matched: the default (negotiate) applied</li>"


async def review_page(request: Request) -> Response:
    service = _service(request)
    who = _page_principal(request, "review")
    if isinstance(who, Response):
        return who
    if service.journal is None:
        return _page(
            "review queue",
            "<h1>Review queue</h1><p>This service keeps no journal, so there is nothing to review. "
            "Start it with <code>policyengine serve --journal URL</code>.</p>",
        )
    entries = await run_in_threadpool(service.journal.pending, "negotiate")
    now = datetime.now(UTC)
    items = []
    for entry in entries:
        due = _deadline(entry, service.config.review_hours)
        late = due is not None and due < now
        explanation, reasons = await run_in_threadpool(_explanation, service, entry)
        effect_options = "".join(f"<option>{e}</option>" for e in models.EFFECTS)
        did = _esc(entry.decision_id)
        record = {
            "decision_id": entry.decision_id,
            "timestamp": entry.timestamp.isoformat(),
            "policy_version": entry.policy_version,
            "jurisdiction_chain": list(entry.jurisdiction_chain),
            "request": entry.request,
            "outcome": entry.outcome,
            "rules": list(entry.rules),
            "actions": list(entry.actions),
            "as_of": entry.as_of,
            "hash": entry.hash,
        }
        title = f"{entry.jurisdiction}{'.' + entry.demand if entry.demand else ''}: {entry.outcome}"
        items.append(
            f"<li class='entry{' late' if late else ''}' data-decision='{did}'>"
            f"<h3>{_esc(title)}</h3>"
            f"<p class=note>decision <code>{did}</code> · {_esc(entry.timestamp.isoformat(timespec='seconds'))}"
            f" · due {_esc(due.isoformat(timespec='minutes') if due else 'unknown')}{' (late)' if late else ''}</p>"
            f"<ul>{reasons}</ul><pre class=explanation>{_esc(explanation)}</pre>"
            f"<details><summary>legal record</summary>"
            f"<pre>{_esc(json.dumps(record, indent=2, ensure_ascii=False, default=str))}</pre></details>"
            f"<form method=post action=/review/effect><input type=hidden name=decision_id value='{did}'>"
            f"<label>Effect <select name=effect>{effect_options}</select></label>"
            f"<label>Note <input name=note maxlength=10000></label> <button type=submit>Record</button></form></li>"
        )
    listing = "".join(items) or "<li class=note>nothing awaits an effect</li>"
    body = (
        f"<h1>Review queue</h1><p class=note>Negotiate decisions awaiting an effect, oldest first; signed in as "
        f"<code>{_esc(who.name)}</code>.</p><ol id=queue>{listing}</ol>"
    )
    return _page("review queue", body)


async def _form(request: Request) -> dict[str, str]:
    text = decode(await read_body(request, 64_000))
    return {k: v[0] for k, v in parse_qs(text, max_num_fields=20).items()}


async def review_effect(request: Request) -> Response:
    service = _service(request)
    who = service.principal(request, "review")
    check_media_type(request, {"application/x-www-form-urlencoded"})
    form = await _form(request)
    effect = parse_effect({k: form[k] for k in ("decision_id", "effect", "note") if k in form})
    await run_in_threadpool(record_effect, service, effect, who)
    return RedirectResponse("/review", status_code=303)


async def login_page(request: Request) -> Response:
    service = _service(request)
    if service.config.tokens is None:
        return _page("log in", "<h1>Log in</h1><p>This service runs without tokens (loopback only): nothing to log in to.</p>")
    body = (
        "<h1>Log in</h1><form method=post action=/login><label>Token <input name=token type=password "
        "autocomplete=current-password></label> <button type=submit>Log in</button></form>"
    )
    return _page("log in", body)


async def login(request: Request) -> Response:
    service = _service(request)
    check_media_type(request, {"application/x-www-form-urlencoded"})
    form = await _form(request)
    token = form.get("token", "")
    tokens = service.config.tokens
    if tokens is None or tokens.role_of(token) is None:
        raise ServiceProblem(401, "auth.bad-token", "the token is not one the service knows")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=service.config.secure_cookies, path="/", max_age=12 * 3600
    )
    return response


_STATIC = {"playground.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    kind = _STATIC.get(name)
    if kind is None:
        raise ServiceProblem(404, "http.not-found", f"no static file `{name}`")
    text = resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")
    return Response(text, media_type=kind, headers={"Cache-Control": "no-cache"})


def page_routes() -> list[BaseRoute]:
    return [
        Route("/", playground_page, methods=["GET"]),
        Route("/review", review_page, methods=["GET"]),
        Route("/review/effect", review_effect, methods=["POST"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/v1/playground/check", playground_check, methods=["POST"]),
        Route("/v1/playground/decide", playground_decide, methods=["POST"]),
        Route("/v1/playground/files", playground_files, methods=["GET"]),
    ]
