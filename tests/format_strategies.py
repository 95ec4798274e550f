"""Hypothesis strategy for the formatter: syntactically valid policy files in any layout.

:func:`policy_files` walks the grammar's productions (every declaration,
condition, literal and expectation form, optional separators and
descriptions), producing a list of tokens, and then joins the tokens with
randomly chosen whitespace: nothing (where the lexer allows it), spaces,
tabs, newlines, runs of blank lines, and comments alone on their line or
after code.  Strings carry escapes, placeholders, ``#`` signs and (triple
quoted) line breaks, so that comment detection is tested where it is easiest
to get wrong.

The files are valid for the parser only: names are not resolved and types
are not checked, because the formatter must keep the meaning of any file
that parses, whether or not it validates.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from hypothesis import strategies as st

KEYWORDS = {
    "vocabulary", "enum", "extend", "attribute", "from", "to", "or", "and", "not", "in", "is", "known",
    "unknown", "principle", "rule", "when", "because", "comply", "negotiate", "withdraw", "jurisdiction",
    "group", "demand", "test", "market", "by", "default", "true", "false",
}  # fmt: skip
# Tokens that may touch their neighbours with no whitespace in between.
PUNCTUATION = {"{", "}", "(", ")", ",", ";", ":", ".", "->", "=", "==", "!=", "<", "<=", ">", ">="}
OUTCOMES = ["comply", "negotiate", "withdraw"]
COMPARATORS = ["==", "!=", "<", "<=", ">", ">="]
COMMENT_TEXT = string.ascii_letters + string.digits + " #\"'{}();,.-=<>éü—\t"
STRING_TEXT = string.ascii_letters + string.digits + " #'(),.;:-=<>é—✓"
ESCAPES = ['\\"', "\\\\", "\\n", "\\t", "\\r", "\\{", "\\}"]


class _Writer:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.tokens: list[str] = []

    def emit(self, *tokens: str) -> None:
        self.tokens.extend(tokens)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # -- lexical pieces ------------------------------------------------------

    def name(self) -> str:
        rng = self.rng
        while True:
            first = rng.choice(string.ascii_letters + "_")
            rest = "".join(rng.choice(string.ascii_lowercase + string.digits + "_") for _ in range(rng.randint(0, 8)))
            word = first + rest
            if word not in KEYWORDS:
                return word

    def number(self) -> str:
        rng = self.rng
        sign = "-" if self.chance(0.2) else ""
        whole = str(rng.randint(0, 999))
        form = rng.randint(0, 4)
        if form == 0:
            body = whole
        elif form == 1:
            body = f"{whole}.{rng.randint(0, 9999)}"
        elif form == 2:
            body = f".{rng.randint(0, 99)}"
        elif form == 3:
            body = f"{whole}."
        else:
            body = f"{whole}{rng.choice('eE')}{rng.choice(['', '+', '-'])}{rng.randint(0, 30)}"
        return sign + body

    def string(self, placeholders: bool = False) -> str:
        rng = self.rng
        triple = self.chance(0.15)
        parts: list[str] = []
        for _ in range(rng.randint(0, 6)):
            roll = rng.random()
            if roll < 0.15:
                parts.append(rng.choice(ESCAPES))
            elif roll < 0.25 and placeholders:
                parts.append("{" + rng.choice(["demand", "jurisdiction"]) + "." + self.name() + "}")
            elif roll < 0.35 and triple:
                parts.append(rng.choice(["\n", "\n   ", "\n\n", '"', "'"]))
            else:
                parts.append("".join(rng.choice(STRING_TEXT) for _ in range(rng.randint(1, 12))))
        body = "".join(parts)
        if triple:
            # Two quotes in a row could become the closing three, and a quote
            # just before the closing ones would close the text early.
            while '""' in body:
                body = body.replace('""', '" "')
            if body.endswith('"'):
                body += " "
            return f'"""{body}"""'
        return f'"{body}"'

    def literal(self) -> None:
        roll = self.rng.randint(0, 5)
        if roll == 0:
            self.emit(self.name())
        elif roll == 1:
            self.emit(self.number())
        elif roll == 2:
            self.emit(self.string())
        else:
            self.emit(self.rng.choice(["true", "false", "unknown"]))

    def sep(self) -> None:
        roll = self.rng.random()
        if roll < 0.3:
            self.emit(";")
        elif roll < 0.5:
            self.emit(",")

    def ref(self) -> None:
        self.emit(self.rng.choice(["demand", "jurisdiction"]), ".", self.name())

    # -- conditions ------------------------------------------------------------

    def condition(self, depth: int) -> None:
        self.chain("or", lambda: self.chain("and", lambda: self.negated(depth), depth), depth)

    def chain(self, word: str, operand: Callable[[], None], depth: int) -> None:
        operand()
        for _ in range(self.rng.choice([0, 0, 1, 1, 2, 4]) if depth > 0 else 0):
            self.emit(word)
            operand()

    def negated(self, depth: int) -> None:
        while self.chance(0.2):
            self.emit("not")
        self.atom(depth)

    def atom(self, depth: int) -> None:
        roll = self.rng.randint(0, 6)
        if roll == 0 and depth > 0:
            opening = self.rng.choice([1, 1, 1, 2])
            self.emit(*["("] * opening)
            self.condition(depth - 1)
            self.emit(*[")"] * opening)
        elif roll <= 2:
            self.ref()
            self.emit(self.rng.choice(COMPARATORS))
            self.literal()
        elif roll <= 4:
            self.ref()
            if self.chance(0.3):
                self.emit("not")
            self.emit("in", "{")
            for _ in range(self.rng.randint(0, 12)):
                self.literal()
                self.sep()
            self.emit("}")
        elif roll == 5:
            self.ref()
            self.emit("is", self.rng.choice(["known", "unknown"]))
        else:
            self.ref()

    # -- declarations ------------------------------------------------------------

    def vocabulary(self) -> None:
        self.emit("vocabulary", "{")
        for _ in range(self.rng.randint(0, 5)):
            roll = self.rng.randint(0, 2)
            if roll < 2:
                if roll == 0:
                    self.emit("enum", self.name())
                    if self.chance(0.6):
                        self.emit(self.string())
                else:
                    self.emit("extend", "enum", self.name())
                self.emit("{")
                for _ in range(self.rng.randint(0, 6)):
                    self.emit(self.name())
                    if self.chance(0.6):
                        self.emit(self.string())
                    self.sep()
                self.emit("}")
            else:
                self.emit("attribute")
                self.ref()
                self.emit(":", self.name())
                if self.chance(0.3):
                    self.emit("from", self.number(), "to", self.number())
                if self.chance(0.3):
                    self.emit("or", "unknown")
                if self.chance(0.3):
                    self.emit("=")
                    self.literal()
                if self.chance(0.6):
                    self.emit(self.string())
        self.emit("}")

    def principle(self) -> None:
        self.emit("principle", self.name(), self.string(), "{")
        for _ in range(self.rng.randint(0, 4)):
            self.emit("rule", self.name(), ":", self.rng.choice(OUTCOMES), "when")
            self.condition(self.rng.randint(0, 3))
            self.emit("because", self.string(placeholders=True))
        self.emit("}")

    def assignments(self, most: int) -> None:
        for _ in range(self.rng.randint(0, most)):
            self.emit(self.name(), "=")
            self.literal()
            self.sep()

    def jurisdiction(self) -> None:
        self.emit(self.rng.choice(["jurisdiction", "group"]), self.name(), self.string())
        if self.chance(0.4):
            self.emit("in", self.name())
        self.emit("{")
        for _ in range(self.rng.randint(0, 6)):
            if self.chance(0.35):
                self.emit("demand", self.name(), self.string(), "{")
                self.assignments(6)
                self.emit("}")
            else:
                self.emit(self.name(), "=")
                self.literal()
                self.sep()
        self.emit("}")

    def test(self) -> None:
        self.emit("test", self.string(), "{")
        for _ in range(self.rng.randint(0, 5)):
            roll = self.rng.randint(0, 2)
            if roll == 0:
                self.emit("market", self.name(), "->", self.rng.choice(OUTCOMES))
                continue
            if roll == 1:
                self.emit(self.name(), ".", self.name())
            else:
                self.emit(self.name(), "{")
                self.assignments(6)
                self.emit("}")
            self.emit("->", self.rng.choice(OUTCOMES))
            if self.chance(0.5):
                if self.chance(0.3):
                    self.emit("by", "default")
                else:
                    self.emit("by", self.name(), ".", self.name())
        self.emit("}")

    def file(self) -> None:
        for _ in range(self.rng.randint(0, 5)):
            self.rng.choice([self.vocabulary, self.principle, self.jurisdiction, self.test])()


def _wordish(token: str) -> bool:
    return token not in PUNCTUATION


def _comment(rng: random.Random) -> str:
    return "#" + "".join(rng.choice(COMMENT_TEXT) for _ in range(rng.randint(0, 30)))


def _join(tokens: list[str], rng: random.Random, style: float) -> str:
    """Join tokens with whitespace and comments; ``style`` from 0 (tidy) to 1 (chaotic)."""
    out: list[str] = []
    if rng.random() < style:
        out.append(_comment(rng) + "\n" * rng.randint(1, 3))
    for i, tok in enumerate(tokens):
        out.append(tok)
        if i == len(tokens) - 1:
            break
        roll = rng.random()
        if roll < style * 0.08:
            out.append(" " * rng.randint(0, 3) + _comment(rng) + "\n" + " " * rng.randint(0, 6))
        elif roll < style * 0.12:
            out.append("\n" * rng.randint(1, 3) + " " * rng.randint(0, 6) + _comment(rng) + "\n" * rng.randint(1, 3))
        elif roll < style * 0.3:
            out.append(rng.choice(["\n", "\n\n", "\n\n\n", "\n    ", "\n\t", " \n  "]))
        elif roll < style * 0.4 and not (_wordish(tok) and _wordish(tokens[i + 1])):
            out.append("")
        else:
            out.append(rng.choice([" ", " ", " ", "  ", "\t"]))
    if rng.random() < style:
        out.append("\n" * rng.randint(0, 3) + _comment(rng))
    out.append(rng.choice(["", "\n", "\n\n", "  \n"]))
    return "".join(out)


@st.composite
def policy_files(draw: st.DrawFn) -> str:
    """One syntactically valid policy file, in a random layout with random comments."""
    rng = draw(st.randoms(use_true_random=False))
    writer = _Writer(rng)
    writer.file()
    return _join(writer.tokens, rng, draw(st.sampled_from([0.0, 0.3, 1.0])))
