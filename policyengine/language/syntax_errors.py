"""Syntax errors in an author's words: the catalogue of recognised mistakes.

Stage contract: :func:`explain` takes an :class:`~.error_site.ErrorSite`
(what the parser saw at a syntax error) and returns the name of the case
that recognised it and an :class:`~.error_site.Explanation` (code, message,
span, hint, and whether recovery may insert a missing `}`).  It never raises
on author input.  Nothing here drives Lark: the parser builds the site, and
this module only reads it, so it is the catalogue and nothing else, as Lark
keeps its ``GRAMMAR_ERRORS`` apart from its parsing machinery.

How a syntax error becomes a message.  At the error we know the unexpected
token (or character), the tokens the parser would have accepted, and the
constructs still open (``principle encryption … { … rule no_keys: withdraw
when …``), from which :meth:`~.error_site.ErrorSite.error` puts the context
in front of every message (``in principle `encryption`, rule `no_keys`: ``).
The first entry of :data:`ERROR_EXAMPLES` that recognises the situation
explains it, with a hint.  Each entry carries example policies that trigger
it, and the test suite checks every one, so the table is also the catalogue
of mistakes we expect authors to make.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from lark import Token, Tree

from .diagnostics import did_you_mean
from .error_site import (
    DECLARATIONS,
    TOP_KEYWORDS,
    ErrorSite,
    Explanation,
    clip,
    describe_expected,
    insertion_point,
    leaves,
    shown,
)
from .grammar import KEYWORDS, OUTCOMES, words_of

_CONDITION_START = {"DEMAND", "JURISDICTION", "NOT", "LPAR"}
_STRINGS = {"STRING", "LONG_STRING"}
_LITERAL_WORDS = frozenset(words_of("literal"))


# ---------------------------------------------------------------------------
# ERROR_EXAMPLES: the mistakes we recognise, each with examples.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntaxCase:
    """One recognised mistake: ``explain`` returns None when the situation is not this one."""

    name: str
    explain: Callable[[ErrorSite], Explanation | None]
    examples: tuple[str, ...] = field(default=())


#: The recognised mistakes, most specific first.  Every example must be
#: explained by its own case (tests/test_grammar.py checks them all).
ERROR_EXAMPLES: list[SyntaxCase] = []


_Explain = Callable[[ErrorSite], "Explanation | None"]


def _case(name: str, *examples: str) -> Callable[[_Explain], _Explain]:
    def register(fn: _Explain) -> _Explain:
        ERROR_EXAMPLES.append(SyntaxCase(name, fn, examples))
        return fn

    return register


def _in_rule(body: str) -> str:
    """An example policy whose only rule reads ``rule r: <body>``."""
    return f'principle p "Statement" {{\n    rule r: {body}\n}}\n'


def _in_jurisdiction(body: str) -> str:
    return f'jurisdiction FR "France" {{\n    {body}\n}}\n'


def _in_test(body: str) -> str:
    return f'test "t" {{\n    {body}\n}}\n'


# -- strings and characters ----------------------------------------------------


def _long_string_start(site: ErrorSite) -> int | None:
    """Where an unterminated `\"\"\"` starts, if the bad quote belongs to one.

    The lexer reads an unclosed `\"\"\"` as an empty text `\"\"` followed by a
    stray `"`, so the error arrives at the third quote."""
    for back in (0, 2):
        s = site.start - back
        if s >= 0 and site.text.startswith('"""', s):
            return s
    return None


