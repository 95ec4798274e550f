"""Validation: one case per check, asserted by the text the diagnostic underlines.

Each case is a small policy set (the standard vocabulary is always loaded
first), the code it must produce, the text that code must underline, and a
piece of its hint when there is one (the "did you mean" hints above all).
A case also fails if any *other* error is reported: one mistake, one error.
"""

from __future__ import annotations

import pytest

from policyengine.language.diagnostics import Diagnostic
from policyengine.language.pipeline import analyse_sources
from policyengine.language.source import Source

FR = 'jurisdiction FR "France" { rule_of_law = 0.7 }\n'
RU = (
    'jurisdiction RU "Russia" {\n  rule_of_law = 0.3\n'
    '  demand keys "Hand over the keys" { kind = key_disclosure; category = all_users; legal_basis = statute }\n}\n'
)
DEMAND = "kind = hotline; category = fraud; legal_basis = statute"
ENC = 'principle encryption "s" {\n  rule no_keys: withdraw when demand.kind == key_disclosure because "x"\n}\n'


def rule(condition: str, because: str = '"x"') -> str:
    return f'principle p "s" {{\n  rule r: comply when {condition} because {because}\n}}\n'


def diagnose(files: dict[str, str] | str) -> list[Diagnostic]:
    if isinstance(files, str):
        files = {"main.policy": files}
    _, diagnostics = analyse_sources([Source(name, text) for name, text in files.items()])
    return diagnostics


