"""Policy text → AST: one test per construct, compared structurally.

AST nodes ignore their spans in ``==``, so each test writes the tree it
expects with ``S`` (an arbitrary span) and compares.  Spans are checked
separately, by the text they cover: the name of a rule, the `{demand.kind}`
of a placeholder, the whole of a declaration.
"""

from __future__ import annotations

from typing import Any

import pytest

from policyengine.language import ast
from policyengine.language.parser import parse
from policyengine.language.source import Source, Span

S = Span(Source("<expected>", ""), 0, 0)


def I(name: str) -> ast.Ident:  # noqa: E743 - reads like the node it builds
    return ast.Ident(name, S)


def T(value: str) -> ast.Text:
    return ast.Text(value, S)


def ref(dotted: str) -> ast.AttributeRef:
    scope, name = dotted.split(".")
    return ast.AttributeRef(scope, name, S)


def sym(name: str) -> ast.Symbol:
    return ast.Symbol(name, S)


def num(value: float, text: str | None = None) -> ast.Number:
    return ast.Number(value, text or repr(value), S)


def only(text: str) -> Any:
    """The one declaration of ``text``, which must parse without diagnostics."""
    tree, diagnostics = parse(Source("t.policy", text))
    assert diagnostics == [], [str(d) for d in diagnostics]
    [decl] = tree.declarations
    return decl


def condition_of(cond: str) -> ast.Condition:
    principle = only(f'principle p "s" {{ rule r: comply when {cond} because "x" }}')
    return principle.rules[0].condition


def rule(text: str = "comply when demand.mandatory", because: str = '"x"') -> ast.Rule:
    return only(f'principle p "s" {{ rule r: {text} because {because} }}').rules[0]


# --- declarations -----------------------------------------------------------------------


def test_empty_file() -> None:
    tree, diagnostics = parse(Source("t.policy", "  # only a comment\n"))
    assert tree.declarations == () and diagnostics == [] and tree.path == "t.policy"


def test_vocabulary() -> None:
    voc = only(
        "vocabulary {\n"
        '  enum colour "a colour" { red "warm", green; blue }\n'
        "  extend enum kind { age_verification }\n"
        '  attribute demand.users: number from 0 to 10 or unknown = 3 "how many"\n'
        "  attribute jurisdiction.eu: bool = false\n"
        "  attribute demand.note: text\n"
        "}"
    )
    assert voc == ast.Vocabulary(
        (
            ast.EnumDecl(
                I("colour"),
                T("a colour"),
                (ast.EnumValue(I("red"), T("warm"), S), ast.EnumValue(I("green"), None, S), ast.EnumValue(I("blue"), None, S)),
                False,
                S,
            ),
            ast.EnumDecl(I("kind"), None, (ast.EnumValue(I("age_verification"), None, S),), True, S),
        ),
        (
            ast.AttributeDecl(
                ref("demand.users"), I("number"), (num(0, "0"), num(10, "10")), True, num(3, "3"), T("how many"), S
            ),
            ast.AttributeDecl(ref("jurisdiction.eu"), I("bool"), None, False, ast.Bool(False, S), None, S),
            ast.AttributeDecl(ref("demand.note"), I("text"), None, False, None, None, S),
        ),
        S,
    )


def test_principle_and_rules() -> None:
    p = only(
        'principle encryption "We never weaken encryption" {\n'
        '  rule no_keys: withdraw when demand.kind == key_disclosure because "keys {demand.kind}"\n'
        '  rule other: negotiate when demand.mandatory because "y"\n'
        "}"
    )
    assert p.name == I("encryption") and p.statement == T("We never weaken encryption")
    assert [r.name.name for r in p.rules] == ["no_keys", "other"]
    first = p.rules[0]
    assert first.outcome == "withdraw"
    assert first.condition == ast.Comparison(ref("demand.kind"), "==", sym("key_disclosure"), S)
    assert first.because.parts == ("keys ", ast.Placeholder(ref("demand.kind"), S))


def test_jurisdiction_group_and_demands() -> None:
    group = only('group EU "European Union" in EEA { eu_member = true }')
    assert group == ast.Jurisdiction(
        I("EU"), T("European Union"), I("EEA"), (ast.Assignment(I("eu_member"), ast.Bool(True, S), S),), (), True, S
    )
    fr = only(
        'jurisdiction FR "France" {\n  rule_of_law = 0.72; note = "n", x = unknown\n'
        '  demand d "D" { kind = user_data category = fraud }\n}'
    )
    assert fr.is_group is False and fr.member_of is None
    assert fr.assignments == (
        ast.Assignment(I("rule_of_law"), num(0.72, "0.72"), S),
        ast.Assignment(I("note"), T("n"), S),
        ast.Assignment(I("x"), ast.Unknown(S), S),
    )
    assert fr.demands == (
        ast.Demand(
            I("d"), T("D"), (ast.Assignment(I("kind"), sym("user_data"), S), ast.Assignment(I("category"), sym("fraud"), S)), S
        ),
    )


