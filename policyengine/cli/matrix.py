"""`policyengine matrix`: jurisdictions × demand kinds, one outcome per cell.

Exit codes: 0 written; 1 the policy set has errors; 2 usage (an unknown kind,
category, legal basis or jurisdiction, an unwritable --output).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import (
    CommandError,
    ExitCode,
    add_as_of_argument,
    add_policies_argument,
    alpha3_hint,
    as_of,
    console,
    load_engine,
    policy_paths,
)

if TYPE_CHECKING:
    from ..evaluation.decision import AttributeValue
    from ..evaluation.engine import Engine

NAME = "matrix"
HELP = "jurisdictions × demand kinds: the outcome of a representative demand of each kind, everywhere"

EPILOG = """\
Each column decides one representative demand of its kind.  Defaults:
  key_disclosure, encryption_backdoor, traceability, data_localization,
  local_representative, transparency_report: category all_users, legal basis statute;
  hotline: terrorism, statute;  content_removal: terrorism, court_order;
  channel_block: peaceful_protest, court_order;  user_data: criminal_suspect, court_order;
  mandatory false everywhere.  Kinds added by a policy set: all_users, statute.
Why: the category is the one the kind usually concerns (channel_block uses
peaceful_protest because that is where jurisdictions differ); the legal basis is
the strongest the kind usually rests on (a court order for one case, a statute for
an obligation on every platform), so a withdraw cell means even the lawful form
is refused.  The output always states what each column assumed.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "--format",
        choices=("human", "markdown", "csv", "json", "html"),
        default="human",
        help="output format (default: human, a coloured table)",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument("--kinds", metavar="K1,K2", help="only these demand kinds, in this order (default: all)")
    parser.add_argument(
        "--jurisdictions", metavar="FR,DE", help="only these jurisdictions, in this order (default: all, by code)"
    )
    parser.add_argument("--groups", action="store_true", help="include groups (such as EU) as rows")
    parser.add_argument(
        "--category",
        metavar="[KIND=]CAT",
        action="append",
        default=[],
        help="the demand category of every column, or with KIND= of one column (repeatable)",
    )
    parser.add_argument(
        "--legal-basis",
        metavar="[KIND=]LB",
        action="append",
        default=[],
        help="the legal basis of every column, or with KIND= of one column (repeatable)",
    )
    add_as_of_argument(parser, "decide every cell")
    parser.add_argument("--mandatory", action="store_true", help="make every demand mandatory (refusing it is punishable)")
    parser.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="set another demand attribute in every column, e.g. one a policy set declares required (repeatable)",
    )
    add_policies_argument(parser)


def _split(values: list[str], flag: str) -> dict[str | None, str]:
    """``CAT`` → {None: CAT}; ``KIND=CAT`` → {KIND: CAT}; a later value wins."""
    out: dict[str | None, str] = {}
    for v in values:
        kind, sep, value = v.partition("=")
        if not sep:
            kind, value = "", v
        if not value.strip() or (sep and not kind.strip()):
            raise CommandError(f"{flag} takes CAT or KIND=CAT, not `{v}`")
        out[kind.strip() or None] = value.strip()
    return out


def _list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [p.strip() for p in text.split(",") if p.strip()]
    return items


def _extra(engine: Engine, values: list[str]) -> dict[str, AttributeValue]:
    from ..analysis.matrix import parse_value

    out: dict[str, AttributeValue] = {}
    for v in values:
        name, sep, value = v.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"--set takes NAME=VALUE, not `{v}`")
        out[name.strip()] = parse_value(engine, name.strip(), value.strip())
    return out


def _write(text: str, path: str | None) -> None:
    if path is None or path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise CommandError(f"cannot write `{path}`: {(exc.strerror or str(exc)).lower()}") from None


def run(args: argparse.Namespace) -> int:
    from ..analysis.matrix import RENDERERS, MatrixError, build_matrix, columns, render_human, rows_for

    category = _split(args.category, "--category")
    legal_basis = _split(args.legal_basis, "--legal-basis")
    when = as_of(args)
    engine = load_engine(policy_paths(args))
    if engine is None:
        return ExitCode.POLICY_ERRORS
    # A MatrixError (an unknown kind, category or jurisdiction) reaches main(), which prints it.
    cols = columns(
        engine,
        _list(args.kinds),
        category=category,
        legal_basis=legal_basis,
        mandatory=args.mandatory,
        extra=_extra(engine, args.set),
    )
    wanted = _list(args.jurisdictions)
    loaded = set(engine.jurisdictions())
    for code in wanted or ():
        hint = alpha3_hint(code, loaded)
        if hint is not None:
            raise MatrixError(f"--jurisdictions: `{code}` is not a loaded jurisdiction", hint)
    codes = rows_for(engine, wanted, include_groups=args.groups)
    if not codes:
        raise MatrixError("no jurisdictions to show", "the policy set declares none, or pass --groups to show groups")
    matrix = build_matrix(engine, cols, codes, as_of=when)
    if args.format != "human":
        _write(RENDERERS[args.format](matrix), args.output)
        return ExitCode.OK
    import io

    from rich.console import Console

    to_file = bool(args.output) and args.output != "-"
    buf = io.StringIO()
    # A file gets a wide, colourless grid: it is read later, not in this terminal.
    con = Console(file=buf, width=200, highlight=False, color_system=None) if to_file else console()
    for item in render_human(matrix, width=con.width):
        # Lines of text wrap between words, tables fit the width: nothing is cut mid-word.
        con.print(item)
    if to_file:
        _write(buf.getvalue(), args.output)
    return ExitCode.OK
