"""The grammar and its syntax errors: what it accepts, what it rejects and how
each rejection is worded.

Every entry of ``syntax_errors.ERROR_EXAMPLES`` is checked here against its own
examples, so the table of recognised mistakes cannot drift from what the
parser really does.  Error recovery is checked too: one diagnostic per real
mistake, the rest of the file still read.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from lark import Lark

from policyengine.language import parser as P
from policyengine.language.diagnostics import CODES
from policyengine.language.error_site import describe_expected as describe_in
from policyengine.language.grammar import GRAMMAR, KEYWORDS, OUTCOMES
from policyengine.language.parser import parse_file
from policyengine.language.source import Source
from policyengine.language.syntax_errors import ERROR_EXAMPLES


def describe_expected(expected: set[str]) -> str:
    return describe_in(expected, P.spelling())


def parsed(text: str) -> P.ParseResult:
    return parse_file(Source("t.policy", text))


def underlined(result: P.ParseResult) -> list[str]:
    return [d.span.text for d in result.diagnostics]


# --- the grammar itself ------------------------------------------------------------------


def test_grammar_builds_in_strict_mode() -> None:
    """strict=True fails on any shift/reduce conflict and (through interegular)
    on any pair of terminals that could match the same text."""
    pytest.importorskip("interegular")
    grammar = resources.files("policyengine.language").joinpath("grammar.lark").read_text(encoding="utf-8")
    assert grammar == GRAMMAR
    Lark(grammar, parser="lalr", strict=True, propagate_positions=True, maybe_placeholders=False)


def test_the_shared_parser_is_built_once() -> None:
    assert P.get_parser() is P.get_parser()


def test_the_keywords_read_from_the_grammar_are_larks() -> None:
    """grammar.py reads the keywords from the grammar's text without Lark; they
    must be exactly the words among the terminals of the parser Lark builds."""
    words = {text for text in P.spelling().values() if text.isidentifier()}
    assert words == KEYWORDS
    assert P.KEYWORDS is KEYWORDS
    assert OUTCOMES == ("comply", "negotiate", "withdraw")


# --- the parser table ------------------------------------------------------------------

TABLE = Path(P.__file__).with_name("parser_table.json")


def test_the_shipped_parser_table_is_current(update_golden: bool, tmp_path: Path) -> None:
    """The table in the package must be what the grammar gives today: after an
    edit of grammar.lark or of the parser's options, regenerate it with
    `python -m policyengine.language.parser` (or `pytest --update-golden`)."""
    if update_golden:
        P.write_table()
    key = P.read_table(TABLE.read_text(encoding="utf-8"))["key"]
    fresh = P.table_key()
    assert {k: v for k, v in key.items() if k != "lark"} == {k: v for k, v in fresh.items() if k != "lark"}, (
        "parser_table.json is stale: run `python -m policyengine.language.parser`"
    )
    if key["lark"] != fresh["lark"]:
        pytest.skip(f"parser_table.json was written with lark {key['lark']}, this is {fresh['lark']}: regenerate it")
    # Byte for byte: the table is reproducible (whatever the hash seed) and was not edited by hand.
    assert P.write_table(tmp_path / "table.json").read_text(encoding="utf-8") == TABLE.read_text(encoding="utf-8")


def test_the_table_is_what_the_parser_is_loaded_from() -> None:
    """JSON keeps every tuple and numeric key of Lark's serialized form, so the
    table read back is exactly what Lark's ``serialize()`` gives."""
    table = P.read_table(TABLE.read_text(encoding="utf-8"))
    if table["key"] != P.table_key():
        pytest.skip("the shipped table is for another lark version (see test_the_shipped_parser_table_is_current)")
    assert (table["data"], table["memo"]) == P.compute_table() == P._table()