# (id, policy text, code, underlined text, piece of the hint or None)
CASES: list[tuple[str, str, str, str, str | None]] = [
    # PE201 duplicates
    ("duplicate enum", "vocabulary { enum kind { a } }", "PE201", "kind", "extend enum kind"),
    ("duplicate attribute", "vocabulary { attribute demand.kind: kind }", "PE201", "demand.kind", "first declared"),
    (
        "attribute named like a built-in",
        "vocabulary { attribute jurisdiction.code: text }",
        "PE201",
        "jurisdiction.code",
        "built in",
    ),
    ("duplicate jurisdiction", FR + FR, "PE201", "FR", "first declared at main.policy:1:14"),
    ("duplicate principle", ENC + ENC, "PE201", "encryption", "first declared"),
    (
        "duplicate rule",
        'principle p "s" { rule r: comply when demand.mandatory because "x"\n rule r: comply when demand.mandatory because "y" }',
        "PE201",
        "r",
        "first declared",
    ),
    (
        "duplicate demand",
        f'jurisdiction FR "F" {{ rule_of_law = 0.5\n demand d "D" {{ {DEMAND} }}\n demand d "E" {{ {DEMAND} }} }}',
        "PE201",
        "d",
        "first declared",
    ),
    (
        "demand id of the group",
        f'group EU "E" {{ rule_of_law = 0.5\n demand d "D" {{ {DEMAND} }} }}\n'
        f'jurisdiction FR "F" in EU {{ demand d "E" {{ {DEMAND} }} }}',
        "PE201",
        f'demand d "E" {{ {DEMAND} }}',
        "another id",
    ),
    ("assignment twice", 'jurisdiction FR "F" { rule_of_law = 0.5; rule_of_law = 0.6 }', "PE201", "rule_of_law", "first set"),
    (
        "test names twice",
        FR + 'test "t" { market FR -> comply }\ntest "t" { market FR -> comply }',
        "PE201",
        '"t"',
        "other is at",
    ),
    # PE202 unknown jurisdiction
    ("unknown jurisdiction in a test", FR + 'test "t" { market FRA -> comply }', "PE202", "FRA", "did you mean `FR`?"),
    # PE203 unknown attribute
    ("unknown attribute in a condition", rule("demand.knd == hotline"), "PE203", "demand.knd", "did you mean `demand.kind`?"),
    (
        "unknown jurisdiction attribute",
        'jurisdiction FR "F" { rule_of_law = 0.5; rule_of_lwa = 1 }',
        "PE203",
        "rule_of_lwa",
        "did you mean `rule_of_law`?",
    ),
    (
        "unknown demand attribute",
        f'jurisdiction FR "F" {{ rule_of_law = 0.5\n demand d "D" {{ {DEMAND}; mandatroy = true }} }}',
        "PE203",
        "mandatroy",
        "did you mean `mandatory`?",
    ),
    ("built-in attribute assigned", 'jurisdiction FR "F" { rule_of_law = 0.5; code = FR }', "PE203", "code", None),
    # PE204 unknown value
    ("misspelled enum value", rule("demand.kind == key_disclousre"), "PE204", "key_disclousre", "did you mean `key_disclosure`?"),
    ("value of another enumeration", rule("demand.kind == terrorism"), "PE204", "terrorism", "belongs to enumeration `category`"),
    ("unknown code in a condition", FR + rule("jurisdiction.code == FRA"), "PE204", "FRA", "did you mean `FR`?"),
    # PE205 type mismatch
    ("name for a number", 'jurisdiction FR "F" { rule_of_law = high }', "PE205", "high", "write a number from 0 to 1"),
    ("number for a bool", rule("demand.mandatory == 1"), "PE205", "1", None),
    ("number for an enumeration", rule("demand.kind == 3"), "PE205", "3", "one of"),
    (
        "unknown where not allowed",
        'jurisdiction FR "F" { rule_of_law = 0.5\n demand d "D" { kind = unknown; category = fraud; legal_basis = statute } }',
        "PE205",
        "unknown",
        "or unknown",
    ),
    ("comparison with unknown", rule("jurisdiction.rule_of_law == unknown"), "PE205", "unknown", "is unknown"),
    ("set with unknown", rule("demand.kind in {hotline, unknown}"), "PE205", "unknown", "is unknown"),
    ("non-bool alone as a condition", rule("demand.kind"), "PE205", "demand.kind", "compare it"),
    # PE206 unknown type
    ("misspelled type", "vocabulary { attribute demand.users: nubmer }", "PE206", "nubmer", "did you mean `number`?"),
    # PE207 membership cycle
    ("membership cycle", 'group AA "a" in BB { rule_of_law = 0.5 }\ngroup BB "b" in AA { }', "PE207", "BB", "member of itself"),
    ("group member of itself", 'group AA "a" in AA { rule_of_law = 0.5 }', "PE207", "AA", "member of itself"),
    # PE208 unknown group
    ("unknown group", 'group EU "E" { rule_of_law = 0.5 }\njurisdiction FR "F" in EUU { }', "PE208", "EUU", "did you mean `EU`?"),
    ("member of a jurisdiction", FR + 'jurisdiction DE "D" in FR { }', "PE208", "FR", None),
    # PE209 placeholder naming no attribute
    (
        "misspelled placeholder",
        rule("demand.mandatory", '"{demand.knid}"'),
        "PE209",
        "{demand.knid}",
        "did you mean `{demand.kind}`?",
    ),
    # PE210 unknown demand
    ("unknown standing demand", RU + 'test "t" { RU.key -> negotiate }', "PE210", "key", "did you mean `keys`?"),
    # PE211 unknown rule / by default
    (
        "unknown rule in a test",
        RU + ENC + 'test "t" { RU.keys -> withdraw by encryption.no_key }',
        "PE211",
        "by encryption.no_key",
        "did you mean `encryption.no_keys`?",
    ),
    ("by default with another outcome", RU + 'test "t" { RU.keys -> comply by default }', "PE211", "by default", None),
    # PE212 contradictions
    (
        "two values of one enumeration",
        rule("demand.kind == hotline and demand.kind == user_data"),
        "PE212",
        "demand.kind == hotline and demand.kind == user_data",
        "did you mean `or`",
    ),
    (
        "disjoint number intervals",
        rule("jurisdiction.rule_of_law < 0.3 and jurisdiction.rule_of_law > 0.5"),
        "PE212",
        "jurisdiction.rule_of_law < 0.3 and jurisdiction.rule_of_law > 0.5",
        None,
    ),
    (
        "a bool and its negation",
        rule("demand.mandatory and not demand.mandatory"),
        "PE212",
        "demand.mandatory and not demand.mandatory",
        None,
    ),
    (
        "sets without common value",
        rule("demand.kind in {hotline, user_data} and demand.kind not in {hotline, user_data}"),
        "PE212",
        "demand.kind in {hotline, user_data} and demand.kind not in {hotline, user_data}",
        None,
    ),
    # PE213 missing required attribute
    (
        "demand without a category",
        'jurisdiction FR "F" { rule_of_law = 0.5\n demand d "D" { kind = hotline; legal_basis = statute } }',
        "PE213",
        "d",
        "add `category = …`",
    ),
    (
        "test demand without a kind",
        FR + 'test "t" { FR { category = fraud; legal_basis = statute } -> negotiate }',
        "PE213",
        "FR",
        None,
    ),
    (
        "jurisdiction without a required attribute",
        "vocabulary { attribute jurisdiction.region: text }\n" + FR,
        "PE213",
        "FR",
        "add `region = …`",
    ),
    # PE214 out of range
    ("percent for a 0-1 scale", 'jurisdiction FR "F" { rule_of_law = 72 }', "PE214", "72", "did you mean `0.72`?"),
    ("below the range", 'jurisdiction FR "F" { rule_of_law = -0.1 }', "PE214", "-0.1", "from 0 to 1"),
    # PE215 invalid codes
    ("country name as code", 'jurisdiction France "F" { rule_of_law = 0.5 }', "PE215", "France", "ISO 3166-1"),
    ("lower-case group code", 'group eu "E" { rule_of_law = 0.5 }', "PE215", "eu", "upper-case"),
    # PE216 operator not allowed
    ("ordering an enumeration", rule("demand.kind < hotline"), "PE216", "demand.kind < hotline", "`==`"),
    ("set of numbers", rule("jurisdiction.rule_of_law in {0.5}"), "PE216", "jurisdiction.rule_of_law in {0.5}", "`<`"),
    ("condition on a text", rule('demand.description == "x"'), "PE216", "demand.description", "`because` texts"),
    # PE218 unknown enumeration
    ("extending an unknown enumeration", "vocabulary { extend enum knid { x } }", "PE218", "knid", "did you mean `kind`?"),
    # PE220 malformed placeholders
    ("placeholder without scope", rule("demand.mandatory", '"{kind}"'), "PE220", "{kind}", "{demand.kind}"),
    ("placeholder never closed", rule("demand.mandatory", '"{demand.kind"'), "PE220", "{demand.kind", "\\{"),
    ("stray closing brace", rule("demand.mandatory", '"a } b"'), "PE220", "}", "\\}"),
    # PE221 invalid vocabulary declarations
    ("enumeration named like a type", "vocabulary { enum bool { a } }", "PE221", "bool", None),
    ("range on a bool", "vocabulary { attribute demand.urgent: bool from 0 to 1 }", "PE221", "0", None),
    ("empty range", "vocabulary { attribute demand.users: number from 10 to 1 }", "PE221", "10", None),
]


