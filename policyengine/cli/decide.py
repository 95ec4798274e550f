"""`policyengine decide` and `policyengine explain`: decisions from the command line.

Inputs (one of): ``--jurisdiction CODE [--demand ID]`` (standing demands and the
market outcome), ``--request FILE`` (one JSON request, ``-`` for stdin) or
``--requests FILE.jsonl`` (many, streamed, one JSON decision per line; with
``explain``, one tree per line).  ``explain`` takes the same inputs and
differs only in its human output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import IO, TYPE_CHECKING, Any

from ..language.diagnostics import did_you_mean
from ..language.text import json_safe, safe
from .common import (
    CommandError,
    ExitCode,
    add_as_of_argument,
    add_budget_arguments,
    add_policies_argument,
    alpha3_hint,
    as_of,
    budget_from,
    console,
    error_fields,
    load_engine,
    policy_paths,
    policy_root,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.console import RenderableType
    from rich.text import Text

    from ..evaluation.decision import Decision, MarketDecision
    from ..evaluation.engine import Engine
    from ..evaluation.explain import SourcePaths
    from ..evaluation.jsonio import RequestLimits
    from ..evaluation.requests import RequestError

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
    add_budget_arguments(parser)
    parser.add_argument("--format", choices=("human", "json"), default="human", help="output format (default: human)")
    add_as_of_argument(parser, "explain" if explain else "decide")
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
    from .journal import add_journal_arguments

    add_journal_arguments(parser)
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


#: How the JSON of a decision carries no root; :func:`with_source_root` fills it in.
_NO_ROOT = '"source_root":null'


def rooted(result: Decision | MarketDecision, root: str | None) -> Decision | MarketDecision:
    """``result`` saying what its ``source`` paths are relative to (a market's decisions too)."""
    from ..evaluation.decision import MarketDecision

    if root is None:
        return result
    if isinstance(result, MarketDecision):
        inner = tuple(d.model_copy(update={"source_root": root}) for d in result.decisions)
        return result.model_copy(update={"source_root": root, "decisions": inner})
    return result.model_copy(update={"source_root": root})


def with_source_root(answer: str, root: str | None) -> str:
    """A decision's compact JSON (serialised once per memoised decision) with its root filled in.

    The top-level field is the last ``"source_root":null`` of the text: it follows the
    demand's attributes (the only place an author's names appear as keys), and every text
    value has its quotes escaped, so nothing after it can spell it."""
    if root is None:
        return answer
    at = answer.rfind(_NO_ROOT)
    if at < 0:
        return answer
    return f'{answer[:at]}"source_root":{json.dumps(root, ensure_ascii=False)}{answer[at + len(_NO_ROOT) :]}'


def _print_json(obj: Any, out: IO[str]) -> None:
    out.write(json_safe(obj.model_dump_json(indent=2) if hasattr(obj, "model_dump_json") else json.dumps(obj, indent=2)))
    out.write("\n")


def _render(engine: Engine, result: Decision | MarketDecision, fmt: str, explain: bool, paths: SourcePaths) -> None:
    from ..evaluation.decision import MarketDecision
    from ..evaluation.explain import decision_blocks, explanation_tree, market_trees, market_view, tidy

    if fmt == "json":
        _print_json(rooted(result, paths.root), sys.stdout)
        return
    view: RenderableType
    would = would_decide(engine)
    if isinstance(result, MarketDecision):
        view = market_trees(result, engine.policy_set, paths, would) if explain else market_view(result, paths)
    else:
        view = explanation_tree(result, engine.policy_set, paths, would(result)) if explain else decision_blocks([result], paths)
    console().print(tidy(view))


#: Most changes an explanation of the default decision lists under "would decide".
WOULD_DECIDE = 6


def would_decide(engine: Engine) -> Callable[[Decision], list[str]]:
    """For a decision no rule made (the default), the smallest changes of the demand that a
    rule would decide (what-if), for its explanation; nothing for the others."""

    def changes(d: Decision) -> list[str]:
        if not d.default_applied or d.reasons:
            return []
        from ..analysis.whatif import what_if_decision

        found = what_if_decision(engine, d)
        out = [c.summary for a in found.alternatives for c in a.changes if not c.default_applied]
        return out[:WOULD_DECIDE] + (
            [f"… and {len(out) - WOULD_DECIDE} more (--what-if lists them)"] if len(out) > WOULD_DECIDE else []
        )

    return changes


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


def _tree_printer(engine: Engine, paths: SourcePaths) -> Callable[[int, Decision], None]:
    from ..evaluation.explain import explanation_tree, tidy

    con = console()

    would = would_decide(engine)

    def show(n: int, decision: Decision) -> None:
        con.print(_t(f"line {n}", "dim"))
        con.print(tidy(explanation_tree(decision, engine.policy_set, paths, would(decision))))
        con.print()

    return show


def _t(text: str, style: str) -> Text:
    from rich.text import Text

    return Text(safe(text), style=style)


#: Distinct request lines whose answers ``--requests`` keeps (:class:`AnsweredLines`) ...
ANSWERED_LINES = 50_000
#: ... and the most memory they take, in bytes: a line may be 1 MB, so the count
#: alone would allow some 50 GB.
ANSWERED_BYTES = 64 * 1024 * 1024
#: Memory of one entry besides its two strings: the (answer, failed) tuple and
#: the dict slot (``sys.getsizeof`` of the tuple, plus the key, value and hash words).
_ENTRY_BYTES = 56 + 24
#: Output lines ``--requests`` gathers before one write.
FLUSH_EVERY = 256
#: Lines between two updates of the progress bar.
_PROGRESS_EVERY = 1000


class AnsweredLines:
    """The JSON answers of the request lines already decided in this run.

    The engine is deterministic, so the same line always gets the same answer:
    a repeated line skips JSON parsing and the decision.  Bounded twice, by
    :data:`ANSWERED_LINES` entries and by :data:`ANSWERED_BYTES` of memory
    (``nbytes``: the line and answer strings as ``sys.getsizeof`` counts them,
    plus :data:`_ENTRY_BYTES` per entry); past either bound nothing more is
    kept and later lines are decided as usual, so a file of distinct lines
    does not grow memory past it.
    """

    __slots__ = ("_answers", "max_bytes", "max_lines", "nbytes")

    def __init__(self, max_lines: int | None = None, max_bytes: int | None = None):
        self.max_lines = ANSWERED_LINES if max_lines is None else max_lines
        self.max_bytes = ANSWERED_BYTES if max_bytes is None else max_bytes
        self.nbytes = 0
        self._answers: dict[str, tuple[str, bool]] = {}

    def get(self, line: str) -> tuple[str, bool] | None:
        return self._answers.get(line)

    def put(self, line: str, answer: str, failed: bool) -> None:
        if len(self._answers) >= self.max_lines or line in self._answers:
            return
        size = entry_bytes(line, answer)
        if self.nbytes + size <= self.max_bytes:
            self._answers[line] = (answer, failed)
            self.nbytes += size

    def __len__(self) -> int:
        return len(self._answers)

    def items(self) -> list[tuple[str, tuple[str, bool]]]:
        return list(self._answers.items())


def entry_bytes(line: str, answer: str) -> int:
    """What one :class:`AnsweredLines` entry costs, in bytes."""
    return sys.getsizeof(line) + sys.getsizeof(answer) + _ENTRY_BYTES


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


# --- --requests: a reader, the decisions, a writer ------------------------------------------

_Line = tuple[int, "str | RequestError"]
#: (line number, the JSON answer or the Decision, or the line's error; whether --fail-on hit)
_Result = tuple[int, "str | Decision | RequestError", bool]


def request_lines(fh: IO[bytes], limit: int, progress: Callable[[int], None] | None = None) -> Iterator[_Line]:
    """The reader: each non-blank line's number (from 1) and text, or the
    :class:`RequestError` that makes it unreadable (longer than ``limit``
    bytes, not UTF-8).  ``progress`` is told the bytes read, now and then."""
    from ..evaluation.requests import RequestError

    done = 0
    for n, (raw, length) in enumerate(_bounded_lines(fh, limit), 1):
        done += length
        if progress is not None and n % _PROGRESS_EVERY == 0:
            progress(done)
        if raw is None:
            yield n, RequestError("request", f"is a line of {length:,} bytes; the limit is {limit:,}", code="request.too-large")
            continue
        try:
            line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield n, RequestError("request", f"is not UTF-8 text (byte {exc.start + 1} of the line)", code="request.not-unicode")
            continue
        if line.strip():
            yield n, line


def _decide_line(engine: Engine, line: str, limits: RequestLimits, as_of: datetime.date | None = None) -> Decision | RequestError:
    from ..evaluation.jsonio import parse_json
    from ..evaluation.requests import RequestError

    try:
        return engine.decide(parse_json(line.rstrip("\r\n"), limits), as_of=as_of)
    except RequestError as exc:
        return exc


def decisions(
    engine: Engine, lines: Iterator[_Line], limits: RequestLimits, fail_on: set[str], as_of: datetime.date | None = None
) -> Iterator[_Result]:
    """The decisions, for explanation trees: each line's Decision (or error); ``as_of`` for the
    lines that give no date of their own (None: today)."""
    for n, line in lines:
        result = line if not isinstance(line, str) else _decide_line(engine, line, limits, as_of)
        yield n, result, not isinstance(result, Exception) and result.outcome.value in fail_on


def json_answers(
    engine: Engine,
    lines: Iterator[_Line],
    limits: RequestLimits,
    fail_on: set[str],
    answered: AnsweredLines | None = None,
    as_of: datetime.date | None = None,
    root: str | None = None,
) -> Iterator[_Result]:
    """The decisions, as JSON lines: each line's serialised decision (or error), with
    ``root`` as its ``source_root`` (as :func:`with_source_root` fills it in).
    A line seen before is answered from ``answered`` without being parsed (one run has
    one ``as_of``, so the same line always gets the same answer)."""
    from ..evaluation.json_out import DecisionJSON
    from ..evaluation.jsonio import parse_json
    from ..evaluation.requests import RequestError

    answered = AnsweredLines() if answered is None else answered
    write = DecisionJSON(root)  # this run's memos of the parts of decisions
    decide = engine.decide
    remembered = answered.get
    for n, line in lines:
        if not isinstance(line, str):
            yield n, line, False
            continue
        found = remembered(line)
        if found is None:
            try:
                decision = decide(parse_json(line.rstrip("\r\n"), limits), as_of=as_of)
            except RequestError as exc:
                yield n, exc, False
                continue
            found = (write(decision), decision.outcome.value in fail_on)
            # A line with an id is almost always unique: not worth keeping.
            request = decision.request
            if request.get("id") is None and request.get("description") is None:
                answered.put(line, *found)
        yield n, found[0], found[1]


class _Writer:
    """The writer: JSON lines to stdout in batches of :data:`FLUSH_EVERY` (one
    write per line costs more than the decision it carries when that is a memo hit)."""

    def __init__(self) -> None:
        self._write = sys.stdout.write
        self._out: list[str] = []

    def line(self, text: str) -> None:
        self._out.append(text)
        if len(self._out) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self._out:
            self._out.append("")
            text = "\n".join(self._out)
            # C1 controls and bidi overrides as \uXXXX; ASCII text without DEL has none
            # (``isascii`` is a flag of the string, the ``in`` a byte search).
            self._write(text if text.isascii() and "\x7f" not in text else json_safe(text))
            self._out.clear()


def _progress_bar(size: int | None) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    """(update, stop) of a progress bar on stderr, shown only when the output goes
    elsewhere than the terminal (`--requests big.jsonl > out.jsonl`); otherwise
    the output is the progress."""
    if not (sys.stderr.isatty() and not sys.stdout.isatty()):
        return None, lambda: None
    from rich.progress import Progress

    progress = Progress(transient=True, console=console(stderr=True))
    task = progress.add_task("deciding", total=size)
    progress.start()
    return (lambda done: progress.update(task, completed=done)), progress.stop


def run_requests(
    engine: Engine,
    path: str,
    on_error: str,
    fail_on: set[str],
    trees: bool = False,
    limits: RequestLimits | None = None,
    paths: SourcePaths | None = None,
    as_of: datetime.date | None = None,
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
    from ..evaluation.jsonio import RequestLimits
    from ..evaluation.requests import RequestError

    limits = limits or RequestLimits()
    name = "<stdin>" if path == "-" else path
    fh, size = _open(path)
    update, stop = _progress_bar(size)
    writer = _Writer()
    from ..evaluation.explain import AS_CARRIED

    paths = paths or AS_CARRIED
    show = _tree_printer(engine, paths) if trees else None
    root = paths.root
    bad = 0
    hit = False
    try:
        lines = request_lines(fh, limits.max_bytes, update)
        results = (
            decisions(engine, lines, limits, fail_on, as_of)
            if trees
            else json_answers(engine, lines, limits, fail_on, as_of=as_of, root=root)
        )
        for n, result, failed in results:
            if isinstance(result, RequestError):
                bad += 1
                if show is None:
                    writer.line(json.dumps(error_record(result, n)))
                    writer.flush()
                print(f"{safe(name)}:{n}: error: {safe(str(result))}", file=sys.stderr)
                if on_error == "stop":
                    return ExitCode.USAGE
                continue
            hit = hit or failed
            if show is not None:
                show(n, result)  # type: ignore[arg-type]
            else:
                writer.line(result)  # type: ignore[arg-type]
    finally:
        writer.flush()
        stop()
        if fh is not sys.stdin.buffer:
            fh.close()
    if bad:
        print(f"{bad} bad line{'s' if bad != 1 else ''} skipped", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.FAIL_ON if hit else ExitCode.OK


def run(args: argparse.Namespace, explain: bool = False) -> int:
    fail_on = _fail_on(args.fail_on)
    when = as_of(args)  # a bad date is a usage error before anything is loaded
    if args.demand and not args.jurisdiction:
        raise CommandError("--demand goes with --jurisdiction")
    if args.what_if and args.requests:
        raise CommandError("--what-if goes with --request or --jurisdiction, not --requests")
    from ..evaluation.explain import SourcePaths

    engine = load_engine(policy_paths(args))
    if engine is None:
        return ExitCode.POLICY_ERRORS
    paths = SourcePaths(policy_root(policy_paths(args)))
    if args.journal:
        from .journal import open_from_args

        # Closed (everything committed) before the exit code is returned.
        with open_from_args(args.journal, args.journal_mode, args.journal_mask) as journal:
            return _decide(args, engine.with_journal(journal), explain, fail_on, when, paths)
    return _decide(args, engine, explain, fail_on, when, paths)


def _decide(
    args: argparse.Namespace,
    engine: Engine,
    explain: bool,
    fail_on: set[str],
    when: datetime.date | None,
    paths: SourcePaths,
) -> int:
    from ..evaluation.jsonio import parse_json
    from ..evaluation.requests import RequestError

    if args.requests:
        trees = explain and args.format == "human"
        if engine.journal is not None and not trees:
            from .journal import write_journaled

            fh, _ = _open(args.requests)
            try:
                lines = request_lines(fh, _limits(args).max_bytes)
                results = decisions(engine.with_journal(None), lines, _limits(args), fail_on, when)
                return write_journaled(engine, results, args.requests, args.on_error, error_record)
            finally:
                if fh is not sys.stdin.buffer:
                    fh.close()
        return run_requests(
            engine, args.requests, args.on_error, fail_on, trees=trees, limits=_limits(args), paths=paths, as_of=when
        )
    # A RequestError (an unknown code or demand id, a request that does not fit the
    # vocabulary) reaches main(), which prints it, as JSON too with --format json.
    result: Decision | MarketDecision
    if args.jurisdiction:
        loaded = engine.jurisdictions()
        hint = alpha3_hint(args.jurisdiction, loaded)
        if hint is not None:
            raise RequestError("jurisdiction", f"`{args.jurisdiction}` is not a loaded jurisdiction", tuple(loaded), hint)
        if args.demand:
            result = engine.standing(args.jurisdiction, args.demand, as_of=when)
        else:
            result = engine.market(args.jurisdiction, as_of=when)
    else:
        result = engine.decide(parse_json(_read_text(args.request, _limits(args)), _limits(args)), as_of=when)
    if not (args.what_if and args.format == "json"):
        _render(engine, result, args.format, explain, paths)
    if engine.journal is not None and args.format == "human":
        from .journal import recorded_note

        print(recorded_note(result, args.journal), file=sys.stderr)
    if args.what_if:
        from ..analysis.whatif import print_what_if

        complete = print_what_if(engine, result, args.format, budget_from(args))
        if not complete and not _outcomes(result) & fail_on:
            return ExitCode.INCOMPLETE  # the decision stands; the search for changes is what stopped
    return ExitCode.FAIL_ON if _outcomes(result) & fail_on else ExitCode.OK