def test_a_stale_table_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table built from another grammar, Lark or options is ignored: the tables are computed instead."""
    real = P.table_key()
    monkeypatch.setattr(P, "table_key", lambda: {**real, "grammar_sha256": "0" * 64})
    data, memo = P._table.__wrapped__()
    assert (data, memo) == P.compute_table()
    with pytest.raises(ValueError):
        P.read_table('{"data": []}')


def test_the_run_time_parser_never_checks_terminal_collisions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The collision check (interegular) is the test suite's job: loading the
    shipped table must not run it (nor anything else that builds a grammar)."""
    pytest.importorskip("interegular")
    import lark.lexer

    if P.read_table(TABLE.read_text(encoding="utf-8"))["key"] != P.table_key():
        pytest.skip("the shipped table is for another lark version (see test_the_shipped_parser_table_is_current)")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the collision check ran")

    monkeypatch.setattr(lark.lexer, "_check_regex_collisions", refuse)
    monkeypatch.setattr(lark.lexer.interegular.Comparator, "from_regexes", refuse)
    monkeypatch.setattr(P, "compute_table", refuse)
    text = 'principle p "s" { rule r: comply when demand.mandatory because "x" }'
    data, memo = P._table.__wrapped__()  # read from the file, not from the cache
    assert Lark._load_from_dict(data, memo).parse(text) == P.get_parser.__wrapped__().parse(text)
    with pytest.raises(AssertionError, match="collision check"):
        Lark(GRAMMAR, parser="lalr")  # the patch does catch an ordinary build