def test_tests_and_expectations() -> None:
    t = only(
        'test "name" {\n'
        "  RU.keys -> withdraw by encryption.no_keys\n"
        "  RU.keys -> negotiate by default\n"
        "  FR { kind = user_data } -> comply\n"
        "  market RU -> withdraw\n"
        "}"
    )
    assert t.description == T("name")
    assert t.expectations == (
        ast.StandingExpectation(I("RU"), I("keys"), "withdraw", ast.DecidedBy(I("encryption"), I("no_keys"), S), S),
        ast.StandingExpectation(I("RU"), I("keys"), "negotiate", ast.DecidedBy(None, None, S), S),
        ast.InlineExpectation(I("FR"), (ast.Assignment(I("kind"), sym("user_data"), S),), "comply", None, S),
        ast.MarketExpectation(I("RU"), "withdraw", S),
    )
    assert t.expectations[1].decided_by.is_default


# --- conditions --------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparisons(op: str) -> None:
    assert condition_of(f"jurisdiction.rule_of_law {op} 0.5") == ast.Comparison(
        ref("jurisdiction.rule_of_law"), op, num(0.5, "0.5"), S
    )


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("hotline", sym("hotline")),
        ('"t"', T("t")),
        ("true", ast.Bool(True, S)),
        ("false", ast.Bool(False, S)),
        ("-1.5e2", num(-150.0, "-1.5e2")),
        (".5", num(0.5, ".5")),
    ],
)
def test_literals(written: str, value: ast.Literal) -> None:
    assert condition_of(f"demand.x == {written}") == ast.Comparison(ref("demand.x"), "==", value, S)


def test_membership() -> None:
    assert condition_of("demand.kind in {a, b; c}") == ast.Membership(
        ref("demand.kind"), (sym("a"), sym("b"), sym("c")), False, S
    )
    assert condition_of("demand.kind not in {}") == ast.Membership(ref("demand.kind"), (), True, S)


def test_known_and_truth_tests() -> None:
    assert condition_of("jurisdiction.rule_of_law is known") == ast.KnownTest(ref("jurisdiction.rule_of_law"), True, S)
    assert condition_of("jurisdiction.rule_of_law is unknown") == ast.KnownTest(ref("jurisdiction.rule_of_law"), False, S)
    assert condition_of("demand.mandatory") == ast.TruthTest(ref("demand.mandatory"), S)


def test_precedence_not_binds_tighter_than_and_than_or() -> None:
    a, b, c = (ast.TruthTest(ref(f"demand.{x}"), S) for x in "abc")
    assert condition_of("demand.a or demand.b and demand.c") == ast.AnyOf((a, ast.AllOf((b, c), S)), S)
    assert condition_of("not demand.a and demand.b") == ast.AllOf((ast.Not(a, S), b), S)
    assert condition_of("not (demand.a and demand.b)") == ast.Not(ast.AllOf((a, b), S), S)
    assert condition_of("demand.a and demand.b and demand.c") == ast.AllOf((a, b, c), S)


def test_parentheses_only_group() -> None:
    assert condition_of("((((demand.a))))") == condition_of("demand.a")
    assert condition_of("(demand.a or demand.b) and demand.c") == ast.AllOf(
        (ast.AnyOf((ast.TruthTest(ref("demand.a"), S), ast.TruthTest(ref("demand.b"), S)), S), ast.TruthTest(ref("demand.c"), S)),
        S,
    )


# --- strings ---------------------------------------------------------------------------------------


def test_escapes() -> None:
    r = rule(because=r'"a \"q\" \\ \n \t \{literal\}"')
    assert r.because.parts == ('a "q" \\ \n \t {literal}',)


def test_triple_quoted_text_keeps_its_lines() -> None:
    r = rule(because='"""first\n   second "quoted" line"""')
    assert r.because.text.value == 'first\n   second "quoted" line'


def test_placeholders() -> None:
    r = rule(because='"{demand.kind} in { jurisdiction.name }!"')
    assert r.because.parts == (
        ast.Placeholder(ref("demand.kind"), S),
        " in ",
        ast.Placeholder(ref("jurisdiction.name"), S),
        "!",
    )


# --- layout never matters --------------------------------------------------------------------------


def test_layout_and_comments_do_not_change_the_tree() -> None:
    one_line = 'principle p "s" { rule r: withdraw when demand.kind in {a, b} and not demand.m because "x" }'
    spread = """
    # a comment
    principle p
        "s"   # another
    {
        rule r :
            withdraw
            when demand . kind in { a ; b , }
             and not demand.m
            because "x"
    }
    """
    assert only(one_line) == only(spread)


# --- spans ----------------------------------------------------------------------------------------


TEXT = """\
principle encryption "We never weaken encryption" {
    rule no_keys:
        withdraw when demand.kind in {key_disclosure, traceability}
            and jurisdiction.rule_of_law < 0.5
        because "handing over {demand.kind} would expose everyone"
}

jurisdiction FR "France" in EU {
    rule_of_law = 0.72
    demand d1 "Disclose" { kind = user_data }
}

test "t" {
    FR.d1 -> comply by encryption.no_keys
}
"""


@pytest.fixture(scope="module")
def tree() -> ast.PolicyFile:
    result, diagnostics = parse(Source("t.policy", TEXT))
    assert diagnostics == []
    return result


