"""`policyengine explain`: the same inputs as `decide`, rendered as explanation trees."""

from __future__ import annotations

import argparse

from . import decide

NAME = "explain"
HELP = "explain decisions as trees: deciding rule, its source lines, the facts, what it outranked"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    decide.add_arguments(parser, explain=True)


def run(args: argparse.Namespace) -> int:
    return decide.run(args, explain=True)
