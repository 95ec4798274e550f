"""A request router: authority requests in, three work queues out.

Trust-and-safety teams receive demands from authorities all day.  This
example shows how a platform would put policyengine in front of them, using
only the public API (``policyengine.load``, ``Engine.decide``, ``Decision``,
``Outcome``, ``RequestError``):

* comply    → the fulfilment queue, with the rule that allows it for the audit log;
* negotiate → legal review, with what the reviewer must look at (the rules
  that asked for it, the values nobody knows, or "no principle covers it");
* withdraw  → a refusal, whose letter is the explanation itself: principle,
  reason, rule and policy version, so the refusal can be defended later;
* a request that does not fit the vocabulary goes back to the sender with
  the field to fix, and never reaches a person's queue.

It fails closed: every line is read with ``policyengine.parse_json`` (so a
duplicate key cannot smuggle a second ``kind`` past the reader, deep nesting
is an error and not a crash, a lone surrogate is refused), and anything that
goes wrong with a ticket sends it back or to a person, never to fulfilment.
Everything it prints is escaped: a ticket or a policy text cannot drive the
terminal.

Run it on a file of JSON lines, one ``{"ticket": ..., "request": {...}}`` a line::

    python examples/router.py inbox.jsonl [--policies DIR]

(in a source checkout without ``pip install``, run it as
``PYTHONPATH=. python examples/router.py ...``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import policyengine
from policyengine import Decision, Outcome, RequestError

FULFILMENT = "fulfilment"
LEGAL_REVIEW = "legal_review"
REFUSAL = "refusal"
RETURNED = "returned"

QUEUE_OF = {Outcome.COMPLY: FULFILMENT, Outcome.NEGOTIATE: LEGAL_REVIEW, Outcome.WITHDRAW: REFUSAL}
#: Longest ticket id kept; a longer one is cut (it is only a label).
MAX_TICKET = 200


def shown(text: str) -> str:
    """``text`` safe to print: control characters, bidirectional overrides and lone
    surrogates as ``\\x1b``-style escapes (line breaks and tabs kept)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in "\n\t" or ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


@dataclass(frozen=True)
class Unreadable:
    """A line that could not be read as a request: it goes back to the sender."""

    field: str
    message: str


@dataclass(frozen=True)
class Routed:
    """Where one ticket went, and the text the people at that queue read."""

    ticket: str
    queue: str
    note: str
    decision: Decision | None = None


def refusal_letter(d: Decision) -> str:
    """The refusal, written from the decision's reasons: what we will not do and why."""
    lines = [f"We will not carry out this demand from {d.jurisdiction}."]
    for r in d.reasons:
        lines.append(f"- {r.statement}: {r.because} ({r.principle}.{r.rule}, {r.source})")
    lines.append(f"Decided under policy version {d.policy_version}.")
    return "\n".join(lines)


def review_note(d: Decision) -> str:
    """What a lawyer needs to know first: why a person must look at this."""
    if d.default_applied and not d.reasons:
        note = "no principle covers this demand"
    elif d.default_applied:  # an engine-made reason, e.g. a jurisdiction the set does not know
        note = "; ".join(r.because for r in d.reasons)
    else:
        note = "; ".join(f"{r.principle}.{r.rule}: {r.because}" for r in d.reasons)
    unknown = sorted({a for u in d.undetermined for a in u.unknown})
    if unknown:
        note += f" (could not evaluate {len(d.undetermined)} rule(s): {', '.join(unknown)} unknown)"
    return note


@dataclass
class Router:
    """Routes requests by decision; one engine, any number of requests."""

    engine: policyengine.Engine
    queues: dict[str, list[Routed]] = field(default_factory=dict)

    def route(self, ticket: str, request: Any) -> Routed:
        if isinstance(request, Unreadable):
            routed = Routed(ticket, RETURNED, f"fix `{request.field}`: {request.message}")
            self.queues.setdefault(routed.queue, []).append(routed)
            return routed
        try:
            d = self.engine.decide(request)
        except RequestError as err:
            hint = f" ({err.hint})" if err.hint else ""
            routed = Routed(ticket, RETURNED, f"fix `{err.field}`: {err.message}{hint}")
        except Exception as err:  # fail closed: what cannot be decided goes to a person, never to fulfilment
            routed = Routed(ticket, LEGAL_REVIEW, f"could not be decided ({type(err).__name__}: {err}); review by hand")
        else:
            queue = QUEUE_OF[d.outcome]
            if queue == REFUSAL:
                note = refusal_letter(d)
            elif queue == LEGAL_REVIEW:
                note = review_note(d)
            else:
                note = "; ".join(f"allowed by {r.principle}.{r.rule} ({r.source})" for r in d.reasons)
            routed = Routed(ticket, queue, note, d)
        self.queues.setdefault(routed.queue, []).append(routed)
        return routed

    def route_all(self, tickets: Iterable[tuple[str, Any]]) -> list[Routed]:
        return [self.route(ticket, request) for ticket, request in tickets]


def read_inbox(lines: Iterable[str | bytes]) -> Iterable[tuple[str, Any]]:
    """``(ticket, request)`` pairs from JSON lines; a line that cannot be read is still a ticket.

    Each line is parsed by :func:`policyengine.parse_json`, with the checks a
    request gets (duplicate keys, depth, size, unpaired surrogates); a line
    that fails them, or is not UTF-8, becomes an :class:`Unreadable` request,
    returned to the sender.
    """
    for n, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            yield f"line-{n}", Unreadable("request", "is not UTF-8 text")
            continue
        if not line.strip():
            continue
        try:
            item = policyengine.parse_json(line.rstrip("\r\n"))
        except RequestError as err:
            yield f"line-{n}", Unreadable(err.field, err.message)
            continue
        if isinstance(item, dict) and "request" in item:
            ticket = item.get("ticket", f"line-{n}")
            ticket = ticket if isinstance(ticket, str) else f"line-{n}"
            yield ticket[:MAX_TICKET], item["request"]
        else:
            yield f"line-{n}", item


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Route authority requests by policyengine decision.")
    parser.add_argument("inbox", help='JSON lines: {"ticket": ..., "request": {...}} (- for stdin)')
    parser.add_argument("--policies", help="policy set directory (default: the shipped library)")
    args = parser.parse_args(argv)
    try:
        engine = policyengine.load(args.policies)
    except policyengine.PolicyError as err:
        print(shown(f"cannot load the policies: {err}"), file=sys.stderr)
        return 1
    router = Router(engine)
    try:
        if args.inbox == "-":
            router.route_all(read_inbox(sys.stdin.buffer))
        else:
            with open(args.inbox, "rb") as fh:
                router.route_all(read_inbox(fh))
    except OSError as err:
        print(shown(f"cannot read {args.inbox}: {err}"), file=sys.stderr)
        return 2
    for queue in (FULFILMENT, LEGAL_REVIEW, REFUSAL, RETURNED):
        items = router.queues.get(queue, [])
        print(f"== {queue} ({len(items)})")
        for item in items:
            print(shown(f"[{item.ticket}] " + item.note.replace("\n", "\n    ")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
