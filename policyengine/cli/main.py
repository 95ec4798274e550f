"""The command line: ``policyengine <command> ...``.

``main(argv) -> int`` never lets a Python traceback reach the user.  Every
error raised on purpose (a :class:`~policyengine.errors.PolicyEngineError`:
a bad command line, a bad request, a matrix that cannot be built, an
unreadable git revision) is printed here, one way, by
:func:`~policyengine.cli.common.print_error`; an unexpected internal error
exits 70 with a one-line report (and the traceback only with
``POLICYENGINE_DEBUG=1``).  Exit codes are :class:`~policyengine.cli.common.ExitCode`.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, NoReturn

from ..errors import PolicyEngineError
from ..language.text import safe
from .common import CommandError, ExitCode, print_error

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
    "journal",
    "replay",
    "report",
    "serve",
)


class _Rejected(Exception):
    """argparse refused the command line; ``prog`` is the parser that did (``policyengine decide``)."""

    def __init__(self, prog: str, error: CommandError):
        super().__init__(str(error))
        self.prog = prog
        self.error = error


def _did_you_mean(word: str, candidates: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors raised (main prints them in the one error shape) and a
    did-you-mean for a misspelt option, command or choice."""

    _argv: list[str]

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        # The arguments are kept so that error() can name a misspelt option:
        # argparse reports a missing required option first, though the
        # misspelling is the cause.
        given = args[0] if args else kwargs.get("args")
        self._argv = list(sys.argv[1:] if given is None else given)
        return super().parse_known_args(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        unknown = self.unknown_option(getattr(self, "_argv", []))
        if unknown is not None:
            raise _Rejected(self.prog, unknown)
        raise _Rejected(self.prog, CommandError(message, f"run `{self.prog} --help` for the arguments it takes"))

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or value in action.choices:
            return
        choices = [str(c) for c in action.choices]
        guess = _did_you_mean(str(value), choices)
        if isinstance(action, argparse._SubParsersAction):
            hint = guess or f"the commands are {', '.join(choices)}"
            raise _Rejected(self.prog, CommandError(f"`{value}` is not a command", hint))
        what = "/".join(action.option_strings) or str(action.metavar or action.dest).lower()
        listing = ", ".join(f"`{c}`" for c in choices)
        raise _Rejected(self.prog, CommandError(f"{what}: `{value}` is not one of {listing}", guess))

    def unknown_option(self, argv: Sequence[str]) -> CommandError | None:
        """The first option in ``argv`` this parser does not take, as an error with a guess."""
        long_options = [o for o in self._option_string_actions if o.startswith("--")]
        for arg in argv:
            if arg == "--":
                return None
            if not arg.startswith("-") or arg == "-" or arg[1:2].isdigit():
                continue
            name = arg.split("=", 1)[0]
            if arg.startswith("--"):
                # argparse takes any unambiguous prefix of a long option.
                if name in self._option_string_actions or any(o.startswith(name) for o in long_options):
                    continue
                hint = _did_you_mean(name, long_options)
            elif arg[:2] in self._option_string_actions:
                continue  # -jRU, -v: a short option, with its value or others attached
            else:
                hint = None
            return CommandError(f"unrecognized option `{name}`", hint or f"run `{self.prog} --help` for the options it takes")
        return None


def _module(name: str) -> ModuleType:
    return importlib.import_module(f".{name}", __package__)


class _Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The subcommands, each one's arguments added only when argparse picks it.

    A command line runs one command; adding the other thirteen commands'
    arguments cost their imports (``add_budget_arguments`` alone imports the
    analysis package and the engine under it) before anything was decided.
    The top-level ``--help`` and a misspelt command need only the names and
    the one-line helps, which every command has from the start; the picked
    command's parser is complete before it reads its arguments, so its help,
    errors and did-you-mean are those of the fully built parser.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, Callable[[], None]] = {}

    def add_command(
        self, name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self.add_parser(name, help=help, description=help)
        self._pending[name] = lambda: add_arguments(parser)
        return parser

    def complete(self, name: str) -> None:
        """Add the arguments of command ``name`` if not yet done."""
        add = self._pending.pop(name, None)
        if add is not None:
            add()

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: Any = None
    ) -> None:
        self.complete(values[0])
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(
        prog="policyengine",
        description="Decide government demands against the platform's principles: comply, negotiate or withdraw.",
    )
    parser.add_argument("--version", action="version", version=f"policyengine {__version__}")
    parser.register("action", "parsers", _Commands)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    assert isinstance(sub, _Commands)
    for name in COMMANDS:
        mod = _module(name)
        p = sub.add_command(mod.NAME.replace("_", "-"), mod.HELP, mod.add_arguments)
        p.set_defaults(_run=mod.run, _parser=p)
    return parser


