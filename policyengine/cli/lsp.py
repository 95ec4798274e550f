"""`policyengine lsp`: the language server for editors, over standard input and output.

Editors start it and talk LSP to it (docs/tools.md shows VS Code, Neovim and
Helix); it is not meant to be run by hand.  It needs the ``lsp`` extra
(``pip install 'policyengine[lsp]'``).

Exit codes: 0 when the editor ends the session; 2 for a usage error, or when
the ``lsp`` extra is not installed.
"""

from __future__ import annotations

import argparse

from .common import CommandError, ExitCode

NAME = "lsp"
HELP = "run the language server for editors (LSP over stdio; needs the `lsp` extra)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policies",
        metavar="DIR",
        action="append",
        help="a directory that holds a policy set (repeatable; relative to the workspace folder); "
        "default: each workspace folder is one set",
    )
    parser.add_argument(
        "--debounce",
        metavar="MS",
        type=int,
        default=150,
        help="milliseconds to wait after an edit before checking the set again (default: 150)",
    )
    parser.add_argument("--no-lint", action="store_true", help="do not report `policyengine lint` warnings")
    # Editors' LSP clients add the transport they start the server with; stdio is the only one.
    parser.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-level",
        choices=("error", "warning", "info", "debug"),
        default="warning",
        help="what the server logs on standard error (default: warning)",
    )


def run(args: argparse.Namespace) -> int:
    if args.debounce < 0:
        raise CommandError("--debounce must be 0 or more milliseconds")
    try:
        from ..lsp.server import serve
    except ImportError as exc:
        missing = (exc.name or "pygls").split(".")[0]
        raise CommandError(
            f"the language server needs the `lsp` extra ({missing} is not installed): pip install 'policyengine[lsp]'"
        ) from None
    import logging  # here: every command line imports this module for its help

    logging.basicConfig(level=args.log_level.upper(), format="policyengine lsp: %(levelname)s: %(name)s: %(message)s")
    serve(args.policies or (), debounce_ms=args.debounce, lint=not args.no_lint)
    return ExitCode.OK
