"""`policyengine decide` and `policyengine explain`: decisions from the command line.

Inputs (one of): ``--jurisdiction CODE [--demand ID]`` (standing demands and the
market outcome), ``--request FILE`` (one JSON request, ``-`` for stdin) or
``--requests FILE.jsonl`` (many, streamed, one JSON decision per line; with
``explain``, one tree per line).  ``explain`` takes the same inputs and
differs only in its human output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO, TYPE_CHECKING, Any

from ..language.diagnostics import did_you_mean
from ..language.text import safe
from .common import (
    CommandError,
    ExitCode,
    add_policies_argument,
    alpha3_hint,
    console,
    error_fields,
    load_engine,
    policy_paths,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.console import RenderableType
    from rich.text import Text

    from ..evaluation.decide import RequestError
    from ..evaluation.decision import Decision, MarketDecision
    from ..evaluation.engine import Engine
    from ..evaluation.jsonio import RequestLimits

NAME = "decide"
HELP = "decide demands: standing ones of a jurisdiction, a JSON request, or a JSON-lines file"


def add_arguments(parser: argparse.ArgumentParser, explain: bool = False) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--jurisdiction", "-j", metavar="CODE", help="decide the standing demands of this jurisdiction")
    src.add_argument("--request", "-r", metavar="FILE", help="decide one JSON request from FILE (- for stdin)")
    src.add_argument(
        "--requests",
        metavar="FILE",
        help="JSON lines from FILE (- for stdin), one request a line; "
        + ("one tree per line (JSON lines with --format json)" if explain else "writes one JSON decision a line"),
    )
    parser.add_argument("--demand", "-d", metavar="ID", help="with --jurisdiction: only this standing demand")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="also show the smallest changes to the demand that would change the outcome (not with --requests)",
    )
    parser.add_argument("--format", choices=("human", "json"), default="human", help="output format (default: human)")
    parser.add_argument(
        "--fail-on",
        metavar="OUTCOME",
        action="append",
        default=[],
        help="exit 3 when any decision (or market) has this outcome: comply, negotiate or withdraw (repeatable)",
    )
    parser.add_argument(
        "--on-error",
        choices=("skip", "stop"),
        default="skip",
        help="with --requests: on a bad line, report it and go on (skip, the default) or stop the run (stop)",
    )
    _add_limit_arguments(parser)
    add_policies_argument(parser)


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    from ..evaluation.jsonio import RequestLimits

    default = RequestLimits()
    parser.add_argument(
        "--max-request-bytes",
        metavar="N",
        type=_positive,
        default=default.max_bytes,
        help=f"largest request (one --request file or one --requests line), in bytes (default: {default.max_bytes:,})",
    )
    parser.add_argument(
        "--max-request-depth",
        metavar="N",
        type=_positive,
        default=default.max_depth,
        help=f"deepest nesting of JSON arrays and objects in a request (default: {default.max_depth})",
    )


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _limits(args: argparse.Namespace) -> RequestLimits:
    from ..evaluation.jsonio import RequestLimits

    return RequestLimits(max_bytes=args.max_request_bytes, max_depth=args.max_request_depth)


OUTCOMES = ("comply", "negotiate", "withdraw")


def _fail_on(values: list[str]) -> set[str]:
    out: set[str] = set()
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if part not in OUTCOMES:
                raise CommandError(f"--fail-on takes comply, negotiate or withdraw, not `{part}`", did_you_mean(part, OUTCOMES))
            out.add(part)
    return out


def _read_text(path: str, limits: RequestLimits) -> str:
    limit = limits.max_bytes
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
    except OSError as exc:
        raise CommandError(f"cannot read `{path}`: {(exc.strerror or str(exc)).lower()}") from None
    if len(data) > limit:
        raise CommandError(f"`{path}` is larger than the {limit:,}-byte limit for one request")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CommandError(f"`{path}` is not UTF-8 text (byte {exc.start})") from None


def _print_json(obj: Any, out: IO[str]) -> None:
    out.write(obj.model_dump_json(indent=2) if hasattr(obj, "model_dump_json") else json.dumps(obj, indent=2))
    out.write("\n")


def _render(engine: Engine, result: Decision | MarketDecision, fmt: str, explain: bool) -> None:
    from ..evaluation.decision import MarketDecision
    from ..evaluation.explain import decision_blocks, explanation_tree, market_trees, market_view, tidy

    if fmt == "json":
        _print_json(result, sys.stdout)
        return
    view: RenderableType
    if isinstance(result, MarketDecision):
        view = market_trees(result, engine.policy_set) if explain else market_view(result)
    else:
        view = explanation_tree(result, engine.policy_set) if explain else decision_blocks([result])
    console().print(tidy(view))


def error_record(err: RequestError, line: int | None = None) -> dict[str, Any]:
    """A bad request as JSON: what --requests prints instead of a decision (the shape of every error
    printed with --format json, with the line number)."""
    body = error_fields(err)
    return {"line": line, "error": body} if line is not None else {"error": body}


def _outcomes(result: Decision | MarketDecision) -> set[str]:
    from ..evaluation.decision import MarketDecision

    if isinstance(result, MarketDecision):
        return {result.outcome.value, *(d.outcome.value for d in result.decisions)}
    return {result.outcome.value}


def _open(path: str) -> tuple[IO[bytes], int | None]:
    """The input stream and its size in bytes when known (for the progress bar)."""
    if path == "-":
        return sys.stdin.buffer, None
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by run_requests
    except OSError as exc:
        raise CommandError(f"cannot read `{path}`: {(exc.strerror or str(exc)).lower()}") from None
    try:
        size: int | None = os.fstat(fh.fileno()).st_size or None
    except OSError:
        size = None
    return fh, size


def _tree_printer(engine: Engine) -> Callable[[int, Decision], None]:
    from ..evaluation.explain import explanation_tree, tidy

    con = console()

    def show(n: int, decision: Decision) -> None:
        con.print(_t(f"line {n}", "dim"))
        con.print(tidy(explanation_tree(decision, engine.policy_set)))
        con.print()

    return show


def _t(text: str, style: str) -> Text:
    from rich.text import Text

    return Text(safe(text), style=style)


#: Distinct request lines whose answers ``--requests`` keeps (see run_requests).
ANSWERED_LINES = 50_000
#: Output lines ``--requests`` gathers before one write.
FLUSH_EVERY = 256


def _bounded_lines(fh: IO[bytes], limit: int) -> Iterator[tuple[bytes | None, int]]:
    """The lines of ``fh`` with their length in bytes; a line longer than ``limit``
    (newline not counted) comes as ``None``: it is read past in chunks, never held
    whole, so one endless line cannot exhaust memory."""
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield raw, len(raw)
            continue
        size = len(raw)
        while True:
            chunk = fh.readline(1 << 16)
            size += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                break
        yield None, size


def run_requests(
    engine: Engine, path: str, on_error: str, fail_on: set[str], trees: bool = False, limits: RequestLimits | None = None
) -> int:
    """Stream JSON lines: one decision (or error record) per non-blank input line.

    Output order is input order, one line out per request line in, so a
    consumer can zip the two files; a bad line gives an error record naming
    its line number instead of a decision (and a line on stderr), and with
    ``--on-error stop`` ends the run.  Exit 2 when any line was bad, else 3
    when ``--fail-on`` was hit, else 0.  With ``trees`` (``explain`` in
    human format) each decision is an explanation tree instead, and bad
    lines are reported on stderr only.
    """
    from ..evaluation.decide import RequestError
    from ..evaluation.jsonio import RequestLimits, parse_json

    limits = limits or RequestLimits()
    name = "<stdin>" if path == "-" else path
    fh, size = _open(path)
    write = sys.stdout.write
    show = _tree_printer(engine) if trees else None
    decide = engine.decide
    to_json = engine.decision_json
    # The same line always gets the same answer (the engine is deterministic):
    # a repeated line skips JSON parsing and the decision.  Bounded, so a file
    # of distinct lines does not grow memory past it.
    answered: dict[str, tuple[str, bool]] = {}
    # Output lines are written in batches: one write per line costs more than
    # the decision it carries when the decision is a memo hit.
    out: list[str] = []

    def flush() -> None:
        if out:
            out.append("")
            write("\n".join(out))
            out.clear()

    bad = 0
    hit = False
    progress = None
    # A progress bar only when the output goes elsewhere than the terminal
    # (`--requests big.jsonl > out.jsonl`); otherwise the output is the progress.
    if sys.stderr.isatty() and not sys.stdout.isatty():
        from rich.progress import Progress

        progress = Progress(transient=True, console=console(stderr=True))
        task = progress.add_task("deciding", total=size)
        progress.start()
    done = 0
    try:
        for n, (raw, length) in enumerate(_bounded_lines(fh, limits.max_bytes), 1):
            done += length
            if progress is not None and n % 1000 == 0:
                progress.update(task, completed=done)
            try:
                if raw is None:
                    raise RequestError("request", f"is a line of {length:,} bytes; the limit is {limits.max_bytes:,}")
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except RequestError as exc:
                err = exc
            except UnicodeDecodeError as exc:
                err = RequestError("request", f"is not UTF-8 text (byte {exc.start + 1} of the line)")
            else:
                if show is None:
                    found = answered.get(line)
                    if found is not None:
                        out.append(found[0])
                        hit = hit or found[1]
                        if len(out) >= FLUSH_EVERY:
                            flush()
                        continue
                if not line.strip():
                    continue
                try:
                    decision = decide(parse_json(line.rstrip("\r\n"), limits))
                except RequestError as exc:
                    err = exc
                else:
                    failed = decision.outcome.value in fail_on
                    if show is not None:
                        show(n, decision)
                    else:
                        text = to_json(decision)  # serialised once per memoised decision
                        out.append(text)
                        # A line with an id is almost always unique: not worth keeping.
                        request = decision.request
                        if len(answered) < ANSWERED_LINES and request.get("id") is None and request.get("description") is None:
                            answered[line] = (text, failed)
                        if len(out) >= FLUSH_EVERY:
                            flush()
                    hit = hit or failed
                    continue
            bad += 1
            if show is None:
                out.append(json.dumps(error_record(err, n)))
                flush()
            print(f"{safe(name)}:{n}: error: {safe(str(err))}", file=sys.stderr)
            if on_error == "stop":
                return ExitCode.USAGE
    finally:
        flush()
        if progress is not None:
            progress.stop()
        if fh is not sys.stdin.buffer:
            fh.close()
    if bad:
        print(f"{bad} bad line{'s' if bad != 1 else ''} skipped", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.FAIL_ON if hit else ExitCode.OK


def run(args: argparse.Namespace, explain: bool = False) -> int:
    from ..evaluation.decide import RequestError
    from ..evaluation.jsonio import parse_json

    fail_on = _fail_on(args.fail_on)
    if args.demand and not args.jurisdiction:
        raise CommandError("--demand goes with --jurisdiction")
    if args.what_if and args.requests:
        raise CommandError("--what-if goes with --request or --jurisdiction, not --requests")
    engine = load_engine(policy_paths(args))
    if engine is None:
        return ExitCode.POLICY_ERRORS
    if args.requests:
        trees = explain and args.format == "human"
        return run_requests(engine, args.requests, args.on_error, fail_on, trees=trees, limits=_limits(args))
    # A RequestError (an unknown code or demand id, a request that does not fit the
    # vocabulary) reaches main(), which prints it, as JSON too with --format json.
    result: Decision | MarketDecision
    if args.jurisdiction:
        loaded = engine.jurisdictions()
        hint = alpha3_hint(args.jurisdiction, loaded)
        if hint is not None:
            raise RequestError("jurisdiction", f"`{args.jurisdiction}` is not a loaded jurisdiction", tuple(loaded), hint)
        if args.demand:
            result = engine.standing(args.jurisdiction, args.demand)
        else:
            result = engine.market(args.jurisdiction)
    else:
        result = engine.decide(parse_json(_read_text(args.request, _limits(args)), _limits(args)))
    if not (args.what_if and args.format == "json"):
        _render(engine, result, args.format, explain)
    if args.what_if:
        from ..analysis.whatif import print_what_if

        print_what_if(engine, result, args.format)
    return ExitCode.FAIL_ON if _outcomes(result) & fail_on else ExitCode.OK
