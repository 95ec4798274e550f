"""Start-up of the command line (issue 14): what the lazy parser and the collector settings must not change.

The parser adds a command's arguments only when argparse picks the command, and
the collector is paused (and, in a process of its own, the heap frozen) while
it is built; none of that may show in what a user sees, or leak into a caller
that runs commands in its own process.
"""

from __future__ import annotations

import gc
import importlib
import subprocess
import sys

import pytest

from policyengine.cli import main as cli_main_function
from policyengine.cli.main import COMMANDS, _Parser, build_parser


def _eager_help(name: str) -> str:
    """A command's help from a parser built the eager way: every argument added up front."""
    mod = importlib.import_module(f"policyengine.cli.{name}")
    parser = _Parser(prog="policyengine")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser(mod.NAME.replace("_", "-"), help=mod.HELP, description=mod.HELP)
    mod.add_arguments(p)
    return p.format_help()


@pytest.mark.parametrize("name", COMMANDS)
def test_a_picked_command_has_the_help_of_the_eager_parser(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main_function([name, "--help"]) == 0
    assert capsys.readouterr().out == _eager_help(name)


def test_top_level_help_lists_every_command_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main_function(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        mod = importlib.import_module(f"policyengine.cli.{name}")
        assert f"    {mod.NAME.replace('_', '-')}" in out
        assert mod.HELP.split(":")[0] in " ".join(out.split())


def test_a_misspelt_option_of_a_picked_command_gets_its_guess(capsys: pytest.CaptureFixture[str]) -> None:
    """The guess comes from the command's own options, which exist only once it is picked."""
    assert cli_main_function(["decide", "--max-clases", "5", "-j", "RU"]) == 2
    err = capsys.readouterr().err
    assert "policyengine decide: error: unrecognized option `--max-clases`" in err
    assert "did you mean `--max-classes`?" in err


def test_each_build_is_its_own_parser() -> None:
    """Completing the picked command in one parser leaves another built later untouched."""
    first = build_parser()
    first.parse_args(["lint", "--max-classes", "3"])
    second = build_parser()
    assert second.parse_args(["lint"]).max_classes is None


def test_a_caller_running_commands_keeps_its_collector(capsys: pytest.CaptureFixture[str]) -> None:
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    try:
        gc.enable()
        assert cli_main_function(["fmt", "--help"]) == 0
        assert gc.isenabled() and gc.get_freeze_count() == frozen
        gc.disable()
        assert cli_main_function(["--version"]) == 0
        assert not gc.isenabled() and gc.get_freeze_count() == frozen
    finally:
        (gc.enable if enabled else gc.disable)()
    capsys.readouterr()


def test_the_console_script_freezes_what_it_made() -> None:
    """``main()`` with no argv owns its process: the heap is frozen, the collector left on."""
    code = (
        "import gc, sys\n"
        "sys.argv = ['policyengine', 'fmt', '--help']\n"
        "from policyengine.cli import main\n"
        "assert main() == 0\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip().splitlines()[-1] == "True True"
