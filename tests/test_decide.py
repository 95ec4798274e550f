"""Units of the decision core: facts, templates, numbers, the memo, the market rule.

Each test builds a tiny policy set in a temporary directory, so what it
checks is visible next to the assertion.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import policyengine
from policyengine import Outcome, RequestError
from policyengine.decision import show_value

PolicyDir = Callable[..., Path]

VOCAB = """
vocabulary {
    attribute demand.users: number "how many users the demand covers"
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
