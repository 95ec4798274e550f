"""The grammar of the policy language, read as text: its words, for the modules that must not build a parser.

Stage contract: at import, reads ``grammar.lark`` (the language's
specification) from the package and derives the words it spells out:
:data:`KEYWORDS`, and :func:`words_of` for one rule.  It never raises on a
well-formed installation and imports no Lark, so the Pygments lexer
(:mod:`.highlight`) stays as cheap to import as it was, while taking its
words from the same place as the parser.

The reading is deliberately small: rule definitions start at the beginning
of a line, ``//`` starts a comment, ``/…/`` is a regular expression and
``"…"`` a literal.  tests/test_grammar.py checks that it finds exactly the
keywords Lark finds in the parser built from the same text, so a grammar
written in a way this reading misses fails there, not in a user's editor.
"""

from __future__ import annotations

import re
from importlib import resources

#: The grammar, exactly as shipped (the parser is built from this text, and
#: its table is checked against a hash of it).
GRAMMAR = resources.files("policyengine.language").joinpath("grammar.lark").read_text(encoding="utf-8")

_COMMENT = re.compile(r"//[^\n]*")
_REGEXP = re.compile(r"/(?:[^/\\\n]|\\.)+/[imslux]*")
_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_DEFINITION = re.compile(r"^[?!]?(\w+)(?:\.-?\d+)?[ \t]*:", re.MULTILINE)


def _definitions(grammar: str) -> dict[str, str]:
    """Rule or terminal name → the text of its productions (comments and regular expressions taken out)."""
    code = _REGEXP.sub(" ", _COMMENT.sub("", grammar))
    starts = list(_DEFINITION.finditer(code))
    out: dict[str, str] = {}
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(code)
        body = code[m.end() : end]
        directive = re.search(r"^%", body, re.MULTILINE)
        out[m.group(1)] = body[: directive.start()] if directive else body
    return out


_RULES = _definitions(GRAMMAR)


def production(rule: str) -> str:
    """The productions of a grammar rule, on one line: ``production("range")`` →
    ``'"from" number "to" number'``.  Raises KeyError for a rule the grammar lacks."""
    return " ".join(_RULES[rule].split())


def words_of(rule: str) -> tuple[str, ...]:
    """The words a grammar rule spells out, in the order written: ``words_of("outcome")`` →
    ``("comply", "negotiate", "withdraw")``.  Raises KeyError for a rule the grammar lacks."""
    found = [m.group(1) for m in _LITERAL.finditer(_RULES[rule])]
    return tuple(dict.fromkeys(w for w in found if w.isidentifier()))


#: Every keyword of the language: each word the grammar spells out in a rule.
KEYWORDS = frozenset(w for name in _RULES for w in words_of(name))
#: The three outcomes of a rule, in the grammar's order.
OUTCOMES = words_of("outcome")
