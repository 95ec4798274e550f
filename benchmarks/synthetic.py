"""Seeded synthetic policy sets, for measuring how the engine scales.

``write_policy_set(root, rules=N, jurisdictions=M)`` writes ``.policy`` files
shaped like a real policy library grown large, not like noise:

* a vocabulary extension (a ``region`` enumeration for jurisdictions, a
  ``press`` score, an ``online_safety_law`` flag, a ``users`` count on demands);
* M jurisdictions: every two-letter code the validator accepts is a country,
  so past 676 the rest are groups (``G0001`` …); most countries belong to a
  group and inherit its attributes;
* a fixed core of global principles (the seven peer rules and some twenty
  others) that does not grow with the set: a platform has a handful of
  principles, however many countries it serves;
* the remaining rules are specific: to one to three jurisdictions
  (``jurisdiction.code in {…}``) or, more rarely, to a region; each names a
  demand kind and usually categories, sometimes a legal basis, a score
  threshold, ``demand.mandatory`` or a ``demand.users`` bound.

Same arguments, same files, byte for byte.
"""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

from .peer import BASES, CATEGORIES, KINDS

REGIONS = ("africa", "americas", "arab_states", "asia_pacific", "central_asia", "europe", "oceania", "small_states")
OUTCOMES = ("comply", "negotiate", "withdraw")
#: Rules per generated file.
RULES_PER_FILE = 1_000
#: Rules per principle.
RULES_PER_PRINCIPLE = 50

VOCABULARY = """\
vocabulary {
    enum region "where a jurisdiction is" {
%s
    }
    attribute jurisdiction.region: region or unknown "the jurisdiction's region"
    attribute jurisdiction.press: number from 0 to 100 or unknown "press freedom score"
    attribute jurisdiction.online_safety_law: bool = false "has an online safety law with platform duties"
    attribute demand.users: number or unknown "how many users the demand covers"
}
"""

CORE = """\
principle peer "The seven rules of the peer workload" {
    rule a_no_keys: withdraw when demand.kind in {key_disclosure, encryption_backdoor, traceability}
        because "{demand.kind} would break end-to-end encryption for every user"
    rule b_no_censorship: withdraw when demand.kind == channel_block
        and demand.category in {peaceful_protest, political_opposition, journalism}
        because "blocking {demand.category} channels silences protected speech"
    rule c_remove_abuse: comply when demand.kind in {content_removal, channel_block} and demand.category in {terrorism, csam}
        because "{demand.category} content is removed wherever it is found"
    rule d_court_ordered_data: comply when demand.kind == user_data and demand.category in {criminal_suspect, terrorism}
        and demand.legal_basis == court_order and jurisdiction.rule_of_law >= 0.6
        because "a judge ordered it where the rule-of-law score is {jurisdiction.rule_of_law}"
    rule e_weak_courts: negotiate when demand.kind == user_data and jurisdiction.rule_of_law < 0.6
        because "a rule-of-law score of {jurisdiction.rule_of_law} is too low"
    rule f_terror_hotline: comply when demand.kind == hotline and demand.category == terrorism
        because "a hotline for imminent threats saves lives"
    rule g_localization: negotiate when demand.kind == data_localization
        because "storing data in the country needs review"
}

principle core "Global principles that hold everywhere" {
    rule bulk_data: withdraw when demand.kind == user_data and demand.category == all_users
        because "bulk disclosure of every user's data is surveillance"
    rule informal_data: negotiate when demand.kind == user_data and demand.legal_basis == informal
        because "user data is never handed over on an informal request"
    rule press_block: withdraw when demand.kind == channel_block and jurisdiction.press < 30 and demand.category == disinformation
        because "with a press freedom score of {jurisdiction.press}, disinformation claims cover censorship"
    rule copyright_removal: comply when demand.kind == content_removal and demand.category == copyright
        and demand.legal_basis in {court_order, statute}
        because "lawful copyright takedowns are honoured"
    rule fraud_removal: comply when demand.kind == content_removal and demand.category in {fraud, drugs}
        because "scams and drug sales are removed"
    rule hate_removal: negotiate when demand.kind == content_removal and demand.category == hate_speech
        and demand.legal_basis == administrative_order
        because "hate speech orders without a judge are reviewed"
    rule transparency: comply when demand.kind == transparency_report
        because "publishing figures is always fine"
    rule representative: comply when demand.kind == local_representative and jurisdiction.rule_of_law >= 0.5
        because "a representative is appointed where courts work"
    rule representative_risk: negotiate when demand.kind == local_representative and jurisdiction.rule_of_law < 0.5
        because "staff could be held hostage where the score is {jurisdiction.rule_of_law}"
    rule safety_law: comply when demand.kind == content_removal and jurisdiction.online_safety_law
        and demand.category in {csam, terrorism, fraud} and demand.mandatory
        because "the online safety law makes this removal a duty"
    rule big_request: negotiate when demand.kind == user_data and demand.users > 1000
        because "{demand.users} users is not a targeted request"
    rule hotline_weak: negotiate when demand.kind == hotline and jurisdiction.rule_of_law < 0.4
        because "a hotline where the score is {jurisdiction.rule_of_law} invites abuse"
    rule localization_mandatory: withdraw when demand.kind == data_localization and demand.mandatory
        and jurisdiction.rule_of_law < 0.35
        because "mandatory localisation where courts do not work exposes users"
    rule unknown_courts: negotiate when demand.kind == user_data and jurisdiction.rule_of_law is unknown
        because "no rule-of-law score: a person reviews data requests"
}
"""