def _exit_code(err: PolicyEngineError) -> ExitCode:
    from ..language.diagnostics import PolicyError
    from ..language.format import FormatterBug

    if isinstance(err, PolicyError):
        return ExitCode.POLICY_ERRORS
    if isinstance(err, FormatterBug):
        return ExitCode.INTERNAL
    return ExitCode.USAGE


def main(argv: list[str] | None = None) -> int:
    """Run one command; ``argv`` None: the console script's own process (``sys.argv``)."""
    own_process = argv is None
    try:
        return _main(argv, own_process)
    finally:
        if own_process:
            # What is left is freed by the exit; frozen, it is not scanned once more first.
            gc.freeze()


def _main(argv: list[str] | None, own_process: bool) -> int:
    # The cyclic collector, the command line's to set (it owns its process; the library
    # never touches it): building the parser imports the engine's modules, whose classes
    # and functions live as long as the process; collecting every 700 of them frees
    # nothing.  It is paused meanwhile, and in a process of its own what was made is
    # frozen (never scanned again: neither by the command's collections nor at exit,
    # together a fifth of the CPU of `decide --jurisdiction`).  A caller that passes
    # ``argv`` (tests, a program running commands in its own process) keeps its heap
    # as it was.
    collecting = gc.isenabled()
    gc.disable()
    try:
        parser = build_parser()
    finally:
        if own_process:
            gc.freeze()
        if collecting:
            gc.enable()
    try:
        # argparse hands a subcommand's unknown arguments up to the top-level
        # parser, whose error shows no command name; the subcommand's own
        # parser reports them instead.
        args, extra = parser.parse_known_args(argv)
        if extra:
            command_parser = getattr(args, "_parser", parser)
            assert isinstance(command_parser, _Parser)  # add_subparsers makes its parsers of the parent's class
            rejected = command_parser.unknown_option(extra) or CommandError(
                f"unrecognized arguments: {' '.join(extra)}", f"run `{command_parser.prog} --help` for the arguments it takes"
            )
            raise _Rejected(command_parser.prog, rejected)
    except _Rejected as exc:
        print_error(exc.prog.removeprefix("policyengine").strip() or None, exc.error)
        return ExitCode.USAGE
    except SystemExit as exc:  # argparse: --help or --version
        return int(exc.code) if isinstance(exc.code, int) else ExitCode.USAGE
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        return int(args._run(args))
    except PolicyEngineError as err:
        from ..language.diagnostics import PolicyError

        if isinstance(err, PolicyError):
            from .common import print_diagnostics, stderr_format

            print_diagnostics(err.diagnostics, stderr_format())
        print_error(args.command, err, json_out=getattr(args, "format", None) == "json")
        return _exit_code(err)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return ExitCode.OK
    except Exception as exc:
        if os.environ.get("POLICYENGINE_DEBUG"):
            raise
        print(
            f"policyengine {args.command}: internal error: {type(exc).__name__}: {safe(str(exc))} "
            "(this is a bug; rerun with POLICYENGINE_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL
