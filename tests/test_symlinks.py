"""Symbolic links: one rule for files and directories (issue 12, point 4), and one file under two paths (11).

The rule (language/loader.py, ``walk``): a link under a policy directory is
followed when its target stays inside that directory and, for a file, is a
``.policy`` file; any other link is refused with PE007, whose span is the link
and whose text never holds the target's content.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import policyengine
from policyengine.cli.main import main
from policyengine.language.loader import policy_files, read_sources

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")

PRINCIPLES = """
principle encryption "Keys stay with users" {
    rule no_keys: withdraw when demand.kind == key_disclosure because "keys stay with users"
}
"""
JURISDICTIONS = 'jurisdiction RU "Russia" { rule_of_law = 0.27 }\n'
REQUEST = {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}
SECRET = "token=ghp_SECRETSECRETSECRET"


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    (root / "shared").mkdir(parents=True)
    (root / "shared" / "principles.policy").write_text(PRINCIPLES, encoding="utf-8")
    (root / "jurisdictions.policy").write_text(JURISDICTIONS, encoding="utf-8")
    return root


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    outputs = []
    code = 0
    for fmt in ("plain", "json", "human"):
        code = main(["check", *args, "--format", fmt])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        outputs.append(out + err)
    return code, "\n".join(outputs)


def test_a_linked_directory_inside_the_root_is_followed(tmp_path: Path) -> None:
    """The reproduction: a linked sub-directory was skipped, the set had no principles, RU got negotiate."""
    root = _tree(tmp_path)
    real = tmp_path / "p" / ".versions" / "v1"
    real.mkdir(parents=True)
    shutil.move(root / "shared" / "principles.policy", real / "principles.policy")
    (root / "shared").rmdir()
    (root / "shared").symlink_to(Path(".versions") / "v1", target_is_directory=True)
    engine = policyengine.load(root, cache=False)
    assert list(engine.policy_set.principles) == ["encryption"]
    assert engine.decide(REQUEST).outcome.value == "withdraw"
    assert [s.path for s in engine.policy_set.sources if not s.path.startswith("<")][-1] == "shared/principles.policy"


def test_a_linked_directory_outside_the_root_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _tree(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.move(root / "shared" / "principles.policy", outside / "principles.policy")
    (root / "shared").rmdir()
    (root / "shared").symlink_to(outside, target_is_directory=True)
    with pytest.raises(policyengine.PolicyError) as info:
        policyengine.load(root, cache=False)
    (d,) = [d for d in info.value.diagnostics if d.code == "PE007"]
    assert d.span.source.path == "shared"
    assert "outside the policy directory" in d.message
    code, _ = _check(capsys, str(root))
    assert code == 1


@pytest.mark.parametrize("target", ["/etc/passwd", "secret"], ids=["etc-passwd", "git-credentials"])
def test_a_file_linked_from_outside_is_refused_without_its_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    """The reproduction: `ln -s /etc/passwd p/c.policy` printed root's line in a diagnostic."""
    root = _tree(tmp_path)
    if target == "secret":
        credentials = tmp_path / ".git-credentials"
        credentials.write_text(f"https://user:{SECRET}@example.com\n", encoding="utf-8")
        target = str(credentials)
    elif not Path(target).exists():
        pytest.skip("no /etc/passwd here")
    (root / "c.policy").symlink_to(target)
    code, out = _check(capsys, str(root))
    assert code == 1
    assert "PE007" in out and "c.policy" in out
    assert SECRET not in out and "root:" not in out and "ghp_" not in out
    with pytest.raises(policyengine.PolicyError) as info:
        policyengine.load(root, cache=False)
    assert {d.code for d in info.value.diagnostics} == {"PE007"}


