"""The fast path of the parser: a clean file → its AST in one pass, or None.

Stage contract: :func:`fast_parser` derives a :class:`FastParser` from the
loaded Lark parser (its contextual lexer and LALR table; nothing is built
from the grammar here).  :meth:`FastParser.parse` returns the
:class:`~.ast.PolicyFile` of a file that parses without a single problem,
and None at the first sign of one: a character no terminal matches, a token
the table refuses, a keyword glued to a word, more than ``max_tokens``
tokens, or anything the AST builder has something to say about (a bad
escape, a condition nested too deep, …).  The caller then parses the file
again from scratch the old way (:mod:`.parser`), so every diagnostic is the
one that path words.  It never raises on author input.

Why it is faster.  Lark's interactive parser spends most of a parse on its
own bookkeeping: a :class:`~lark.Token` with line and column for every word,
a line counter fed every character, a parse-tree node for every rule, then
this package's walk of that tree into the AST.  Here the same lexer regexes
and the same table drive one loop that keeps offsets only, and each rule's
AST node is built the moment the rule is reduced, with the span Lark's
``propagate_positions`` would give it (see ``_positioned`` in
:mod:`.parser`), by the very ``t_<rule>`` methods the tree walk calls
(:mod:`.transform`): no parse tree exists.

Why it agrees with the old path.  The lexer is not a second lexer: for each
parser state it uses the compiled regular expression of Lark's own
contextual lexer for that state (the terminals the state accepts, ignored
ones included, in Lark's order of priority), and resolves a word that could
be a keyword the way Lark's "unless" callback does, by the keywords that
state accepts (so a keyword stays a name wherever only a name fits).  The
loop applies the same LALR actions, filters and inlines children as Lark's
tree builder does (``_rule``, ``?rule``, ``!rule``, aliases), and positions
nodes by the same rule as ``_positioned``.  tests/test_fastparse.py checks
that both paths give identical ASTs, spans included, on every shipped
policy file, on synthetic sets and on generated and mutated text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lark import Lark
from lark.lexer import ContextualLexer, UnlessCallback
from lark.parsers.lalr_analysis import Shift

from . import ast
from .source import Source, Span
from .transform import _Broken, _Builder

__all__ = ["FastParser", "Word", "fast_parser"]

_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

# What a rule's reduction makes of its children (Lark's tree builder, step by step).
_NODE = 0  # a named node: its ``t_<name>`` builder is called
_INLINE = 1  # a ``_rule`` (or a helper of ``x*``): its children go into the parent's
_EXPAND1 = 2  # a ``?rule``: its only child stands in for it, else a named node
_PASS = 3  # a ``?rule`` of one rule: that rule's value stands in for it, offsets and all
# How each kept child of a rule is taken.
_VALUE = 0  # a node's value as it is
_TOKEN = 1  # a token, as a `Word`
_SPLICE = 2  # an inlined rule's children, one by one


class Word(str):
    """A token's text with its offsets: what the AST builder reads of a Lark token.

    The builder only takes a token's text (``str(tok)``) and its
    ``start_pos``/``end_pos``; a Lark token also carries a type, lines and
    columns, and costs several times as much to make.  A word never reaches
    the AST: the builder turns every token into plain strings and spans."""

    __slots__ = ("end_pos", "start_pos")

    start_pos: int
    end_pos: int


class _Unsupported(Exception):
    """The loaded parser has a shape the fast path does not reproduce: it is not used."""


class _Reject(Exception):
    """The file is not clean: parse it the old way."""


class FastParser:
    """The tables of the fast path, derived once from the loaded Lark parser."""

    def __init__(self, parser: Lark):
        frontend: Any = parser.parser
        lexer: Any = frontend.lexer
        if not isinstance(lexer, ContextualLexer):
            raise _Unsupported("not a contextual lexer")
        table = frontend.parser.parser.parse_table
        self.start_state: int = table.start_states["start"]
        self.end_state: int = table.end_states["start"]
        states: dict[int, dict[str, tuple[Any, Any]]] = table.states
        if sorted(states) != list(range(len(states))):
            raise _Unsupported("parser states are not numbered 0..n-1")
        rule_index: dict[int, int] = {}
        #: per rule: (size, goto symbol, kind, builder name, plan)
        self.rules: list[tuple[int, str, int, str, tuple[tuple[int, int], ...]]] = []
        #: per state: terminal or rule name → next state (>= 0) or ~rule index (< 0)
        self.actions: list[dict[str, int]] = []
        rules_seen: list[Any] = []
        for state in range(len(states)):
            row: dict[str, int] = {}
            for symbol, (action, arg) in states[state].items():
                if action is Shift:
                    row[symbol] = arg
                else:
                    index = rule_index.get(id(arg))
                    if index is None:
                        index = rule_index[id(arg)] = len(rules_seen)
                        rules_seen.append(arg)
                    row[symbol] = ~index
            self.actions.append(row)
        nullable = _nullable(rules_seen)
        for rule in rules_seen:
            self.rules.append(_plan(rule, nullable))
        # Whitespace is skipped by the expression of each state rather than
        # matched as a token of its own: one match per token instead of two.
        # The same text is skipped, since no terminal but the whitespace one
        # can start with a whitespace character (checked below).
        terminals: list[Any] = list(parser.terminals)
        ws = {t.name: t for t in terminals}.get("WS")
        if ws is None or "WS" not in parser.lexer_conf.ignore or ws.pattern.type != "re":
            raise _Unsupported("no ignored whitespace terminal")
        ws_regexp = ws.pattern.to_regexp()
        for term in terminals:
            if term.name != "WS" and _may_start_with_space(term.pattern.to_regexp()):
                raise _Unsupported(f"{term.name} may start with whitespace")
        self.only_space = re.compile(f"(?:{ws_regexp})?").fullmatch
        #: per state: (the state's regular expression, ignored types, word → keyword type)
        self.lexers: list[tuple[Callable[[str, int], re.Match[str] | None], frozenset[str], dict[str, dict[str, str]]]]
        self.lexers = []
        compiled: dict[str, Callable[[str, int], re.Match[str] | None]] = {}
        for state in range(len(states)):
            basic: Any = lexer.lexers[state]
            scanner = basic.scanner  # built on first use, like Lark does
            if len(scanner._mres) != 1 or basic.user_callbacks:
                raise _Unsupported("a lexer with several expressions or callbacks")
            mre = scanner._mres[0]
            match = compiled.get(mre.pattern)
            if match is None:
                match = compiled[mre.pattern] = re.compile(f"(?:{ws_regexp})?(?:{mre.pattern})", mre.flags).match
            unless: dict[str, dict[str, str]] = {}
            for type_, callback in basic.callback.items():
                if not isinstance(callback, UnlessCallback):
                    raise _Unsupported(f"a lexer callback for {type_}")
                words = {}
                for term in callback.scanner.terminals:
                    if term.pattern.type != "str" or term.pattern.flags:
                        raise _Unsupported(f"a keyword {term.name} that is not a plain text")
                    words[str(term.pattern.value)] = term.name
                unless[type_] = words
            self.lexers.append((match, frozenset(basic.ignore_types), unless))

    def parse(self, source: Source, keywords: frozenset[str], max_tokens: int) -> ast.PolicyFile | None:
        """The AST of ``source`` if it parses without any problem, else None.

        Never raises: whatever goes wrong here, the old path parses the file
        (and tests/test_fastparse.py fails where it was a clean file).
        ``keywords`` are the terminals that are words (a keyword followed by a
        word character is an error there), ``max_tokens`` the most tokens a
        file may have: past either, the old path reports it."""
        try:
            return self._parse(source, keywords, max_tokens)
        except _Reject:
            return None
        except Exception:  # a bug here must cost the fast path, not the parse (the tests see it: see above)
            return None

    def _parse(self, source: Source, keywords: frozenset[str], max_tokens: int) -> ast.PolicyFile | None:
        text = source.text
        n = len(text)
        builder = _Builder(source)
        rules = [
            (size, goto, kind, getattr(builder, f"t_{name}", None) if kind != _INLINE else None, plan)
            for size, goto, kind, name, plan in self.rules
        ]
        actions = self.actions
        lexers = self.lexers
        end_state = self.end_state
        word_chars = _WORD_CHARS
        state_stack = [self.start_state]
        # One entry per value: (value, start, end), the offsets those of the
        # text it took up (its *container*), None for a value that took up none.
        stack: list[tuple[Any, int | None, int | None]] = []
        push_state, push = state_stack.append, stack.append
        pos = 0
        count = 0
        only_space = self.only_space
        while True:
            state = state_stack[-1]
            if pos < n:
                match, ignore, unless = lexers[state]
                m = match(text, pos)
                if m is None:
                    if only_space(text, pos) is None:
                        raise _Reject
                    pos = n
                    continue
                typ: str = m.lastgroup  # type: ignore[assignment]
                if typ in ignore:
                    pos = m.end()
                    continue
                value = m.group(typ)
                pos, end = m.span(typ)
                words = unless.get(typ)
                if words is not None:
                    typ = words.get(value, typ)
                if typ in keywords and end < n and text[end] in word_chars:
                    raise _Reject  # a keyword read as the start of a longer word
                count += 1
                if count > max_tokens:
                    raise _Reject
                token: tuple[Any, int | None, int | None] = (value, pos, end)
                pos = end
            else:
                typ = "$END"
                token = ("", None, None)
            while True:
                code = actions[state].get(typ)
                if code is None:
                    raise _Reject
                if code >= 0:
                    if typ == "$END":  # pragma: no cover - the end is never shifted
                        raise _Reject
                    push_state(code)
                    push(token)
                    break
                size, goto, kind, method, plan = rules[~code]
                if kind == _PASS:
                    # The child's entry, offsets included, is the rule's (its
                    # container is the text the child took up): only the state changes.
                    del state_stack[-1]
                    new_state = actions[state_stack[-1]][goto]
                    push_state(new_state)
                    state = new_state
                    continue
                if size:
                    values = stack[-size:]
                    del stack[-size:]
                    del state_stack[-size:]
                    start = values[0][1]
                    if start is None:
                        for entry in values:
                            if entry[1] is not None:
                                start = entry[1]
                                break
                    end_at = values[-1][2]
                    if end_at is None and start is not None:
                        for entry in reversed(values):
                            if entry[2] is not None:
                                end_at = entry[2]
                                break
                    children: list[Any]
                    if kind == _INLINE and plan[0][1] == _SPLICE and plan[0][0] == 0:
                        # `x*` is read left-recursively: the list so far is
                        # extended in place (nothing else holds it), not copied.
                        children = values[0][0]
                        steps = plan[1:]
                    else:
                        children = []
                        steps = plan
                    for i, how in steps:
                        if how == _VALUE:
                            children.append(values[i][0])
                        elif how == _TOKEN:
                            tok = values[i]
                            word = Word(tok[0])
                            word.start_pos = tok[1]  # type: ignore[assignment]
                            word.end_pos = tok[2]  # type: ignore[assignment]
                            children.append(word)
                        else:
                            children.extend(values[i][0])
                else:
                    start = end_at = None
                    children = []
                if kind == _INLINE:
                    result: tuple[Any, int | None, int | None] = (children, start, end_at)
                elif kind == _EXPAND1 and len(children) == 1:
                    only = children[0]
                    if type(only) is Word:
                        # A token standing in for its rule keeps its own offsets.
                        result = (only, only.start_pos, only.end_pos)
                    else:
                        result = (only, start, end_at)
                else:
                    if method is None:
                        raise _Reject  # a `?rule` with several children but no builder
                    span = Span(source, start, end_at) if start is not None and end_at is not None else Span(source, 0, 0)
                    node = method(span, children)
                    if type(node) is _Broken:
                        raise _Reject  # a condition nested too deep: the old path words it
                    result = (node, start, end_at)
                top = state_stack[-1]
                new_state = actions[top][goto]
                push_state(new_state)
                push(result)
                if typ == "$END" and new_state == end_state:
                    file = stack[-1][0]
                    if builder.diagnostics or builder.skipped or builder.too_deep or not isinstance(file, ast.PolicyFile):
                        return None
                    return file
                state = new_state


_SPACE = frozenset(" \t\n\r\f\v")


def _may_start_with_space(regexp: str) -> bool:
    """Whether a terminal's expression may match text that starts with whitespace.

    Read from the expression's parsed form, erring on the side of yes: any
    construct not known here counts as one that may."""
    return _seq_may_start_with_space(list(re._parser.parse(regexp)))


def _seq_may_start_with_space(items: list[Any]) -> bool:
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            return chr(arg) in _SPACE
        if name == "IN":
            return _set_may_hold_space(arg)
        if name == "SUBPATTERN":
            seq = list(arg[-1])
            if _seq_may_start_with_space(seq):
                return True
            if not _nullable_seq(seq):
                return False
        elif name == "BRANCH":
            branches = [list(b) for b in arg[1]]
            if any(_seq_may_start_with_space(b) for b in branches):
                return True
            if not any(_nullable_seq(b) for b in branches):
                return False
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            seq = list(arg[2])
            if _seq_may_start_with_space(seq):
                return True
            if arg[0] > 0 and not _nullable_seq(seq):
                return False
        elif name == "AT":
            continue  # an anchor takes up no text
        else:
            return True  # anything else (any character, a look-around, …): maybe
    return False


def _set_may_hold_space(items: Any) -> bool:
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            if chr(arg) in _SPACE:
                return True
        elif name == "RANGE":
            if any(arg[0] <= ord(ch) <= arg[1] for ch in _SPACE):
                return True
        elif name == "CATEGORY" and str(arg) == "CATEGORY_DIGIT":
            continue
        else:
            return True  # a negated set, \s, \w, …: maybe
    return False


def _nullable_seq(items: list[Any]) -> bool:
    for op, arg in items:
        name = str(op)
        if name == "SUBPATTERN":
            if not _nullable_seq(list(arg[-1])):
                return False
        elif name == "BRANCH":
            if not any(_nullable_seq(list(b)) for b in arg[1]):
                return False
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            if arg[0] > 0 and not _nullable_seq(list(arg[2])):
                return False
        elif name != "AT":
            return False
    return True


def _nullable(rules: list[Any]) -> set[str]:
    """The rules that can match no text at all."""
    nullable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for rule in rules:
            name = rule.origin.name
            if name not in nullable and all(not s.is_term and s.name in nullable for s in rule.expansion):
                nullable.add(name)
                changed = True
    return nullable


def _plan(rule: Any, nullable: set[str]) -> tuple[int, str, int, str, tuple[tuple[int, int], ...]]:
    """How one rule's reduction builds its value, as Lark's tree builder would."""
    origin = rule.origin.name
    options = rule.options
    if getattr(options, "template_source", None) is not None:
        raise _Unsupported(f"a template rule {origin}")
    inline = origin.startswith("_")
    expand1 = bool(options.expand1) and not rule.alias
    if inline and expand1:
        raise _Unsupported(f"an inlined rule {origin} that is also `?`")
    if expand1 and any(not s.is_term and s.name in nullable for s in rule.expansion):
        # A `?rule` whose only child may take up no text would give that child
        # the rule's offsets after it was built; never so in this grammar.
        raise _Unsupported(f"`?{origin}` with a child that can be empty")
    plan: list[tuple[int, int]] = []
    for i, symbol in enumerate(rule.expansion):
        if symbol.is_term:
            if options.keep_all_tokens or not symbol.filter_out:
                plan.append((i, _TOKEN))
        elif symbol.name.startswith("_"):
            plan.append((i, _SPLICE))
        else:
            plan.append((i, _VALUE))
    kind = _INLINE if inline else _EXPAND1 if expand1 else _NODE
    if kind == _EXPAND1 and plan == [(0, _VALUE)] and len(rule.expansion) == 1:
        kind = _PASS
    name = str(rule.alias or origin)
    return len(rule.expansion), origin, kind, name, tuple(plan)


def fast_parser(parser: Lark) -> FastParser | None:
    """The fast path for ``parser``, or None when its shape is not one it reproduces."""
    try:
        return FastParser(parser)
    except (_Unsupported, AttributeError, KeyError, TypeError, ValueError):
        # Another Lark may keep its lexer and table under other names: then
        # every file takes the old path (tests/test_fastparse.py fails).
        return None
