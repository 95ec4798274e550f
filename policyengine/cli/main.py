"""The command line: ``policyengine <command> ...``.

``main(argv) -> int`` never lets a Python traceback reach the user: usage
problems exit 2 with one line on stderr; an unexpected internal error exits
70 with a one-line report (and the traceback only with
``POLICYENGINE_DEBUG=1``).

Exit codes: 0 success; 1 policy errors, failing tests or --strict findings;
2 usage error or bad request; 3 an outcome named by ``--fail-on`` occurred;
70 internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import os
import sys
from types import ModuleType

from .common import EXIT_USAGE, CommandError

#: Subcommand modules, in the order `--help` lists them.
COMMANDS = (
    "check",
    "decide",
    "explain",
    "schema",
    "fmt",
    "test",
    "matrix",
    "lint",
    "diff",
    "lsp",
)

EXIT_INTERNAL = 70


def _module(name: str) -> ModuleType:
    return importlib.import_module(f".{name}", __package__)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="policyengine",
        description="Decide government demands against the platform's principles: comply, negotiate or withdraw.",
    )
    parser.add_argument("--version", action="version", version=f"policyengine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        mod = _module(name)
        p = sub.add_parser(mod.NAME.replace("_", "-"), help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _parser=p)
    return parser


def _unrecognized(parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """The message for arguments the command does not take, with a guess for a misspelt option."""
    message = f"unrecognized arguments: {' '.join(extra)}"
    options = [o for action in parser._actions for o in action.option_strings if o.startswith("--")]
    for arg in extra:
        if arg.startswith("--"):
            close = difflib.get_close_matches(arg.split("=", 1)[0], options, n=1)
            if close:
                return f"{message} (did you mean `{close[0]}`?)"
    return message


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        # argparse hands a subcommand's unknown arguments up to the top-level
        # parser, whose error shows the top-level usage and no command name;
        # the subcommand's own parser reports them instead.
        args, extra = parser.parse_known_args(argv)
        if extra:
            command_parser = getattr(args, "_parser", parser)
            command_parser.error(_unrecognized(command_parser, extra))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args._run(args))
    except CommandError as err:
        print(f"policyengine {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except Exception as exc:
        if os.environ.get("POLICYENGINE_DEBUG"):
            raise
        print(
            f"policyengine {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(this is a bug; rerun with POLICYENGINE_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
