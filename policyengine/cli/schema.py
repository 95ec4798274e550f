"""`policyengine schema`: the JSON Schema of the request and decision contract."""

from __future__ import annotations

import argparse
import json

from .common import ExitCode

NAME = "schema"
HELP = "print the JSON Schema of requests and decisions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "which",
        nargs="?",
        metavar="SCHEMA",
        choices=("all", "request", "decision", "market"),
        default="all",
        help="all (the default), request, decision or market",
    )


def run(args: argparse.Namespace) -> int:
    from pydantic import BaseModel

    from ..evaluation.decision import Decision, MarketDecision, Request

    models: dict[str, type[BaseModel]] = {"request": Request, "decision": Decision, "market": MarketDecision}
    if args.which == "all":
        out = {name: model.model_json_schema() for name, model in models.items()}
    else:
        out = models[args.which].model_json_schema()
    print(json.dumps(out, indent=2, sort_keys=True))
    return ExitCode.OK