VALID = {
    "empty": "",
    "comment only": "# nothing yet\n",
    "vocabulary": 'vocabulary {\n    enum colour "a colour" { red "warm", green; blue, }\n'
    "    extend enum kind { age_verification }\n"
    '    attribute demand.users: number from 0 to 10 or unknown = 3 "how many"\n'
    "    attribute jurisdiction.eu: bool = false\n"
    "    attribute demand.note: text\n}\n",
    "empty blocks": 'vocabulary { }\nprinciple p "s" { }\ngroup EU "E" { }\njurisdiction FR "F" in EU { }\ntest "t" { }\n',
    "principle": 'principle p "s" {\n    rule r: comply when demand.mandatory because "x"\n'
    '    rule s: negotiate when not demand.mandatory because """multi\nline"""\n}\n',
    "every condition": 'principle p "s" { rule r: withdraw when demand.kind == a and demand.kind != b '
    "or jurisdiction.rule_of_law < 0.5 and jurisdiction.rule_of_law <= .5 or jurisdiction.rule_of_law > -1 "
    "or jurisdiction.rule_of_law >= 1e-3 or demand.kind in {a, b; c} or demand.kind not in {} "
    "or jurisdiction.rule_of_law is known or jurisdiction.rule_of_law is unknown or (demand.mandatory) "
    'or not (demand.kind == a) or demand.x == "t" or demand.y == true or demand.z == false because "x" }\n',
    "redundant parentheses": 'principle p "s" { rule r: comply when ((((demand.mandatory)))) because "x" }\n',
    "jurisdiction": 'jurisdiction FR "France" in EU {\n    rule_of_law = 0.72; eu = true, note = "n"\n'
    '    demand d "D" { kind = user_data category = fraud; legal_basis = statute }\n    x = unknown\n}\n',
    "tests": 'test "t" {\n    RU.keys -> withdraw by encryption.no_keys\n    RU.keys -> negotiate by default\n'
    "    FR { kind = user_data; category = fraud } -> comply\n    FR { } -> negotiate\n    market RU -> withdraw\n}\n",
    "keywords as names": 'principle test "s" { rule when: comply when demand.mandatory because "x" }\n'
    'jurisdiction group "g" { demand market "m" { kind = known } }\n',
    "escapes": r'principle p "a \"quote\", a \\ backslash, \n \t \r \{ \}" { }' + "\n",
    "crowded on one line": 'principle p "s"{rule r:comply when demand.mandatory because"x"}jurisdiction FR"F"{x=1}\n',
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_accepts(text: str) -> None:
    result = parsed(text)
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    assert result.cases == ()


INVALID = {
    "rule outside principle": 'rule r: comply when demand.mandatory because "x"\n',
    "nested principle": 'principle p "s" { principle q "t" { } }\n',
    "condition without attribute": 'principle p "s" { rule r: comply when 3 because "x" }\n',
    "comparison of two attributes": 'principle p "s" { rule r: comply when demand.a == demand.b because "x" }\n',
    "value compared on the left": 'principle p "s" { rule r: comply when hotline == demand.kind because "x" }\n',
    "nested set": 'principle p "s" { rule r: comply when demand.kind in {{a}} because "x" }\n',
    "assignment without value": 'jurisdiction FR "F" { rule_of_law = }\n',
    "test without arrow": 'test "t" { RU.keys withdraw }\n',
    "by without rule": 'test "t" { RU.keys -> withdraw by }\n',
    "unquoted description": "principle p statement { }\n",
    "three-part attribute": 'principle p "s" { rule r: comply when demand.kind.name == a because "x" }\n',
    "glued keyword": 'principle p "s" { rule r: comply whendemand.mandatory because "x" }\n',
    "number as name": 'principle 3 "s" { }\n',
    "control character": 'principle p "s" { }\x07\n',
}


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_rejects(text: str) -> None:
    result = parsed(text)
    assert result.diagnostics, "should not parse"
    assert all(d.code.startswith("PE1") and d.is_error for d in result.diagnostics)


# --- ERROR_EXAMPLES --------------------------------------------------------------------------


EXAMPLES = [(case.name, i, text) for case in ERROR_EXAMPLES for i, text in enumerate(case.examples)]


@pytest.mark.parametrize(("name", "index", "text"), EXAMPLES, ids=[f"{n}-{i}" for n, i, _ in EXAMPLES])
def test_every_error_example_is_explained_by_its_own_case(name: str, index: int, text: str) -> None:
    result = parsed(text)
    assert result.cases == (name,), [str(d) for d in result.diagnostics]
    assert len(result.diagnostics) == 1, [str(d) for d in result.diagnostics]
    d = result.diagnostics[0]
    assert d.code in CODES and d.code.startswith("PE1")
    assert d.message[0].islower() or d.message.startswith("`"), d.message
    assert not d.message.endswith("."), d.message


def test_every_case_has_examples_and_a_unique_name() -> None:
    names = [case.name for case in ERROR_EXAMPLES]
    assert len(names) == len(set(names))
    assert all(case.examples for case in ERROR_EXAMPLES), [c.name for c in ERROR_EXAMPLES if not c.examples]


#: Lark's names for terminals: an author must never see one.
LARK_WORDS = re.compile(
    r"\$END|__ANON|\b(?:RBRACE|LBRACE|LPAR|RPAR|COLON|NAME|STRING|LONG_STRING|NUMBER|COMPARATOR|_SEP|DOT|EQUAL)\b"
)


def all_messages(text: str) -> list[str]:
    return [f"{d.message} {d.hint or ''} {d.label or ''}" for d in parsed(text).diagnostics]


@pytest.mark.parametrize(("name", "index", "text"), EXAMPLES, ids=[f"{n}-{i}" for n, i, _ in EXAMPLES])
def test_messages_never_show_lark_names(name: str, index: int, text: str) -> None:
    for message in all_messages(text):
        assert not LARK_WORDS.search(message), message


@pytest.mark.parametrize(
    "text",
    [
        'principle p "s" { rule r: comply when demand.mandatory because "x" } }',
        'principle p "s" { rule r comply }',
        "jurisdiction FR",
        'test "t" { RU . }',
        "vocabulary { attribute demand.x number }",
        "vocabulary { enum e { a b } extend kind { x } }",
        'principle p "s" { rule r: comply when demand.kind in {a, } because }',
        "@",
    ],
)
def test_generic_messages_use_author_words(text: str) -> None:
    for message in all_messages(text):
        assert not LARK_WORDS.search(message), message


def test_expected_tokens_in_words() -> None:
    assert describe_expected({"COMPLY", "NEGOTIATE", "WITHDRAW"}) == "an outcome: `comply`, `negotiate` or `withdraw`"
    assert describe_expected({"RBRACE", "RULE"}) == "`rule` or `}`"
    assert "a value (a name, a number" in describe_expected({"NAME", "NUMBER", "STRING", "TRUE", "FALSE", "UNKNOWN"})
    assert describe_expected({"_SEP", "RBRACE"}) == "`}`"
    assert describe_expected(set()) == "something else"


# --- specific messages -----------------------------------------------------------------------


def test_context_names_the_principle_and_the_rule() -> None:
    [d] = parsed('principle encryption "s" {\n  rule no_keys: withdraw when demand.kind = a because "x"\n}\n').diagnostics
    assert d.message.startswith("in principle `encryption`, rule `no_keys`: ")
    assert d.span.text == "="


def test_missing_because_points_just_after_the_condition() -> None:
    text = 'principle p "s" {\n  rule r: withdraw when demand.mandatory\n  rule s: comply when demand.mandatory because "y"\n}\n'
    [d] = parsed(text).diagnostics
    assert "rule `r` has no `because` text" in d.message
    line, col = d.span.source.line_col(d.span.start)
    assert (line, col) == (2, len("  rule r: withdraw when demand.mandatory") + 1)


def test_a_keyword_glued_to_a_word_is_one_word() -> None:
    [d] = parsed('principle p "s" {\n    rules r: comply when demand.mandatory because "x"\n}\n').diagnostics
    assert d.span.text == "rules" and d.hint == "did you mean `rule`?"
    [d] = parsed(VALID["principle"].replace("comply when", "complying when")).diagnostics
    assert d.span.text == "complying" and d.hint == "did you mean `comply`?"


def test_typo_in_keyword_at_top_level_suggests_the_keyword() -> None:
    for typo, keyword in [
        ("principal", "principle"),
        ("jurisdicton", "jurisdiction"),
        ("vocabluary", "vocabulary"),
        ("tset", "test"),
    ]:
        [d] = parsed(f'{typo} x "s" {{ }}\n').diagnostics
        assert d.span.text == typo and d.hint == f"did you mean `{keyword}`?", (typo, d.hint)


def test_end_of_file_errors_are_pe103_or_pe109() -> None:
    codes = {parsed(t).diagnostics[0].code for t in ['principle p "s" { rule r: withdraw when', 'principle p "s" { rule r:']}
    assert codes == {"PE103"}
    [d] = parsed('principle p "s" {\n').diagnostics
    assert d.code == "PE109" and d.span.text == "{"


def test_long_names_are_clipped_in_messages() -> None:
    name = "n" * 10_000
    text = f'principle {name} "s" {{ rule {name} withdraw when demand.mandatory because "x" }}\n'
    [d] = parsed(text).diagnostics
    assert len(d.message) < 300 and len(d.hint or "") < 300


# --- recovery -------------------------------------------------------------------------------------


SEVERAL = """\
principle encryption "We never weaken end-to-end encryption" {
    rule no_keys:
        withdraw when demand.kind in {key_disclosure, encryption_backdoor}
        because "keys"
    rule bad_one: withdraw when demand.kind = traceability because "x"
    rule fine: negotiate when demand.kind == hotline because "y"
    rule bad_two: comply when demand.mandatory && demand.kind == user_data because "z"
    rule last: comply when demand.kind == transparency_report because "ok"
}

principle speech "Speech" {
    rule a: withdrew when demand.category == peaceful_protest because "no"
    rule b: negotiate when demand.category == hate_speech because "hmm"

jurisdiction FR "France" {
    rule_of_law = 0.72
    demand d1 "x" { kind = hotline; category = terrorism; legal_basis = statute }
}

jurisdiction RU "Russia" {
    rule_of_law == 0.3
    demand keys "keys" { kind = key_disclosure, category = all_users legal_basis = statute }
}

principal oops "x" {
}

test "t" {
    RU.keys -> withdraw by encryption.no_keys
    FR.d1 => negotiate
    market RU -> withdraw
}
"""


def test_every_mistake_is_reported_once_and_the_rest_is_read() -> None:
    result = parsed(SEVERAL)
    lines = [d.span.line for d in result.diagnostics]
    assert sorted(lines) == [5, 7, 11, 12, 21, 25, 30], [str(d) for d in result.diagnostics]
    assert underlined(result) == ["=", "&&", "withdrew", "{", "==", "principal", "="]
    decls = {
        getattr(d, "name", getattr(d, "code", None)).name: d
        for d in result.file.declarations
        if hasattr(d, "name") or hasattr(d, "code")
    }
    assert [r.name.name for r in decls["encryption"].rules] == ["no_keys", "fine", "last"]
    assert [r.name.name for r in decls["speech"].rules] == ["b"]  # kept: the missing `}` is repaired
    assert [d.name.name for d in decls["RU"].demands] == ["keys"]
    assert {"bad_one", "bad_two", "a"} <= result.skipped


def test_broken_assignment_keeps_the_next_one() -> None:
    result = parsed('jurisdiction FR "F" {\n    a: 1\n    b = 2\n    demand d "D" { kind = x }\n}\n')
    assert len(result.diagnostics) == 1
    [fr] = result.file.declarations
    assert [a.name.name for a in fr.assignments] == ["b"] and [d.name.name for d in fr.demands] == ["d"]


def test_a_doubled_equals_is_skipped_and_the_assignment_kept() -> None:
    result = parsed('jurisdiction FR "F" {\n    a = = 1\n    b = 2\n    demand d "D" { kind = x }\n}\n')
    assert underlined(result) == ["= ="]  # both `=`: the message says `=` sets, `==` compares
    [fr] = result.file.declarations
    assert [a.name.name for a in fr.assignments] == ["a", "b"]


def test_a_stray_token_alone_is_skipped() -> None:
    text = 'principle p "s" {\n    rule r: comply when demand.mandatory and and demand.kind == hotline because "x"\n}\n'
    result = parsed(text)
    assert underlined(result) == ["and"] and result.diagnostics[0].span.start == text.index("and and") + 4
    [p] = result.file.declarations
    assert [r.name.name for r in p.rules] == ["r"]  # the rule is kept


def test_unclosed_demand_is_repaired_and_both_demands_kept() -> None:
    text = 'jurisdiction RU "R" {\n    demand a "A" {\n        kind = x\n    demand b "B" { kind = y }\n}\n'
    result = parsed(text)
    assert [d.code for d in result.diagnostics] == ["PE109"]
    [ru] = result.file.declarations
    assert [d.name.name for d in ru.demands] == ["a", "b"]


def test_broken_test_expectation_keeps_the_others() -> None:
    result = parsed('test "t" {\n    RU.keys => withdraw\n    FR.x -> comply\n    market RU -> withdraw\n}\n')
    assert len(result.diagnostics) == 1
    [t] = result.file.declarations
    assert len(t.expectations) == 2


def test_broken_vocabulary_item_keeps_the_others() -> None:
    text = "vocabulary {\n    enum a { x }\n    attribute demand.y number\n    enum b { z }\n}\n"
    result = parsed(text)
    assert len(result.diagnostics) == 1, [str(d) for d in result.diagnostics]
    [voc] = result.file.declarations
    assert [e.name.name for e in voc.enums] == ["a", "b"]
    assert "z" not in result.skipped


def test_stray_text_between_declarations_is_skipped() -> None:
    text = 'principle p "s" { }\nthis is not policy\njurisdiction FR "F" { }\n'
    result = parsed(text)
    assert len(result.diagnostics) == 1 and result.diagnostics[0].span.text == "this"
    assert len(result.file.declarations) == 2


def test_many_errors_stop_at_the_limit() -> None:
    text = "".join(
        f'principle p{i} "s" {{ rule r: comply when demand.x = 1 because "x" }}\n' for i in range(P.MAX_SYNTAX_ERRORS + 10)
    )
    result = parsed(text)
    assert len(result.diagnostics) == P.MAX_SYNTAX_ERRORS


def test_recovery_is_deterministic() -> None:
    first = [(d.code, d.span.start, d.message) for d in parsed(SEVERAL).diagnostics]
    again = [(d.code, d.span.start, d.message) for d in parsed(SEVERAL).diagnostics]
    assert first == again


_TOKEN = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z_]\w*|-?\d+(?:\.\d+)?|->|==|!=|<=|>=|\S')


