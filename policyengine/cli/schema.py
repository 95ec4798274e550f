"""`policyengine schema`: the JSON Schema of the request and decision contract.

The shapes come from the pydantic models (``evaluation/decision.py``); what a
demand may hold comes from the loaded policy set's vocabulary.  The pydantic
model types a demand as "an object of values", which any validator accepts
with ``"kind": "key_disclosur"`` in it; the engine would refuse that request,
so the schema must too.  :func:`demand_schema` therefore writes one property
per demand attribute, with the enumeration's values, the number's range, the
type of a date, a flag or a list of texts, and which ones are required, and
replaces the free-form ``demand`` of the request (and the ``request`` echo of
the decision) with it.  A schema printed for one policy set describes that
set's vocabulary: a set that extends an enum gets a schema that allows it.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from .common import ExitCode, add_policies_argument, load_engine, policy_paths

if TYPE_CHECKING:
    from ..evaluation.engine import Engine
    from ..language.model import AttributeType

NAME = "schema"
HELP = "print the JSON Schema of requests and decisions, with the policy set's allowed values"

#: ``YYYY-MM-DD``: JSON Schema's ``format: date`` is only an annotation unless a
#: validator is asked to check formats, so the pattern is what rejects `17.05.2024`.
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "which",
        nargs="?",
        metavar="SCHEMA",
        choices=("all", "request", "decision", "market"),
        default="all",
        help="all (the default), request, decision or market",
    )
    add_policies_argument(parser, help="the policy set whose vocabulary the schema allows (default: the shipped library)")


def attribute_schema(attr: AttributeType) -> dict[str, Any]:
    """The JSON Schema of one demand attribute's value, as the request checks accept it."""
    from ..evaluation.requests import MAX_TEXT
    from ..language.model import Kind

    out: dict[str, Any]
    if attr.kind is Kind.ENUM:
        out = {"enum": list(attr.values)}
    elif attr.kind is Kind.BOOL:
        out = {"type": "boolean"}
    elif attr.kind is Kind.NUMBER:
        out = {"type": "number"}
        if attr.lo is not None:
            out["minimum"] = attr.lo
        if attr.hi is not None:
            out["maximum"] = attr.hi
    elif attr.kind.name == "DATE":
        out = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    elif attr.kind.name == "TEXTS":
        out = {"type": "array", "items": {"type": "string", "maxLength": MAX_TEXT}}
    else:  # text (and any kind added later: a text is what the checks fall back to)
        out = {"type": "string", "maxLength": MAX_TEXT}
    if attr.unknown_allowed or attr.builtin:
        # null means unknown; an enum lists it among its values, other kinds widen the type.
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        else:
            out["type"] = [out["type"], "null"]
    if attr.description:
        out["description"] = attr.description
    if attr.has_default and attr.default is not None and not isinstance(attr.default, tuple):
        out["default"] = attr.default.isoformat() if hasattr(attr.default, "isoformat") else attr.default
    return out


def demand_schema(engine: Engine) -> dict[str, Any]:
    """The demand object of a request, and of the demand a decision echoes (the same
    values: the echo has defaults applied, and null where a value is unknown)."""
    from ..evaluation.requests import DemandChecks

    checks = DemandChecks(engine.compiled)
    every = {**{n: c.attr for n, c in checks.attributes.items()}, **{n: c.attr for n, c in checks.builtins.items()}}
    properties = {name: attribute_schema(every[name]) for name in sorted(every)}
    required = sorted(name for name, attr in every.items() if attr.required)
    out: dict[str, Any] = {
        "type": "object",
        "description": "the demand's attributes, as the loaded vocabulary declares them",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = required
    return out


def request_schema(engine: Engine) -> dict[str, Any]:
    from ..evaluation.decision import Request
    from ..evaluation.requests import MAX_CODE

    schema = Request.model_json_schema()
    props = schema["properties"]
    props["jurisdiction"]["maxLength"] = MAX_CODE
    props["jurisdiction"]["examples"] = sorted(engine.jurisdictions())[:5]
    props["demand"] = demand_schema(engine)
    if "as_of" in props:
        # Absent means the caller's date, else today; the engine refuses null (request.bad-type).
        props["as_of"] = {**_plain(props["as_of"]), "type": "string", "format": "date", "pattern": DATE_PATTERN}
        props["as_of"].pop("default", None)
    return schema


def _plain(prop: dict[str, Any]) -> dict[str, Any]:
    """A pydantic property without its ``anyOf`` / ``format`` typing, keeping its description."""
    return {k: v for k, v in prop.items() if k in ("description", "title", "default")}


def decision_schema(engine: Engine) -> dict[str, Any]:
    from ..evaluation.decision import Decision

    schema = Decision.model_json_schema()
    schema["properties"]["request"] = {
        **demand_schema(engine),
        "description": "the demand attributes decided, defaults applied: for a standing demand, its legal record",
    }
    return schema


def market_schema(engine: Engine) -> dict[str, Any]:
    from ..evaluation.decision import MarketDecision

    schema = MarketDecision.model_json_schema()
    decision = schema.get("$defs", {}).get("Decision")
    if decision is not None:
        decision["properties"]["request"] = decision_schema(engine)["properties"]["request"]
    return schema


def run(args: argparse.Namespace) -> int:
    engine = load_engine(policy_paths(args))
    if engine is None:
        return ExitCode.POLICY_ERRORS
    builders = {"request": request_schema, "decision": decision_schema, "market": market_schema}
    if args.which == "all":
        out = {name: build(engine) for name, build in builders.items()}
    else:
        out = builders[args.which](engine)
    print(json.dumps(out, indent=2, sort_keys=True))
    return ExitCode.OK