@_case("unterminated-long-string", _in_rule('withdraw when demand.mandatory because """a reason\n'))
def _unterminated_long(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value != '"':
        return None
    s = _long_string_start(site)
    if s is None:
        return None
    line_end = site.text.find("\n", s)
    end = len(site.text) if line_end == -1 else line_end
    return site.error("PE104", 'this `"""` text is never closed', s, end, hint='end it with `"""`', label="the text starts here")


@_case(
    "unterminated-string",
    _in_rule('withdraw when demand.mandatory because "a reason\n'),
    'principle p "Statement {\n}\n',
)
def _unterminated(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value != '"':
        return None
    line_end = site.text.find("\n", site.start)
    return site.error(
        "PE104",
        "this text has no closing quote",
        end=len(site.text) if line_end == -1 else line_end,
        hint='end it with `"` on the same line; a text that runs over several lines is written between `"""`',
    )


@_case("single-quotes", "principle p 'Statement' {\n}\n")
def _single_quotes(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value not in "'‘’":
        return None
    return site.error("PE102", "texts are written between double quotes", hint="write \"like this\", not 'like this'")


@_case("typographic-quotes", "principle p “Statement” {\n}\n")
def _curly_quotes(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value not in "“”„«»":
        return None
    return site.error(
        "PE102",
        f"`{site.value}` is a typographic quote",
        hint='write texts between straight double quotes: "like this" '
        "(word processors put in typographic ones: edit policies in a text editor)",
    )


def _foreign_operator(site: ErrorSite, written: str, ours: str) -> Explanation | None:
    if site.kind != "character" or not site.text.startswith(written, site.start):
        return None
    return site.error(
        "PE102",
        f"`{written}` is not an operator of this language; write `{ours}`",
        end=site.start + len(written),
        hint=f"conditions are joined with `and` and `or`, and negated with `not`: `… {ours} …`",
    )


@_case("and-and", _in_rule('withdraw when demand.mandatory && demand.kind == hotline because "x"'))
def _and_and(site: ErrorSite) -> Explanation | None:
    return _foreign_operator(site, "&&", "and") or _foreign_operator(site, "&", "and")


@_case("or-or", _in_rule('withdraw when demand.mandatory || demand.kind == hotline because "x"'))
def _or_or(site: ErrorSite) -> Explanation | None:
    return _foreign_operator(site, "||", "or") or _foreign_operator(site, "|", "or")


@_case("bang-not", _in_rule('withdraw when !demand.mandatory because "x"'))
def _bang(site: ErrorSite) -> Explanation | None:
    if site.text.startswith("!=", site.start):
        return None
    return _foreign_operator(site, "!", "not")


@_case("dash-in-name", 'principle never-hand-keys "Statement" {\n}\n', _in_rule("").replace("rule r:", "rule no-keys:"))
def _dash_in_name(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value != "-":
        return None
    m = re.compile(r"[A-Za-z_]\w*(?:-\w+)+").match(site.text, _word_start(site.text, site.start))
    if m is None or m.end() <= site.start:
        return None
    word = clip(m.group(0))
    message = f"`{word}` is not a valid name: names cannot contain `-`"
    return site.error("PE102", message, m.start(), m.end(), hint=f"write `{word.replace('-', '_')}`")


def _word_start(text: str, pos: int) -> int:
    """Start of the name-and-dashes word that ends just before ``pos``."""
    i = pos
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_-") and text[i - 1].isascii():
        i -= 1
    return i


def _enclosed(site: ErrorSite, closer: str) -> str:
    """The text between the opening bracket at the error and ``closer`` on the same line."""
    line_end = site.text.find("\n", site.start)
    line = site.text[site.start + 1 : len(site.text) if line_end == -1 else line_end]
    inner = line.split(closer, 1)[0] if closer in line else "…"
    inner = " ".join(inner.split())
    return inner if 0 < len(inner) <= 60 else "…"


@_case("square-brackets", _in_rule('withdraw when demand.kind in [hotline, user_data] because "x"'))
def _brackets(site: ErrorSite) -> Explanation | None:
    # `[` is a token since lists of text (`sources = ["…"]`), so where a set
    # is expected it arrives as an unexpected token, not a character.
    if site.found != "LSQB" or site.top_type != "IN":
        return None
    return site.error(
        "PE101", "a set of values is written between braces, not brackets", hint=f"write `in {{{_enclosed(site, ']')}}}`"
    )


@_case("unicode-arrow", _in_test("FR.keys → withdraw"))
def _unicode_arrow(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or site.value not in "→⇒":
        return None
    return site.error("PE102", f"`{site.value}` is not an arrow this language reads; write `->`")


@_case("non-ascii-name", 'jurisdiction CI "Côte d\'Ivoire" {\n    rule_of_law = 0.5\n}\njurisdiction CÔ "x" {\n}\n')
def _non_ascii(site: ErrorSite) -> Explanation | None:
    if site.kind != "character" or not site.value.isalpha() or site.value.isascii():
        return None
    return site.error(
        "PE102",
        f"`{site.value}` cannot be part of a name",
        hint="names use the letters A to Z, digits and `_`; accented letters belong in quoted texts",
    )


# -- braces ---------------------------------------------------------------------


def _never_closed(site: ErrorSite, at: int, message: str, hint: str, context: str | None = None) -> Explanation:
    """PE109, underlining the bracket at ``at`` that opened what is never closed."""
    opener = site.text[at]
    label = f"this `{opener}` has no matching `{')' if opener == '(' else '}'}`"
    return site.error("PE109", message, at, at + 1, hint=hint, label=label, context=context)


def _unclosed(site: ErrorSite, where: str) -> Explanation | None:
    """The innermost construct whose `{` is still open, described as never closed."""
    for f in reversed(site.frames):
        if f.brace is not None and not f.closed and f.kind != "set":
            if f.kind == "expectation":
                what = f"the test demand for `{f.name}`"
            else:
                what = f.describe() or f.kind
            return _never_closed(site, f.brace, f"{what} is never closed", f"add `}}` {where}", context="")
    return None


#: The keywords that open the items of each container.
_ITEM_OPENERS: dict[str, frozenset[str]] = {
    "principle": frozenset({"RULE"}),
    "jurisdiction": frozenset({"DEMAND"}),
    "group": frozenset({"DEMAND"}),
    "vocabulary": frozenset({"ENUM", "EXTEND", "ATTRIBUTE"}),
    "test": frozenset({"MARKET"}),
}


def _repair(ex: Explanation, text: str, before: int, drop: int) -> Explanation:
    """``ex``, asking recovery to insert the missing `}` before the keyword at ``before``."""
    at = insertion_point(text, before)
    return replace(ex, repair_at=at, repair_resume=before, repair_drop=drop)


@_case(
    "missing-closing-brace",
    'principle p "Statement" {\n    rule r: comply when demand.mandatory because "x"\n\njurisdiction FR "France" {\n}\n',
    'principle p "Statement" {\n    rule r: comply when demand.mandatory because "x"\n',
    'jurisdiction RU "Russia" {\n    demand a "A" {\n        kind = hotline\n    demand b "B" { kind = hotline }\n}\n',
    'jurisdiction RU "Russia" {\n    rule_of_law = 0.3\n\njurisdiction FR "France" {\n    rule_of_law = 0.7\n}\n',
)
def _missing_brace(site: ErrorSite) -> Explanation | None:
    if site.kind == "end" and "RBRACE" in site.accepts:
        return _unclosed(site, "at the end of the file")
    if site.keyword in TOP_KEYWORDS and "RBRACE" in site.accepts:
        ex = _unclosed(site, f"before `{site.value}` on line {site.line_of(site.start)}")
        return ex and _repair(ex, site.text, site.start, drop=0)
    # The keyword of the next item (`demand b "…" {`, `extend enum …`) inside
    # an item whose `}` is missing.
    container = site.frames[0].kind if site.frames else ""
    inner = next((f for f in reversed(site.frames[1:]) if f.is_open and f.kind != "set"), None)
    if inner is not None and site.keyword in _ITEM_OPENERS.get(container, ()) and "RBRACE" in site.accepts:
        frames = site.frames[: site.frames.index(inner) + 1]
        where = f"before `{site.value}` on line {site.line_of(site.start)}"
        ex = _unclosed(replace(site, frames=frames), where)
        return ex and _repair(ex, site.text, site.start, drop=0)
    # The same where the lexer read the keyword as an attribute name: the
    # error comes at the name after it.
    top = site.top
    if site.kind != "token" or top is None or top.type != "NAME" or "EQUAL" not in site.accepts:
        return None
    top_start = top.start_pos or 0
    at_line_start = not site.text[site.line_start(top_start) : top_start].strip()
    if str(top) in DECLARATIONS and at_line_start:
        # `jurisdiction MM "…" {` after a jurisdiction whose `}` is missing.
        where = f"before `{top}` on line {site.line_of(top_start)}"
        ex = _unclosed(site, where)
        return ex and _repair(ex, site.text, top_start, drop=1)
    if str(top).upper() in _ITEM_OPENERS.get(container, ()) and inner is not None and at_line_start:
        frames = site.frames[: site.frames.index(inner) + 1]
        where = f"before `{top}` on line {site.line_of(top.start_pos or 0)}"
        ex = _unclosed(replace(site, frames=frames), where)
        return ex and _repair(ex, site.text, top.start_pos or 0, drop=1)
    return None


@_case(
    "unclosed-set",
    _in_rule(
        'withdraw when demand.kind in {hotline, user_data because "x"\n    rule s: comply when demand.kind == hotline because "y"'
    ),
)
def _unclosed_set(site: ErrorSite) -> Explanation | None:
    f = site.frame("set")
    if f is None or f.brace is None:
        return None
    inside = [e for e in site.stack[f.index + 1 :] if isinstance(e, Token)]
    keyword: str | None = next((str(t) for t in inside if t.type == "NAME" and str(t) in KEYWORDS - _LITERAL_WORDS), None)
    if keyword is None and site.keyword and site.value not in _LITERAL_WORDS:
        keyword = site.value
    if keyword is None and site.line_of(site.start) == site.line_of(f.brace):
        return None
    where = f"before `{keyword}`" if keyword is not None else "after the last value"
    return _never_closed(site, f.brace, "this set of values is never closed", f"add `}}` {where}")


@_case(
    "unclosed-parenthesis",
    _in_rule('withdraw when (demand.mandatory or demand.kind == hotline because "x"'),
    _in_rule('withdraw when demand.mandatory and (demand.kind == hotline\n    rule s: comply when demand.mandatory because "y"'),
)
def _unclosed_paren(site: ErrorSite) -> Explanation | None:
    if "RPAR" not in site.accepts or site.found == "RPAR" or site.frame("set") is not None:
        return None
    if not (site.found in ("BECAUSE", "RBRACE", "$END") or site.keyword in TOP_KEYWORDS or site.keyword == "RULE"):
        return None
    opening = next((e for e in reversed(site.stack) if _is(e, "LPAR")), None)
    if opening is None:
        return None
    hint = f"add `)` where the group ends, before {site.found_text}"
    return _never_closed(site, opening.start_pos or 0, "this `(` is never closed", hint)


@_case("stray-closing-brace", 'principle p "Statement" {\n}\n}\n')
def _stray_brace(site: ErrorSite) -> Explanation | None:
    if site.found != "RBRACE" or site.frames:
        return None
    return site.error("PE101", "this `}` closes nothing", hint="remove it, or look above for a `{` that is missing")


@_case(
    "missing-open-brace",
    'group EU "European Union"\n    rule_of_law = 0.8\n}\n',
    'principle p "Statement"\n    rule r: comply when demand.mandatory because "x"\n}\n',
)
def _missing_open(site: ErrorSite) -> Explanation | None:
    if "LBRACE" not in site.accepts or site.found == "LBRACE" or not site.frames or site.frame("set") is not None:
        return None
    f = site.frames[-1]
    if f.brace is not None or f.kind in ("expectation", "assignment"):
        return None
    if site.top_type == "IN":
        return None
    what = f.describe() or f.kind
    message = f"expected `{{` to open {what}, found {site.found_text}"
    return site.error("PE101", message, hint=f"the body of {what} goes between `{{` and `}}`", context="")


# -- rules ------------------------------------------------------------------------


@_case(
    "misspelled-outcome",
    _in_rule('withdrew when demand.mandatory because "x"'),
    _in_rule('when demand.mandatory withdraw because "x"'),
)
def _outcome(site: ErrorSite) -> Explanation | None:
    if not {"COMPLY", "NEGOTIATE", "WITHDRAW"} <= site.accepts or site.kind != "token":
        return None
    if site.found == "WHEN":
        return site.error(
            "PE101",
            "the outcome comes before `when`",
            hint=f"write `rule {_rule_name(site)}: withdraw when …` (or `comply`, `negotiate`)",
        )
    return site.error(
        "PE101",
        f"expected an outcome: `comply`, `negotiate` or `withdraw`, found {shown(site.value)}",
        hint=did_you_mean(site.value, OUTCOMES) if site.found == "NAME" else None,
    )


def _rule_name(site: ErrorSite) -> str:
    rule = site.frame("rule")
    return rule.name if rule is not None and rule.name else "no_keys"


def _rule_shape(site: ErrorSite) -> str:
    return f'a rule reads `rule {_rule_name(site)}: withdraw when demand.kind == key_disclosure because "…"`'


@_case("missing-colon", _in_rule("").replace("rule r: ", 'rule r withdraw when demand.mandatory because "x"'))
def _missing_colon(site: ErrorSite) -> Explanation | None:
    if "COLON" not in site.accepts or site.top_type != "NAME" or site.frame("rule") is None:
        return None
    name = clip(str(site.top))
    return site.error("PE101", f"expected `:` after the rule name `{name}`", hint=f"write `rule {name}: withdraw when …`")


@_case(
    "missing-when",
    _in_rule('withdraw demand.mandatory because "x"'),
    _in_rule('withdraw if demand.mandatory because "x"'),
)
def _missing_when(site: ErrorSite) -> Explanation | None:
    if "WHEN" not in site.accepts:
        return None
    if site.found == "NAME" and site.value.lower() in ("if", "unless", "where", "whenever", "provided", "iff"):
        return site.error("PE101", f"write `when`, not `{site.value}`", hint=_rule_shape(site))
    hint = did_you_mean(site.value, ["when"]) if site.found == "NAME" else None
    return site.error("PE101", f"expected `when` before the condition, found {site.found_text}", hint=hint or _rule_shape(site))


@_case("doubled-operator", _in_rule('withdraw when demand.mandatory and and demand.kind == hotline because "x"'))
def _doubled_operator(site: ErrorSite) -> Explanation | None:
    if site.found not in ("AND", "OR") or site.top_type != site.found:
        return None
    return site.error("PE101", f"`{site.value}` is written twice", hint=f"remove one `{site.value}`")


@_case(
    "trailing-operator",
    _in_rule('withdraw when demand.mandatory and because "x"'),
    _in_rule('withdraw when demand.mandatory or\n        because "x"'),
    _in_rule('withdraw when not because "x"'),
)
def _trailing_operator(site: ErrorSite) -> Explanation | None:
    top = site.top
    if top is None or top.type not in ("AND", "OR", "NOT") or site.found in _CONDITION_START or site.found == "NAME":
        return None
    start = top.start_pos or 0
    return site.error(
        "PE101",
        f"`{top}` is not followed by a condition",
        start,
        start + len(str(top)),
        hint=f"add the condition that `{top}` should {'negate' if top.type == 'NOT' else 'join'}, or remove `{top}`",
        label=f"found {site.found_text} after it",
    )


@_case("empty-condition", _in_rule('withdraw when because "x"'))
def _empty_condition(site: ErrorSite) -> Explanation | None:
    if site.top_type != "WHEN" or site.found in _CONDITION_START or site.found == "NAME":
        return None
    return site.error(
        "PE101",
        "`when` must be followed by a condition",
        hint="for a rule that always applies, test something every demand has, e.g. `demand.kind is known`",
    )


@_case(
    "assign-in-condition",
    _in_rule('comply when demand.kind = user_data because "x"'),
)
def _assign_in_condition(site: ErrorSite) -> Explanation | None:
    if site.found != "EQUAL" or "COMPARATOR" not in site.accepts:
        return None
    ref = _ref_before(site)
    return site.error("PE101", "`=` sets a value; to compare, write `==`", hint=f"write `{ref} == …`" if ref else "write `==`")


def _ref_before(site: ErrorSite) -> str | None:
    """The attribute the stack ends with (``demand.kind``), reduced or not."""
    stack = site.stack
    if stack and isinstance(stack[-1], Tree) and stack[-1].data == "attribute_ref":
        return clip("".join(leaves(stack[-1])), 80)
    if len(stack) >= 3 and _is(stack[-1], "NAME") and _is(stack[-2], "DOT"):
        return clip("".join(leaves(stack[-3])) + "." + str(stack[-1]), 80)
    return None


def _is(entry: Any, token_type: str) -> bool:
    return isinstance(entry, Token) and entry.type == token_type


@_case(
    "is-not-known",
    _in_rule('withdraw when jurisdiction.rule_of_law is not known because "x"'),
)
def _is_not_known(site: ErrorSite) -> Explanation | None:
    if site.top_type != "IS" or site.found != "NOT":
        return None
    nxt = site.text[site.end :].lstrip()
    wanted = "unknown" if nxt.startswith("known") else "known"
    return site.error(
        "PE101",
        f"write `is {wanted}`, not `is not {'known' if wanted == 'unknown' else 'unknown'}`",
        hint="`is known` and `is unknown` are the two tests for a missing value",
    )


@_case("is-for-equals", _in_rule('comply when demand.kind is user_data because "x"'))
def _is_for_equals(site: ErrorSite) -> Explanation | None:
    if site.top_type != "IS" or site.kind != "token":
        return None
    return site.error(
        "PE101",
        f"`is` only tests `known` or `unknown`; to compare with {shown(site.value)}, write `==`",
        hint=f"write `== {site.value}`" if site.found == "NAME" else None,
    )


@_case(
    "parentheses-for-set",
    _in_rule('withdraw when demand.kind in (hotline, user_data) because "x"'),
)
def _paren_set(site: ErrorSite) -> Explanation | None:
    if site.top_type != "IN" or "LBRACE" not in site.accepts or site.found == "LBRACE":
        return None
    if site.found == "LPAR":
        message = "a set of values is written between braces, not parentheses"
        hint = f"write `in {{{_enclosed(site, ')')}}}`"
    else:
        message = f"`in` takes a set of values between braces, found {site.found_text}"
        hint = f"write `in {{{site.value}}}`, or `== {site.value}` for one value" if site.found == "NAME" else "write `in {a, b}`"
    return site.error("PE101", message, hint=hint)


_ATTRIBUTE_DECLARATION = re.compile(r"\battribute\s+(demand|jurisdiction)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
#: Attributes every set has without declaring them (validate.py adds them to the vocabulary).
_BUILTIN_ATTRIBUTES = ("jurisdiction.code", "jurisdiction.name", "demand.id", "demand.description")


@functools.cache
def _prelude_texts() -> tuple[str, ...]:
    """The standard vocabulary's files (read here, not through pipeline.py, which imports this module)."""
    folder = resources.files("policyengine.language").joinpath("prelude")
    return tuple(
        e.read_text(encoding="utf-8") for e in sorted(folder.iterdir(), key=lambda e: e.name) if e.name.endswith(".policy")
    )


def _known_attributes(text: str) -> list[str]:
    """``scope.name`` of the attributes a parse can know of: the standard vocabulary's, the
    built-in ones and those this file declares (other files of the set are not read yet)."""
    texts = [*_prelude_texts(), text]
    found = {f"{scope}.{name}" for t in texts for scope, name in _ATTRIBUTE_DECLARATION.findall(t)}
    return sorted(found | set(_BUILTIN_ATTRIBUTES))


@_case(
    "bare-attribute",
    _in_rule('withdraw when kind == hotline because "x"'),
    _in_rule('withdraw when rule_of_law < 0.5 because "x"'),
    _in_rule('withdraw when knid == hotline because "x"'),
)
def _bare_attribute(site: ErrorSite) -> Explanation | None:
    if site.found != "NAME" or not {"DEMAND", "JURISDICTION"} <= site.accepts or "NAME" in site.accepts:
        return None
    # Suggest only names that exist: `kind` is `demand.kind`, never `jurisdiction.kind`.
    known = _known_attributes(site.text)
    scoped = [a for a in known if a.split(".", 1)[1] == site.value]
    if scoped:
        return site.error(
            "PE101",
            f"`{site.value}` needs its scope: write {' or '.join(f'`{a}`' for a in scoped)}",
            hint="conditions name attributes with their scope (`demand.` or `jurisdiction.`)",
        )
    names = {a.split(".", 1)[1]: a for a in known}
    close = difflib.get_close_matches(site.value, sorted(names), n=1, cutoff=0.6)
    return site.error(
        "PE101",
        f"{shown(site.value)} is not an attribute: conditions name attributes with their scope",
        hint=f"did you mean `{names[close[0]]}`?" if close else "such as `demand.kind` or `jurisdiction.rule_of_law`",
    )


@_case(
    "missing-because",
    _in_rule('withdraw when demand.mandatory "x"'),
    _in_rule('withdraw when demand.mandatory\n    rule s: comply when demand.mandatory because "y"'),
    _in_rule('withdraw when demand.mandatory Because "x"'),
    _in_rule("withdraw when demand.mandatory because x"),
)
def _missing_because(site: ErrorSite) -> Explanation | None:
    if site.top_type == "BECAUSE" and (site.found in ("NAME", "NUMBER", "$END") or site.keyword):
        if site.kind == "end":
            return site.error("PE101", "the file ends after `because`, before the reason", hint='write `because "…"`')
        return site.error("PE101", "the reason after `because` must be a quoted text", hint='write `because "…"`')
    if "BECAUSE" not in site.accepts:
        return None
    if site.found in _STRINGS:
        message, label = "expected `because` before the reason", "`because` is missing here"
        return site.error("PE101", message, end=site.start + 1, hint='write `because "…"`', label=label)
    if site.found == "NAME" and (m := did_you_mean(site.value, ["because"])):
        return site.error("PE101", f"expected `because`, found {shown(site.value)}", hint=m)
    if site.found in ("RBRACE", "$END") or site.keyword == "RULE" or site.keyword in TOP_KEYWORDS:
        rule = site.frame("rule")
        name = f"rule `{rule.name}`" if rule is not None and rule.name else "this rule"
        ctx = site.context().replace(f", rule `{rule.name}`" if rule else "\0", "")
        at = site.end_of_previous()
        return site.error(
            "PE101",
            f"{name} has no `because` text",
            at,
            at,
            hint='every rule ends with `because "…"`, the reason given to the authority',
            label='expected `because "…"` here',
            context=ctx,
        )
    return None


@_case(
    "missing-connective",
    _in_rule('withdraw when demand.mandatory demand.kind == hotline because "x"'),
    _in_rule('withdraw when demand.mandatory && demand.kind == hotline because "x"').replace("&&", ""),
)
def _missing_connective(site: ErrorSite) -> Explanation | None:
    if not {"AND", "OR"} <= site.accepts:
        return None
    nxt = site.text[site.end : site.end + 1]
    if site.found in _CONDITION_START or (site.found == "NAME" and nxt == "."):
        return site.error("PE101", "two conditions need `and` or `or` between them", hint="write `… and demand.kind == …`")
    if site.found == "NAME" and (m := did_you_mean(site.value, ["and", "or"])):
        return site.error("PE101", f"expected `and` or `or`, found {shown(site.value)}", hint=m)
    return None


# -- jurisdictions, demands and assignments -----------------------------------------


@_case("double-equals-in-assignment", _in_jurisdiction("rule_of_law == 0.7"))
def _double_equals(site: ErrorSite) -> Explanation | None:
    doubled = site.found == "EQUAL" and site.top_type == "EQUAL"
    if not doubled and not (site.found == "COMPARATOR" and "EQUAL" in site.accepts):
        return None
    start = (site.top.start_pos or site.start) if doubled and site.top is not None else site.start
    assignment = site.frame("assignment")
    name = assignment.name if assignment is not None else "name"
    message = f"write `=` to set a value; `{site.text[start : site.end]}` compares, in conditions"
    return site.error("PE101", message, start, hint=f"write `{name} = …`")


@_case("colon-in-assignment", _in_jurisdiction("rule_of_law: 0.7"))
def _colon_assign(site: ErrorSite) -> Explanation | None:
    if site.found != "COLON" or "EQUAL" not in site.accepts:
        return None
    name = clip(str(site.top)) if site.top_type == "NAME" else "name"
    return site.error("PE101", "values are set with `=`, not `:`", hint=f"write `{name} = …`")


@_case(
    "decimal-comma",
    _in_jurisdiction("rule_of_law = 0,72"),
    _in_rule('withdraw when jurisdiction.rule_of_law >= 0,6 because "x"'),
)
def _decimal_comma(site: ErrorSite) -> Explanation | None:
    # In an assignment the parser stops at the digits after the comma; in a
    # condition at the comma itself (a comma may follow a value in a set).
    if site.found == "NUMBER" and re.search(r"\d,\Z", site.text[: site.start]):
        m = re.search(r"[-\d.]+,\Z", site.text[: site.start])
        whole = clip((m.group(0) if m else ",") + site.value)
        start = site.start - len(m.group(0)) if m else None
        end: int | None = None
    elif site.value == "," and re.search(r"\d\Z", site.text[: site.start]):
        after = re.match(r",\d+", site.text[site.start :])
        before = re.search(r"-?[\d.]+\Z", site.text[: site.start])
        if after is None or before is None:
            return None
        whole = clip(before.group(0) + after.group(0))
        start = site.start - len(before.group(0))
        end = site.start + len(after.group(0))
    else:
        return None
    message = f"`{whole}` is not a number: decimals are written with a point"
    return site.error("PE101", message, start, end, hint=f"write `{whole.replace(',', '.')}`")


@_case(
    "missing-description",
    "principle encryption {\n}\n",
    "jurisdiction FR {\n    rule_of_law = 0.7\n}\n",
    'jurisdiction RU "Russia" {\n    demand keys {\n        kind = key_disclosure\n    }\n}\n',
    "test basics {\n}\n",
)
def _missing_description(site: ErrorSite) -> Explanation | None:
    if not _STRINGS & site.accepts or site.found in _STRINGS or not site.frames:
        return None
    f = site.frames[-1]
    if f.brace is not None or f.kind not in ("principle", "jurisdiction", "group", "demand", "test"):
        return None
    name = f.name or "NAME"
    what = {
        "principle": ("the statement of", f'principle {name} "We never …" {{'),
        "jurisdiction": ("the display name of", f'jurisdiction {name} "…" {{'),
        "group": ("the display name of", f'group {name} "…" {{'),
        "demand": ("the description of", f'demand {name} "Hand over …" {{'),
        "test": ("the name of", 'test "what it checks" {'),
    }[f.kind]
    subject = f.describe() or "a test"
    if f.kind == "test" and site.found == "NAME":
        message = f'a test\'s name is a quoted text: write `test "{site.value}"`'
    else:
        message = f"expected {what[0]} {subject} in quotes, found {site.found_text}"
    return site.error("PE101", message, hint=f"write `{what[1]}`", context="")


# -- declarations at the top level ----------------------------------------------------


@_case(
    "unknown-declaration",
    'principal p "Statement" {\n}\n',
    'country FR "France" {\n}\n',
    'include "common.policy"\n',
)
def _unknown_declaration(site: ErrorSite) -> Explanation | None:
    if site.frames or not {"PRINCIPLE", "JURISDICTION"} <= site.accepts or site.found != "NAME":
        return None
    if site.value in ("include", "import", "use", "require", "load", "from"):
        return site.error(
            "PE101",
            f"the language has no `{site.value}`: a policy set is every `.policy` file under its directory",
            hint="put the file in the set's directory (subdirectories count), or name it too:"
            " `policyengine check DIR OTHER.policy`",
        )
    return site.error(
        "PE101",
        f"{shown(site.value)} does not start a declaration",
        hint=did_you_mean(site.value, DECLARATIONS)
        or "a policy file is made of `principle`, `jurisdiction`, `group`, `vocabulary` and `test` declarations",
    )


@_case(
    "item-outside-its-block",
    'principle p "Statement" {\n}\n    rule r: comply when demand.mandatory because "x"\n',
    'demand keys "Hand over the keys" {\n    kind = key_disclosure\n}\n',
    "enum colour { red }\n",
)
def _misplaced_item(site: ErrorSite) -> Explanation | None:
    if site.frames:
        return None
    owner = {
        "RULE": "a `principle { … }`",
        "DEMAND": "a `jurisdiction` or `group`",
        "ENUM": "`vocabulary { … }`",
        "EXTEND": "`vocabulary { … }`",
        "ATTRIBUTE": "`vocabulary { … }`",
        "MARKET": "a `test { … }`",
    }.get(site.keyword)
    if owner is None:
        return None
    return site.error("PE101", f"`{site.value}` must be inside {owner}", hint="if it is, a `}` above closes the block too early")


@_case("misspelled-item-keyword", _in_rule("").replace("rule r: ", 'rules r: comply when demand.mandatory because "x"'))
def _misspelled_item(site: ErrorSite) -> Explanation | None:
    if site.found != "NAME":
        return None
    for keyword, container in (("rule", "principle"), ("demand", "jurisdiction"), ("demand", "group")):
        if keyword.upper() in site.accepts and site.frames and site.frames[-1].kind == container:
            guess = did_you_mean(site.value, [keyword])
            if guess or site.text[site.end : site.end + 1] == ":":
                return site.error(
                    "PE101",
                    f"expected `{keyword}` or `}}`, found {shown(site.value)}",
                    hint=guess or f"write `{keyword} {site.value}: …`",
                )
    if {"ENUM", "ATTRIBUTE"} <= site.accepts and (guess := did_you_mean(site.value, ["enum", "extend", "attribute"])):
        return site.error("PE101", f"expected `enum`, `extend enum` or `attribute`, found {shown(site.value)}", hint=guess)
    return None


@_case("arrow", _in_test("RU.keys => withdraw"), _in_test("RU.keys withdraw"))
def _arrow(site: ErrorSite) -> Explanation | None:
    if not site.accepts_text("->") or site.spelling.get(site.found) == "->":
        return None
    return site.error(
        "PE101",
        f"expected `->` before the expected outcome, found {site.found_text}",
        hint=f"write `{_expectation_head(site)} -> withdraw` (or `comply`, `negotiate`)",
    )


def _expectation_head(site: ErrorSite) -> str:
    f = site.frame("expectation")
    if f is None:
        return "RU.demand"
    head = " ".join(site.text[f.start : site.start].split())
    return head if len(head) <= 60 else head[:59] + "…"


# -- the fallbacks ----------------------------------------------------------------------


def generic(site: ErrorSite) -> Explanation:
    """The message when no case recognises the error: what was expected, in words."""
    expected = describe_expected(site.accepts, site.spelling)
    if site.kind == "character":
        ch = site.value
        char = ch if ch.isprintable() and not ch.isspace() else repr(ch)[1:-1]
        return site.error("PE102", f"unexpected character `{char}`; expected {expected}")
    if site.kind == "end":
        start = max(0, site.start - 1)
        return site.error(
            "PE103", f"the file ends too early; expected {expected}", start, max(site.start, start + 1) if site.text else 0
        )
    return site.error("PE101", f"expected {expected}, found {shown(site.value)}")


def explain(site: ErrorSite) -> tuple[str, Explanation]:
    """The first case of :data:`ERROR_EXAMPLES` that recognises ``site``, or the generic message."""
    for case in ERROR_EXAMPLES:
        ex = case.explain(site)
        if ex is not None:
            if site.kind == "end" and ex.code == "PE101":
                # Whatever was missing, what the author meets is a file that stops short.
                ex = replace(ex, code="PE103")
            return case.name, ex
    return "generic", generic(site)