def test_one_slip_gives_one_or_two_diagnostics() -> None:
    """Delete, double or swap one token of valid policies (the examples of
    docs/language.md), 400 times with a fixed seed: recovery must not cascade.
    Two diagnostics happen when the slip leaves two misplaced pieces (a value
    swapped past a `}`: the `}` comes too early *and* the value is stray)."""
    import random

    docs = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text(encoding="utf-8")
    seeds = re.findall(r"```policy\n(.*?)```", docs, re.DOTALL)
    rng = random.Random(20240601)
    counts = []
    for _ in range(400):
        text = rng.choice(seeds)
        tokens = [m for m in _TOKEN.finditer(text) if not m.group().startswith("#")]
        i = rng.randrange(len(tokens) - 1)
        m, n = tokens[i], tokens[i + 1]
        edit = rng.choice(["delete", "double", "swap"])
        if edit == "delete":
            text = text[: m.start()] + text[m.end() :]
        elif edit == "double":
            text = text[: m.end()] + " " + m.group() + text[m.end() :]
        else:
            text = text[: m.start()] + n.group() + text[m.end() : n.start()] + m.group() + text[n.end() :]
        counts.append(len(parsed(text).diagnostics))
    assert max(counts) <= 2, counts
    assert sum(c == 2 for c in counts) <= len(counts) // 10


def test_the_cycle_collector_is_resumed_after_a_parse() -> None:
    import gc

    assert gc.isenabled()
    parsed(SEVERAL)
    parsed("")
    assert gc.isenabled()
    gc.disable()
    try:
        parsed(SEVERAL)
        assert not gc.isenabled()  # a caller's choice is left alone
    finally:
        gc.enable()
