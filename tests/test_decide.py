"""Units of the decision core: facts, templates, numbers, the memo, the market rule.

Each test builds a tiny policy set in a temporary directory, so what it
checks is visible next to the assertion.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

import policyengine
from policyengine import Outcome, RequestError
from policyengine.evaluation.decision import show_value

PolicyDir = Callable[..., Path]

VOCAB = """
vocabulary {
    attribute demand.users: number or unknown "how many users the demand covers"
    attribute demand.urgent: bool or unknown "the authority says lives are at stake"
    attribute jurisdiction.eu_member: bool = false "member of the European Union"
    attribute jurisdiction.press: number from 0 to 100 or unknown "press freedom score"
}
"""

BASE = {"kind": "user_data", "category": "fraud", "legal_basis": "court_order"}


def engine(policy_dir: PolicyDir, text: str) -> policyengine.Engine:
    return policyengine.load(policy_dir({"vocab.policy": VOCAB, "main.policy": text}))


def decide(e: policyengine.Engine, code: str = "FR", **demand: object) -> policyengine.Decision:
    return e.decide({"jurisdiction": code, "demand": {**BASE, **demand}})


def facts(d: policyengine.Decision) -> list[str]:
    return [str(f) for r in d.reasons for f in r.facts]


# --- numbers are shown exactly ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "unknown"),
        (True, "true"),
        (False, "false"),
        (0.43, "0.43"),
        (1.0, "1"),
        (0.0, "0"),
        (-3.0, "-3"),
        (1234567.0, "1234567"),
        (0.123456789, "0.123456789"),
        (1e20, "1e+20"),
        ("key_disclosure", "key_disclosure"),
    ],
)
def test_show_value(value: object, shown: str) -> None:
    assert show_value(value) == shown  # type: ignore[arg-type]


def test_large_numbers_are_not_rounded_in_facts_or_because(policy_dir: PolicyDir) -> None:
    e = engine(
        policy_dir,
        """
        principle scale "Mass demands get a person" {
            rule many: negotiate when demand.users > 1234567 because "{demand.users} users"
        }
        jurisdiction FR "France" { rule_of_law = 0.72 }
        """,
    )
    d = decide(e, users=12345678)
    assert d.reasons[0].because == "12345678 users"
    assert facts(d) == ["demand.users = 12345678: > 1234567"]


# --- the memo never changes what is accepted ------------------------------------------


def test_memo_does_not_accept_a_bool_for_a_number_after_an_equal_number(policy_dir: PolicyDir) -> None:
    # True == 1, so a memo keyed on raw values would return the decision
    # made for users = 1 to a request that gives users = true.
    e = engine(policy_dir, 'jurisdiction FR "France" { rule_of_law = 0.72 }')
    decide(e, users=1)
    with pytest.raises(RequestError) as err:
        decide(e, users=True)
    assert err.value.field == "demand.users"


def test_memo_does_not_accept_a_number_for_a_bool_after_an_equal_bool(policy_dir: PolicyDir) -> None:
    e = engine(policy_dir, 'jurisdiction FR "France" { rule_of_law = 0.72 }')
    decide(e, users=1, mandatory=True)
    with pytest.raises(RequestError) as err:
        decide(e, users=1, mandatory=1)
    assert err.value.field == "demand.mandatory"


def test_memo_hit_is_the_same_decision(policy_dir: PolicyDir) -> None:
    e = engine(policy_dir, 'jurisdiction FR "France" { rule_of_law = 0.72 }')
    first = decide(e, users=3)
    assert decide(e, users=3) is first
    assert decide(e, users=3.0) == first


# --- facts: the atoms that made a condition true ----------------------------------------------

FACTS_SET = """
principle p "P" {
    rule any: negotiate when demand.category == fraud or demand.kind == hotline or demand.urgent
        because "any"
    rule none: comply when not (demand.category == fraud or demand.kind == user_data)
        because "none"
    rule not_both: comply when not (demand.category == fraud and demand.kind == hotline)
        because "not both"
    rule outside: comply when demand.category not in {terrorism, csam} and demand.legal_basis != statute
        because "outside"
    rule unknown_or: negotiate when demand.urgent or jurisdiction.press > 50
        because "urgent {demand.urgent}, press {jurisdiction.press}"
}
jurisdiction FR "France" { rule_of_law = 0.72  press = 80 }
jurisdiction XY "Nowhere" { rule_of_law = unknown }
"""


def reason(d: policyengine.Decision, rule: str) -> policyengine.Reason:
    for r in (*d.reasons, *d.outranked):
        if r.rule == rule:
            return r
    raise AssertionError(f"{rule} did not match: {d.summary}")


def test_or_lists_only_the_operands_that_hold(policy_dir: PolicyDir) -> None:
    e = engine(policy_dir, FACTS_SET)
    d = decide(e, kind="hotline", category="drugs", urgent=None)
    assert [str(f) for f in reason(d, "any").facts] == ["demand.kind = hotline: == hotline"]
    d = decide(e, kind="hotline", category="fraud", urgent=True)
    assert [str(f) for f in reason(d, "any").facts] == [
        "demand.category = fraud: == fraud",
        "demand.kind = hotline: == hotline",
        "demand.urgent = true: is true",
    ]


def test_not_or_lists_every_operand_negated(policy_dir: PolicyDir) -> None:
    e = engine(policy_dir, FACTS_SET)
    d = decide(e, kind="hotline", category="drugs")
    assert [str(f) for f in reason(d, "none").facts] == [
        "demand.category = drugs: != fraud",
        "demand.kind = hotline: != user_data",
    ]


def test_not_and_lists_the_operand_that_fails(policy_dir: PolicyDir) -> None:
    e = engine(policy_dir, FACTS_SET)
    d = decide(e, kind="hotline", category="drugs")
    assert [str(f) for f in reason(d, "not_both").facts] == ["demand.category = drugs: != fraud"]


def test_not_in_and_not_equal(policy_dir: PolicyDir) -> None:
    e = engine(policy_dir, FACTS_SET)
    d = decide(e, kind="hotline", category="drugs", legal_basis="court_order")
    assert [str(f) for f in reason(d, "outside").facts] == [
        "demand.category = drugs: not in {terrorism, csam}",
        "demand.legal_basis = court_order: != statute",
    ]


def test_or_with_an_unknown_operand_holds_by_the_other(policy_dir: PolicyDir) -> None:
    e = engine(policy_dir, FACTS_SET)
    d = decide(e, kind="user_data", category="drugs", urgent=None)
    r = reason(d, "unknown_or")
    assert [str(f) for f in r.facts] == ["jurisdiction.press = 80: > 50"]
    assert r.because == "urgent unknown, press 80"


def test_or_of_unknowns_is_undetermined(policy_dir: PolicyDir) -> None:
    e = engine(policy_dir, FACTS_SET)
    d = decide(e, "XY", kind="user_data", category="drugs", urgent=None)
    [u] = [u for u in d.undetermined if u.rule == "unknown_or"]
    assert u.unknown == ("demand.urgent", "jurisdiction.press")
    assert u.outcome is Outcome.NEGOTIATE
    # false or unknown is unknown; true or unknown is true
    d = decide(e, "XY", kind="user_data", category="drugs", urgent=True)
    assert reason(d, "unknown_or").because == "urgent true, press unknown"
    assert not any(u.rule == "unknown_or" for u in d.undetermined)


# --- because texts ---------------------------------------------------------------------------------


ALL_PLACEHOLDERS = " ".join(
    "{" + name + "}"
    for name in (
        "jurisdiction.code",
        "jurisdiction.name",
        "jurisdiction.rule_of_law",
        "jurisdiction.eu_member",
        "demand.mandatory",
        "demand.users",
        "demand.urgent",
        "demand.id",
        "demand.description",
    )
)


def test_because_fills_every_kind_of_value(policy_dir: PolicyDir) -> None:
    e = engine(
        policy_dir,
        'principle p "P" { rule r: comply when demand.kind == hotline because "' + ALL_PLACEHOLDERS + '" }'
        """
        jurisdiction FR "France" { rule_of_law = 0.72 }
        jurisdiction DE "Germany" {
            rule_of_law = 0.8
            demand hot "A hotline" { kind = hotline; category = terrorism; legal_basis = statute }
        }
        """,
    )
    assert decide(e, kind="hotline", users=10.5).reasons[0].because == "FR France 0.72 false false 10.5 unknown unknown unknown"
    assert e.standing("DE", "hot").reasons[0].because == "DE Germany 0.8 false false unknown unknown hot A hotline"


def test_because_keeps_braces_and_markup_as_text(policy_dir: PolicyDir) -> None:
    e = engine(
        policy_dir,
        r"""
        principle p "P" {
            rule r: comply when demand.kind == hotline because "\{literal\} [bold]not markup[/bold] {demand.kind}"
        }
        jurisdiction FR "France" { rule_of_law = 0.72 }
        """,
    )
    assert decide(e, kind="hotline").reasons[0].because == "{literal} [bold]not markup[/bold] hotline"


# --- severity is independent of rule order --------------------------------------------------------------


def test_severity_not_order_decides(policy_dir: PolicyDir) -> None:
    rules = [
        'rule a: withdraw when demand.kind == hotline because "a"',
        'rule b: comply when demand.kind == hotline because "b"',
        'rule c: negotiate when demand.kind == hotline because "c"',
    ]
    seen = set()
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        body = "\n".join(rules[i] for i in order)
        e = engine(policy_dir, f'principle p "P" {{ {body} }}\njurisdiction FR "France" {{ rule_of_law = 0.72 }}')
        d = decide(e, kind="hotline")
        seen.add((d.outcome, tuple(r.rule for r in d.reasons), tuple(r.rule for r in d.outranked)))
    assert seen == {(Outcome.WITHDRAW, ("a",), ("b", "c"))}


# --- explanation rendering ------------------------------------------------------------------------------


def _render(renderable: object, width: int = 100) -> str:
    from rich.console import Console

    from policyengine.evaluation.explain import tidy

    console = Console(width=width, record=True, file=io.StringIO(), highlight=False)
    console.print(tidy(renderable))  # type: ignore[arg-type]
    return console.export_text()


def test_demand_attributes_lead_with_kind_category_legal_basis() -> None:
    from policyengine.evaluation.explain import demand_attributes

    attrs = {"users": 3.0, "category": "fraud", "id": "x", "kind": "hotline", "legal_basis": "statute", "mandatory": True}
    shown = demand_attributes(attrs)  # type: ignore[arg-type]
    assert shown == "kind = hotline, category = fraud, legal_basis = statute, mandatory = true, users = 3"


def test_long_rules_are_cut_after_twelve_lines(policy_dir: PolicyDir) -> None:
    from policyengine.evaluation.explain import MAX_RULE_LINES, explanation_tree

    values = "\n".join(f"                {k}," for k in ("terrorism", "csam", "fraud", "drugs", "hate_speech", "disinformation"))
    e = engine(
        policy_dir,
        'principle p "P" {\n    rule long:\n        comply when demand.category in {\n'
        + values
        + "\n                copyright\n            }\n            and demand.kind == hotline\n"
        + "            and demand.legal_basis == statute\n            and not demand.mandatory\n"
        + '        because "long"\n}\njurisdiction FR "France" { rule_of_law = 0.72 }\n',
    )
    d = decide(e, kind="hotline", category="fraud", legal_basis="statute")
    out = _render(explanation_tree(d, e.policy_set))
    numbered = [line for line in out.splitlines() if " | " in line]
    assert len(numbered) == MAX_RULE_LINES + 1
    assert numbered[0].endswith("2 |     rule long:")
    assert numbered[-1].endswith("| …")


def test_engine_reasons_have_no_rule_as_written(policy_dir: PolicyDir) -> None:
    from policyengine.evaluation.explain import explanation_tree

    e = engine(policy_dir, 'jurisdiction FR "France" { rule_of_law = 0.72 }')
    out = _render(explanation_tree(decide(e, "XX"), e.policy_set))
    assert "decided by policyengine.unknown_jurisdiction → negotiate  <engine>" in out
    assert "rule as written" not in out