def test_a_file_link_inside_the_root_is_followed_and_read_once(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "alias.policy").symlink_to(Path("shared") / "principles.policy")
    engine = policyengine.load(root, cache=False)
    paths = [s.path for s in engine.policy_set.sources if not s.path.startswith("<")]
    # Read once (no duplicate principle), under the first of its names.
    assert paths == ["alias.policy", "jurisdictions.policy"]
    assert engine.decide(REQUEST).outcome.value == "withdraw"
    # `fmt` lists each real file once too, so it never rewrites one twice.
    assert [p.relative_to(root).as_posix() for p in policy_files(root)] == ["alias.policy", "jurisdictions.policy"]


def test_a_link_to_a_file_that_is_not_a_policy_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _tree(tmp_path)
    (root / "README.md").write_text(f"# notes\n{SECRET}\n", encoding="utf-8")
    (root / "readme.policy").symlink_to("README.md")
    code, out = _check(capsys, str(root))
    assert code == 1 and "PE007" in out and SECRET not in out
    # A link not named like a policy file is not a policy file: ignored, as a plain file would be.
    (root / "readme.policy").unlink()
    (root / "notes.txt").symlink_to("/etc/passwd")
    assert policyengine.load(root, cache=False).decide(REQUEST).outcome.value == "withdraw"


def test_a_directory_link_loop_ends(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "shared" / "again").symlink_to("..", target_is_directory=True)
    (root / "self").symlink_to(".", target_is_directory=True)
    files = policy_files(root)
    assert sorted(p.name for p in files) == ["jurisdictions.policy", "principles.policy"]
    assert policyengine.load(root, cache=False).decide(REQUEST).outcome.value == "withdraw"


def test_the_given_path_itself_may_be_a_link(tmp_path: Path) -> None:
    """The atomic-swap publish method: `current -> releases/v1` is given, and followed."""
    root = _tree(tmp_path)
    current = tmp_path / "current"
    current.symlink_to(root, target_is_directory=True)
    assert policyengine.load(current, cache=False).decide(REQUEST).outcome.value == "withdraw"


@pytest.mark.parametrize(
    "args",
    [
        ("p", "p/shared/principles.policy"),
        ("p/shared/principles.policy", "p"),
        ("p/shared", "p/alias.policy", "p/jurisdictions.policy"),
        ("p/alias.policy", "p/jurisdictions.policy", "p/shared"),
    ],
    ids=["dir-then-file", "file-then-dir", "dir-then-link", "link-then-dir"],
)
def test_one_file_under_two_paths_gives_one_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    """Issue 12, point 11: the version depended on which of the two paths came first."""
    root = _tree(tmp_path)
    (root / "alias.policy").symlink_to(Path("shared") / "principles.policy")
    monkeypatch.chdir(tmp_path)
    sources, diags = read_sources(args)
    assert not [d for d in diags if d.is_error]
    reverse, _ = read_sources(tuple(reversed(args)))
    assert [(s.path, s.text) for s in sources] == [(s.path, s.text) for s in reverse]
    assert len({s.text for s in sources}) == len(sources)  # nothing read twice
    version = policyengine.load(list(args), cache=False).version
    assert policyengine.load(list(reversed(args)), cache=False).version == version


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_diff_git_with_committed_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The reproduction: `diff --git` on a committed symlink was an internal error (exit 70)."""
    root = _tree(tmp_path)
    (root / "alias.policy").symlink_to(Path("shared") / "principles.policy")
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )

    def git(*a: str) -> None:
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True, env=env)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "inside link")
    code = main(["diff", "--git", "HEAD", str(root), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    json.loads(out)
    # A committed link to a file outside the directory: the old revision is refused, clearly.
    (root / "alias.policy").unlink()
    (root / "alias.policy").symlink_to("/etc/passwd")
    git("add", "-A")
    git("commit", "-qm", "outside link")
    (root / "alias.policy").unlink()
    code = main(["diff", "--git", "HEAD", str(root)])
    out, err = capsys.readouterr()
    assert code not in (0, 70), out + err
    assert "Traceback" not in out + err and "root:" not in out + err
    assert "PE007" in out + err
