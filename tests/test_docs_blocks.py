"""The fenced blocks of README.md and docs/*.md are true when tried.

* Every ```` ```policy ```` block is in `fmt` layout (``policyengine fmt --check``).  A block that is
  a piece of a file (a condition, a demand), not a file, is marked ```` ```policy fragment ```` and
  skipped.
* Every ```` ```sh ```` block whose previous non-blank line is ``<!-- runnable -->`` is run, one
  command at a time (``\\`` continues a line, ``#`` starts a comment), with ``bash -c`` in a fresh
  temporary directory that holds a copy of the repository's ``policies/`` (a fresh clone, as far as
  the commands can tell), with the installed ``policyengine`` first on ``PATH``.  Each command must
  exit 0, or N with ``<!-- runnable exit=N -->``.

Each block is its own test, named ``FILE:LINE`` after its opening fence, so a failure says where
the block is; the conventions are documented in docs/tools.md ("Examples in the documentation").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from policyengine.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
RUNNABLE = re.compile(r"^<!--\s*runnable(?:\s+exit=(?P<exit>\d+))?\s*-->$")
#: How long one documented command may take before it counts as hanging.
COMMAND_TIMEOUT = 120


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    flags: tuple[str, ...]
    text: str
    runnable: int | None  # the exit code a runnable block's commands must give; None: not runnable

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file (CommonMark fences: ``` or ~~~, up to three spaces in)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence, words = m.group("fence"), m.group("info").split()
        end = i + 1
        while end < len(lines) and not re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", lines[end]):
            end += 1
        previous = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        marker = RUNNABLE.match(previous)
        runnable = None if marker is None else int(marker.group("exit") or 0)
        text = "\n".join(line[len(m.group("indent")) :] for line in lines[i + 1 : end]) + "\n"
        out.append(Block(path, i + 1, words[0] if words else "", tuple(words[1:]), text, runnable))
        i = end + 1
    return out


ALL = [b for path in DOCS for b in blocks(path)]
POLICY = [b for b in ALL if b.language == "policy" and "fragment" not in b.flags]
RUN = [b for b in ALL if b.runnable is not None]


def test_the_documentation_has_blocks_of_both_kinds() -> None:
    # Guards the collection itself: a change to the fence syntax must not make every test vanish.
    assert len(POLICY) >= 8, [b.where for b in POLICY]
    assert len(RUN) >= 2, [b.where for b in RUN]
    assert all(b.language == "sh" for b in RUN), [b.where for b in RUN if b.language != "sh"]


@pytest.mark.parametrize("block", POLICY, ids=lambda b: b.where)
def test_policy_block_is_in_fmt_layout(block: Block, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "example.policy"
    file.write_text(block.text, encoding="utf-8")
    code = main(["fmt", "--diff", str(file)])
    out, err = capsys.readouterr()
    assert code == 0, (
        f"{block.where}: this ```policy block is not in `fmt` layout (or does not parse); "
        f"run it through `policyengine fmt -`, or mark a piece of a file ```policy fragment\n{out}{err}"
    )


def commands(text: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments and prompts dropped."""
    out: list[str] = []
    pending = ""
    for raw in text.split("\n"):
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        out.append(command.removeprefix("$ "))
    if pending.strip():
        out.append(pending.strip())
    return out


def _environment() -> dict[str, str]:
    """This interpreter's scripts first on PATH (where pip put `policyengine`), no COLUMNS."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "POLICYENGINE_DEBUG")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@pytest.mark.skipif(shutil.which("bash") is None, reason="the documented commands are shell commands")
@pytest.mark.parametrize("block", RUN, ids=lambda b: b.where)
def test_runnable_shell_block(block: Block, tmp_path: Path) -> None:
    if shutil.which("policyengine", path=_environment()["PATH"]) is None:
        pytest.fail("the `policyengine` command is not installed next to this Python (pip install -e .)")
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    cmds = commands(block.text)
    assert cmds, f"{block.where}: a runnable block with no command"
    for command in cmds:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == block.runnable, (
            f"{block.where}: `{command}` exited {done.returncode}, the block says {block.runnable}\n"
            f"--- stdout\n{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}"
        )
        assert "Traceback" not in done.stderr, f"{block.where}: `{command}` printed a traceback\n{done.stderr}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("policyengine check\n", ["policyengine check"]),
        ("# a comment\n$ policyengine decide -j RU   # Russia\n", ["policyengine decide -j RU   # Russia"]),
        ("echo '{}' \\\n  | policyengine decide --request -\n\n", ["echo '{}'    | policyengine decide --request -"]),
    ],
)
def test_commands_are_read_as_a_shell_would(text: str, expected: list[str]) -> None:
    assert commands(text) == expected


def test_markers_and_fragments_are_read(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "text\n\n<!-- runnable exit=1 -->\n\n```sh\npolicyengine check nope\n```\n\n```policy fragment\nx\n```\n",
        encoding="utf-8",
    )
    found = blocks(doc)
    assert [(b.line, b.language, b.flags, b.runnable) for b in found] == [(5, "sh", (), 1), (9, "policy", ("fragment",), None)]
