"""DSA statements of reasons (Art. 17) in the EU Transparency Database's submission format.

Stage contract: :func:`statements` picks, from a journal period, the
decisions on content demands of EU members (jurisdiction chain includes
``EU``) that end in a restriction, and maps each to one statement: a dict
with the database's field names and enum keys (``POST /api/v1/statements``
takes up to 100 of them).  :data:`SCHEMA` is a JSON Schema (draft 2020-12)
transcribed from the database's validator (``StatementStoreRequest::rules()``
and ``Statement.php`` at commit ``69e80a0`` of
digital-services-act/transparency-database; docs/reports.md lists the
sources), and :func:`validate` checks a statement against it.

Which decisions: kind ``content_removal`` or ``channel_block``; outcome
``comply`` unless the first effect event says ``refused``, or any outcome whose
first effect is ``given`` or ``narrowed``.  A demand recorded as a formal
DSA Art. 9 order (``instrument = dsa_art9``, when the vocabulary has it) gets
none: Art. 17 statements do not cover Art. 9 orders, which are answered to
the authority.  Every statement has ``source_type =
SOURCE_TYPE_OTHER_NOTIFICATION``, the database's place for authority orders
outside Art. 9.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from .chain import format_time
from .journal import EffectEvent, Journal, JournalEntry

EEA = [
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
    "IS",
    "LI",
    "NO",
]
CATEGORIES = [
    "STATEMENT_CATEGORY_" + c
    for c in [
        "ANIMAL_WELFARE",
        "CONSUMER_INFORMATION",
        "CYBER_VIOLENCE",
        "CYBER_VIOLENCE_AGAINST_WOMEN",
        "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "ILLEGAL_OR_HARMFUL_SPEECH",
        "INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        "NOT_SPECIFIED_NOTICE",
        "OTHER_VIOLATION_TC",
        "PROTECTION_OF_MINORS",
        "RISK_FOR_PUBLIC_SECURITY",
        "SCAMS_AND_FRAUD",
        "SELF_HARM",
        "UNSAFE_AND_PROHIBITED_PRODUCTS",
        "VIOLENCE",
    ]
]
#: Our demand categories → the database's statement category.
CATEGORY_OF = {
    "terrorism": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "csam": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "fraud": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "drugs": "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "hate_speech": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "disinformation": "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "copyright": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "intimate_image_abuse": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    "personal_data_leak": "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
}
RESTRICTING_KINDS = ("content_removal", "channel_block")

_VISIBILITY = [
    "DECISION_VISIBILITY_" + v
    for v in [
        "CONTENT_REMOVED",
        "CONTENT_DISABLED",
        "CONTENT_DEMOTED",
        "CONTENT_AGE_RESTRICTED",
        "CONTENT_INTERACTION_RESTRICTED",
        "CONTENT_LABELLED",
        "OTHER",
    ]
]
_CONTENT_TYPES = ["CONTENT_TYPE_" + t for t in ["APP", "AUDIO", "IMAGE", "PRODUCT", "SYNTHETIC_MEDIA", "TEXT", "VIDEO", "OTHER"]]
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}


def _text(limit: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": limit}


def _other_required(field: str, other: str, key: str, array: bool) -> dict[str, Any]:
    """``other`` is required when ``field`` holds its ``…_OTHER`` key, and excluded otherwise."""
    holds = {"contains": {"const": key}} if array else {"const": key}
    return {
        "if": {"required": [field], "properties": {field: holds}},
        "then": {"required": [other]},
        "else": {"not": {"required": [other]}},
    }


#: The submission format, transcribed: field names, enum keys, limits, and the conditional rules.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://policyengine.invalid/schemas/dsa-statement-of-reasons.json",
    "title": "EU DSA Transparency Database statement of reasons (submission, schema of 1 July 2025)",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "decision_ground",
        "content_type",
        "category",
        "content_date",
        "application_date",
        "decision_facts",
        "source_type",
        "automated_detection",
        "automated_decision",
        "puid",
    ],
    "anyOf": [{"required": [f]} for f in ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")],
    "properties": {
        "decision_visibility": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": _VISIBILITY}},
        "decision_visibility_other": _text(500),
        "decision_monetary": {
            "enum": ["DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"]
        },
        "decision_monetary_other": _text(500),
        "decision_provision": {
            "enum": [
                "DECISION_PROVISION_PARTIAL_SUSPENSION",
                "DECISION_PROVISION_TOTAL_SUSPENSION",
                "DECISION_PROVISION_PARTIAL_TERMINATION",
                "DECISION_PROVISION_TOTAL_TERMINATION",
            ]
        },
        "decision_account": {"enum": ["DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"]},
        "account_type": {"enum": ["ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"]},
        "decision_ground": {"enum": ["DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"]},
        "decision_ground_reference_url": {"type": "string", "format": "uri", "maxLength": 500},
        "illegal_content_legal_ground": _text(500),
        "illegal_content_explanation": _text(2000),
        "incompatible_content_ground": _text(500),
        "incompatible_content_explanation": _text(2000),
        "incompatible_content_illegal": {"enum": ["Yes", "No"]},
        "content_type": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": _CONTENT_TYPES}},
        "content_type_other": _text(500),
        "category": {"enum": CATEGORIES},
        "category_addition": {"type": "array", "uniqueItems": True, "items": {"enum": CATEGORIES}},
        "category_specification": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^KEYWORD_[A-Z_]+$"},
        },
        "category_specification_other": _text(500),
        # The documentation says required, the validator says nullable: the validator is what accepts.
        "territorial_scope": {"type": ["array", "null"], "uniqueItems": True, "items": {"enum": EEA}},
        "content_language": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "content_date": {**_DATE, "formatMinimum": "2000-01-01", "formatMaximum": "2038-01-01"},
        "application_date": {**_DATE, "formatMinimum": "2020-01-01", "formatMaximum": "2038-01-01"},
        "end_date_account_restriction": _DATE,
        "end_date_monetary_restriction": _DATE,
        "end_date_service_restriction": _DATE,
        "end_date_visibility_restriction": _DATE,
        "decision_facts": _text(5000),
        "source_type": {
            "enum": ["SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION", "SOURCE_VOLUNTARY"]
        },
        "source_identity": _text(500),
        "automated_detection": {"enum": ["Yes", "No"]},
        "automated_decision": {
            "enum": ["AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"]
        },
        "content_id": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"EAN-13": {"type": "string", "pattern": r"^\d{13}$"}},
        },
        "puid": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "^[a-zA-Z0-9-_]+$"},
    },
    "allOf": [
        _other_required("decision_visibility", "decision_visibility_other", "DECISION_VISIBILITY_OTHER", True),
        _other_required("decision_monetary", "decision_monetary_other", "DECISION_MONETARY_OTHER", False),
        _other_required("content_type", "content_type_other", "CONTENT_TYPE_OTHER", True),
        {
            "if": {"properties": {"decision_ground": {"const": "DECISION_GROUND_ILLEGAL_CONTENT"}}},
            "then": {
                "required": ["illegal_content_legal_ground", "illegal_content_explanation"],
                "not": {
                    "anyOf": [
                        {"required": ["incompatible_content_ground"]},
                        {"required": ["incompatible_content_explanation"]},
                        {"required": ["incompatible_content_illegal"]},
                    ]
                },
            },
        },
        {
            "if": {"properties": {"decision_ground": {"const": "DECISION_GROUND_INCOMPATIBLE_CONTENT"}}},
            "then": {
                "required": ["incompatible_content_ground", "incompatible_content_explanation"],
                "not": {"anyOf": [{"required": ["illegal_content_legal_ground"]}, {"required": ["illegal_content_explanation"]}]},
            },
        },
        {
            "if": {"properties": {"source_type": {"const": "SOURCE_VOLUNTARY"}}},
            "then": {"not": {"required": ["source_identity"]}},
        },
    ],
}


def validate(statement: dict[str, Any]) -> list[str]:
    """The problems of one statement against :data:`SCHEMA` (empty: valid), and the date order
    the validator checks besides (``application_date`` not before ``content_date``)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(statement)'}: {e.message}" for e in validator.iter_errors(statement)]
    for name, lo, hi in (("content_date", "2000-01-01", "2038-01-01"), ("application_date", "2020-01-01", "2038-01-01")):
        value = statement.get(name)
        if isinstance(value, str) and not lo <= value <= hi:
            problems.append(f"{name}: {value} is outside {lo} … {hi}")
    return problems