def jurisdiction_codes(n: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """(countries, groups): countries first, all two-letter codes at most; groups make up the rest."""
    letters = string.ascii_uppercase
    all_codes = [a + b for a in letters for b in letters]
    groups_wanted = max(n // 25, n - len(all_codes), 1 if n > 1 else 0)
    countries = sorted(rng.sample(all_codes, n - groups_wanted))
    groups = [f"G{i:04d}" for i in range(1, groups_wanted + 1)]
    return countries, groups


def _jurisdictions_text(countries: list[str], groups: list[str], rng: random.Random) -> str:
    out = ["# Generated by benchmarks/synthetic.py", ""]
    for g in groups:
        region = rng.choice(REGIONS)
        law = "true" if rng.random() < 0.3 else "false"
        out.append(
            f'group {g} "Group {g}" {{ region = {region}  online_safety_law = {law}  rule_of_law = {rng.randint(20, 90) / 100} }}'
        )
    for c in countries:
        parts = []
        if rng.random() < 0.9:
            parts.append(f"rule_of_law = {rng.randint(15, 95) / 100}")
        else:
            parts.append("rule_of_law = unknown")
        if rng.random() < 0.8:
            parts.append(f"press = {rng.randint(5, 95)}")
        member = f" in {rng.choice(groups)}" if groups and rng.random() < 0.8 else ""
        if not member:
            parts.append(f"region = {rng.choice(REGIONS)}")
        demands = ""
        if rng.random() < 0.3:
            kind = rng.choice(KINDS)
            category = rng.choice(CATEGORIES)
            basis = rng.choice(BASES)
            mandatory = "true" if rng.random() < 0.5 else "false"
            demands = (
                f'\n    demand d1 "A standing demand" {{ kind = {kind}  category = {category}  legal_basis = {basis}'
                f"  mandatory = {mandatory} }}\n"
            )
        out.append(f'jurisdiction {c} "Country {c}"{member} {{ {"  ".join(parts)}{demands} }}')
    return "\n".join(out) + "\n"


def _specific_rule(name: str, codes: list[str], rng: random.Random) -> str:
    clauses = []
    if rng.random() < 0.95:
        picked = rng.sample(codes, rng.randint(1, 3))
        clauses.append(f"jurisdiction.code in {{{', '.join(picked)}}}")
    else:
        clauses.append(f"jurisdiction.region == {rng.choice(REGIONS)}")
    kind = rng.choice(KINDS)
    clauses.append(f"demand.kind == {kind}")
    if rng.random() < 0.8:
        cats = rng.sample(CATEGORIES, rng.randint(1, 4))
        clauses.append(f"demand.category in {{{', '.join(cats)}}}")
    if rng.random() < 0.4:
        clauses.append(f"demand.legal_basis == {rng.choice(BASES)}")
    extra = rng.random()
    if extra < 0.15:
        clauses.append(f"jurisdiction.rule_of_law {rng.choice(['<', '>='])} {rng.choice([0.3, 0.4, 0.5, 0.6, 0.7])}")
    elif extra < 0.25:
        clauses.append("demand.mandatory" if rng.random() < 0.5 else "not demand.mandatory")
    elif extra < 0.3:
        clauses.append(f"demand.users > {rng.choice([100, 1000, 10000])}")
    outcome = rng.choice(OUTCOMES)
    because = rng.choice(
        [
            "local law on {demand.kind} as agreed with counsel",
            "{demand.category} cases here follow the local agreement",
            "counsel reviewed this kind of demand",
        ]
    )
    body = "\n        and ".join(clauses)
    return f'    rule {name}: {outcome} when {body}\n        because "{because}"\n'


def write_policy_set(root: Path, rules: int, jurisdictions: int, seed: int = 7) -> list[Path]:
    """Write a synthetic set of about ``rules`` rules over ``jurisdictions`` jurisdictions into ``root``."""
    rng = random.Random(f"{seed}-{rules}-{jurisdictions}")
    root.mkdir(parents=True, exist_ok=True)
    countries, groups = jurisdiction_codes(jurisdictions, rng)
    files = {
        "vocabulary.policy": VOCABULARY % "\n".join(f"        {r}" for r in REGIONS),
        "jurisdictions.policy": _jurisdictions_text(countries, groups, rng),
        "core.policy": CORE,
    }
    core_rules = CORE.count("    rule ")
    codes = countries + groups
    specific = max(rules - core_rules, 0)
    for start in range(0, specific, RULES_PER_FILE):
        chunk = []
        for p_start in range(start, min(start + RULES_PER_FILE, specific), RULES_PER_PRINCIPLE):
            body = "".join(
                _specific_rule(f"r{i:05d}", codes, rng) for i in range(p_start, min(p_start + RULES_PER_PRINCIPLE, specific))
            )
            batch = p_start // RULES_PER_PRINCIPLE
            chunk.append(f'principle local{batch:04d} "Local agreements, batch {batch}" {{\n{body}}}\n')
        files[f"local_{start // RULES_PER_FILE:03d}.policy"] = "\n".join(chunk)
    written = []
    for name, text in files.items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def requests(engine_codes: list[str], n: int, seed: int = 11) -> list[dict[str, Any]]:
    """Seeded requests over the given jurisdictions and every kind, category and basis."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for _ in range(n):
        demand: dict[str, Any] = {
            "kind": rng.choice(KINDS),
            "category": rng.choice(CATEGORIES),
            "legal_basis": rng.choice(BASES),
        }
        if rng.random() < 0.3:
            demand["mandatory"] = rng.random() < 0.5
        if rng.random() < 0.2:
            demand["users"] = rng.choice([10, 5000, 50000])
        out.append({"jurisdiction": rng.choice(engine_codes), "demand": demand})
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="write a synthetic policy set")
    parser.add_argument("root", type=Path)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--jurisdictions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for p in write_policy_set(args.root, args.rules, args.jurisdictions, args.seed):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