@pytest.mark.parametrize(("text", "code", "underlined", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check(text: str, code: str, underlined: str, hint: str | None) -> None:
    diagnostics = diagnose(text)
    errors = [d for d in diagnostics if d.is_error]
    matching = [d for d in diagnostics if d.code == code]
    assert len(matching) == 1, [str(d) for d in diagnostics]
    [d] = matching
    assert d.span.text == underlined, str(d)
    if hint is not None:
        assert d.hint is not None and hint in d.hint, (d.hint, hint)
    assert errors == ([d] if d.is_error else []), [str(e) for e in errors]


WARNINGS: list[tuple[str, str, str, str]] = [
    ("known test on a required attribute", rule("demand.kind is known"), "PE217", "demand.kind is known"),
    ("value twice in an enumeration", "vocabulary { extend enum kind { hotline } }", "PE219", "hotline"),
    ("value twice in a set", rule("demand.kind in {hotline, user_data, hotline}"), "PE219", "hotline"),
]


@pytest.mark.parametrize(("text", "code", "underlined"), [c[1:] for c in WARNINGS], ids=[c[0] for c in WARNINGS])
def test_warning_still_loads(text: str, code: str, underlined: str) -> None:
    policy_set, diagnostics = analyse_sources([Source("main.policy", text)])
    assert [(d.code, d.span.text) for d in diagnostics] == [(code, underlined)]
    assert not diagnostics[0].is_error and policy_set is not None


def test_no_contradiction_for_a_satisfiable_interval() -> None:
    assert diagnose(rule("jurisdiction.rule_of_law > 0.3 and jurisdiction.rule_of_law < 0.5")) == []
    assert diagnose(rule("jurisdiction.rule_of_law >= 0.5 and jurisdiction.rule_of_law <= 0.5")) == []


def test_one_report_per_cycle_whatever_the_number_of_members() -> None:
    text = (
        'group AA "a" in BB { rule_of_law = 0.5 }\ngroup BB "b" in CC { }\ngroup CC "c" in AA { }\njurisdiction FR "F" in AA { }'
    )
    assert [d.code for d in diagnose(text)] == ["PE207"]


def test_errors_in_several_files_are_all_reported_sorted() -> None:
    diagnostics = diagnose({"b.policy": rule("demand.knd == hotline"), "a.policy": 'jurisdiction FR "F" { rule_of_law = 7 }'})
    assert [(d.span.path, d.code) for d in diagnostics] == [("a.policy", "PE214"), ("b.policy", "PE203")]


def test_file_order_does_not_change_the_diagnostics() -> None:
    files = {"a.policy": rule("demand.knd == x"), "b.policy": FR + FR, "c.policy": 'test "t" { market XX -> comply }'}
    forward = [str(d) for d in diagnose(files)]
    backward = [str(d) for d in diagnose(dict(reversed(list(files.items()))))]
    assert forward == backward and len(forward) == 3


# --- what a valid set means ---------------------------------------------------------------------


def load(text: str):  # type: ignore[no-untyped-def]
    policy_set, diagnostics = analyse_sources([Source("main.policy", text)])
    assert policy_set is not None, [str(d) for d in diagnostics]
    return policy_set


def test_group_attributes_and_demands_are_inherited_and_overridden() -> None:
    ps = load(
        "vocabulary { attribute jurisdiction.eu: bool = false }\n"
        'group EU "European Union" { rule_of_law = 0.8; eu = true\n'
        '  demand dsa "Transparency reports" { kind = transparency_report; category = all_users; legal_basis = statute } }\n'
        'group EZ "Eurozone" in EU { }\n'
        'jurisdiction FR "France" in EZ { rule_of_law = 0.7 }\n'
        'jurisdiction CH "Switzerland" { rule_of_law = 0.9 }\n'
    )
    fr, ch = ps.jurisdictions["FR"], ps.jurisdictions["CH"]
    assert fr.chain == ("FR", "EZ", "EU")
    assert fr.attrs["rule_of_law"] == 0.7 and fr.attrs["eu"] is True and fr.attr_origin["eu"] == "EU"
    assert [d.id for d in fr.demands] == ["dsa"]
    assert ch.attrs["eu"] is False and ch.demands == ()


def test_defaults_and_unknown() -> None:
    ps = load('jurisdiction XK "Kosovo" {\n  demand d "D" { kind = hotline; category = fraud; legal_basis = statute } }\n')
    xk = ps.jurisdictions["XK"]
    assert xk.attrs["rule_of_law"] is None  # declared `or unknown`, not given
    assert xk.demands[0].attrs["mandatory"] is False  # the default


def test_a_set_with_errors_is_not_built() -> None:
    policy_set, diagnostics = analyse_sources([Source("main.policy", rule("demand.knd == x"))])
    assert policy_set is None and diagnostics