def _restricts(entry: JournalEntry, effect: EffectEvent | None) -> bool:
    if effect is not None:
        return effect.effect in ("given", "narrowed")
    return entry.outcome == "comply"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def statement_for(entry: JournalEntry, effect: EffectEvent | None) -> dict[str, Any]:
    """The statement of reasons for one restricting decision."""
    request = entry.request
    kind = str(request.get("kind"))
    basis = str(request.get("legal_basis") or "informal")
    authority = str(request.get("authority") or f"authorities of {entry.jurisdiction}")
    applied = effect.at if effect is not None else entry.timestamp
    rules = ", ".join(entry.rules) or "the default (no rule matched)"
    facts = (
        f"{authority} demanded {kind.replace('_', ' ')} ({request.get('category', 'unspecified category')}) "
        f"on the basis of {basis.replace('_', ' ')}. The platform decided {entry.outcome} by {rules} "
        f"under policy version {entry.policy_version} (decision {entry.decision_id})"
        + (
            f"; effect {effect.effect} on {format_time(effect.at)[:10]} by {effect.by}"
            + (f": {effect.note}" if effect.note else "")
            if effect
            else ""
        )
        + "."
    )
    out: dict[str, Any] = {}
    if kind == "channel_block":
        out["decision_account"] = "DECISION_ACCOUNT_SUSPENDED"
    else:
        narrowed = effect is not None and effect.effect == "narrowed"
        out["decision_visibility"] = [
            "DECISION_VISIBILITY_CONTENT_DISABLED" if narrowed else "DECISION_VISIBILITY_CONTENT_REMOVED"
        ]
    if basis == "informal":
        out.update(
            decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT",
            incompatible_content_ground=_clip(f"the platform's terms and principles: {rules}", 500),
            incompatible_content_explanation=_clip(facts, 2000),
            incompatible_content_illegal="No",
        )
    else:
        out.update(
            decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
            illegal_content_legal_ground=_clip(f"{basis.replace('_', ' ')} of {entry.jurisdiction}", 500),
            illegal_content_explanation=_clip(facts, 2000),
        )
    out.update(
        content_type=["CONTENT_TYPE_OTHER"],
        content_type_other="the content named in the authority's demand",
        category=CATEGORY_OF.get(str(request.get("category")), "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"),
        territorial_scope=[entry.jurisdiction] if entry.jurisdiction in EEA else list(EEA),
        content_date=format_time(entry.timestamp)[:10],
        application_date=format_time(applied)[:10],
        decision_facts=_clip(facts, 5000),
        source_type="SOURCE_TYPE_OTHER_NOTIFICATION",
        source_identity=_clip(authority, 500),
        automated_detection="No",
        automated_decision="AUTOMATED_DECISION_PARTIALLY",
        puid=entry.decision_id,
    )
    return out


def statements(journal: Journal, start: datetime | None = None, end: datetime | None = None) -> Iterator[dict[str, Any]]:
    first: dict[str, EffectEvent] = {}
    for e in journal.all_effects():
        first.setdefault(e.decision_id, e)
    for entry in journal.entries(start=start, end=end):
        if "EU" not in entry.jurisdiction_chain or entry.request.get("kind") not in RESTRICTING_KINDS:
            continue
        if entry.request.get("instrument") == "dsa_art9":
            continue
        effect = first.get(entry.decision_id)
        if _restricts(entry, effect):
            yield statement_for(entry, effect)