def test_spans_of_names(tree: ast.PolicyFile) -> None:
    p, fr, t = tree.declarations
    assert p.name.span.text == "encryption" and p.rules[0].name.span.text == "no_keys"
    assert fr.code.span.text == "FR" and fr.member_of.span.text == "EU"
    assert fr.demands[0].name.span.text == "d1" and fr.assignments[0].name.span.text == "rule_of_law"
    assert t.expectations[0].jurisdiction.span.text == "FR"
    assert t.expectations[0].decided_by.span.text == "by encryption.no_keys"


def test_spans_of_declarations_cover_them(tree: ast.PolicyFile) -> None:
    p, fr, _ = tree.declarations
    assert p.span.text.startswith("principle encryption") and p.span.text.endswith("}")
    assert fr.span.text.startswith("jurisdiction FR") and fr.span.text.endswith("}")
    assert p.rules[0].span.text.startswith("rule no_keys:") and p.rules[0].span.text.endswith('everyone"')
    assert (p.span.line, p.span.column) == (1, 1) and (fr.span.line, fr.span.column) == (8, 1)


def test_spans_of_conditions_and_values(tree: ast.PolicyFile) -> None:
    cond = tree.declarations[0].rules[0].condition
    assert isinstance(cond, ast.AllOf)
    assert cond.span.text == "demand.kind in {key_disclosure, traceability}\n            and jurisdiction.rule_of_law < 0.5"
    membership, comparison = cond.operands
    assert membership.span.text == "demand.kind in {key_disclosure, traceability}"
    assert [v.span.text for v in membership.values] == ["key_disclosure", "traceability"]
    assert comparison.ref.span.text == "jurisdiction.rule_of_law" and comparison.value.span.text == "0.5"
    assert tree.declarations[1].assignments[0].value.span.text == "0.72"


def test_spans_of_texts_and_placeholders(tree: ast.PolicyFile) -> None:
    because = tree.declarations[0].rules[0].because
    assert because.span.text == '"handing over {demand.kind} would expose everyone"'
    [placeholder] = because.placeholders()
    assert placeholder.span.text == "{demand.kind}"
    assert tree.declarations[0].statement.span.text == '"We never weaken encryption"'


def test_line_and_column_are_counted_in_characters() -> None:
    text = 'principle p "é漢字" {\n\trule r: comply when demand.x = 1 because "x"\n}\n'
    _, [d] = parse(Source("t.policy", text))
    assert d.span.text == "=" and (d.span.line, d.span.column) == (2, text.splitlines()[1].index("=") + 1)


def _node_spans(tree: Any) -> list[tuple[Any, ...]]:
    return [(t.data,) if t.meta.empty else (t.data, t.meta.start_pos, t.meta.end_pos) for t in tree.iter_subtrees()]


def test_node_positions_are_those_of_larks_propagate_positions() -> None:
    """The parser sets node positions itself, for speed; they must be exactly
    Lark's (a keyword, a brace, a separator or parentheses the tree leaves out
    still count), or every span an author sees would move."""
    from importlib import resources
    from pathlib import Path

    from lark import Lark

    from policyengine.language.parser import get_parser

    grammar = resources.files("policyengine.language").joinpath("grammar.lark").read_text(encoding="utf-8")
    reference = Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)
    root = Path(__file__).resolve().parent.parent
    texts = [p.read_text(encoding="utf-8") for p in sorted((root / "policies").rglob("*.policy"))]
    texts.append(resources.files("policyengine.language").joinpath("prelude/vocabulary.policy").read_text(encoding="utf-8"))
    texts += [
        "",
        "vocabulary { enum e { } }",
        'principle p "s" { rule r: comply when ((not (demand.x)) and (demand.y or demand.z)) because "b" }',
        'jurisdiction A "A" in G { x = 1; y = 2, demand d "d" { kind = k; } }',
        'test "t" { A.d -> comply by default  A { kind = k, } -> withdraw by p.r  market A -> negotiate }',
    ]
    assert len(texts) > 6
    for text in texts:
        assert _node_spans(get_parser().parse(text)) == _node_spans(reference.parse(text))


def test_every_transformer_method_repeats_its_production() -> None:
    """Each `t_<rule>` of the transformer starts its docstring with the grammar
    production it builds (``rule: …`` or ``rule: … -> alias``), as the grammar
    writes it, so the two cannot drift apart."""
    import inspect
    import re

    from policyengine.language.grammar import production
    from policyengine.language.transform import _Builder

    methods = [(name, fn) for name, fn in inspect.getmembers(_Builder, inspect.isfunction) if name.startswith("t_")]
    assert len(methods) > 30
    for name, fn in methods:
        first = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        head, _, body = first.partition(":")
        rule = head.lstrip("?!")
        renamed = re.search(r'(?<!")->\s*(\w+)\s*$', body)  # `-> alias`, not the `"->"` token
        alias = renamed.group(1) if renamed else rule
        assert alias == name[2:], (name, first)
        assert " ".join(body.split()) in production(rule), (name, first, production(rule))
