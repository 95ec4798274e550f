"""Which policy set a command uses when given no PATH (docs/cli.md, "Which policy set"), and the
lint and wording fixes a new user meets first (issue 13, points 1, 2 and 6).

Every test runs the command line (``policyengine.cli.main``) in a temporary directory, as a user
in a fresh clone would; the git test builds a real two-commit repository.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import policyengine
from policyengine.cli import main
from policyengine.cli.common import ExitCode, find_project_set, installed_package_dir
from policyengine.language.loader import default_policy_dir

ROOT = Path(__file__).resolve().parent.parent

VOCABULARY = """\
vocabulary {
    extend enum category {
        intimate_image_abuse  "sexual images shared without consent"
    }
}
"""

RULES = """\
principle encryption "We never weaken end-to-end encryption" {
    rule no_keys:
        withdraw when demand.kind in {key_disclosure, encryption_backdoor}
        because "handing over keys would expose every user"
}

principle abuse "We fight abuse" {
    rule images:
        comply when demand.category == intimate_image_abuse
        because "the platform removes them"
}

jurisdiction FR "France" {
    rule_of_law = 0.72
}
"""

BROKEN = RULES.replace("key_disclosure,", "key_disclousre,")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def project(root: Path, rules: str = RULES) -> Path:
    """A policy project: ``root/policies`` with a vocabulary.policy, as `docs/policies.md` lays it out."""
    policies = root / "policies"
    (policies / "principles").mkdir(parents=True)
    (policies / "vocabulary.policy").write_text(VOCABULARY, encoding="utf-8")
    (policies / "principles" / "rules.policy").write_text(rules, encoding="utf-8")
    return policies


# --- discovery ----------------------------------------------------------------------------------


def test_a_broken_project_set_is_checked_not_the_installed_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first thing issue 13 saw: `check` said ok on a broken `policies/` (it read site-packages)."""
    project(tmp_path, BROKEN)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "check", "--format", "plain")
    assert code == ExitCode.POLICY_ERRORS
    assert out.startswith("principles/rules.policy:3:39: error[PE204]")
    assert err == f"using policy set ./policies (found in {tmp_path.resolve()})\n"


def test_the_nearest_project_wins_from_a_subdirectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outer = project(tmp_path, BROKEN)
    inner = project(tmp_path / "team")
    (tmp_path / "team" / "docs" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "team" / "docs" / "deep")
    code, out, err = run(capsys, "check", "--format", "json")
    document = json.loads(out)
    assert code == ExitCode.OK and document["ok"] is True
    assert document["policy_set"] == {
        "source": "project",
        "paths": [str(inner.resolve())],
        "found_in": str((tmp_path / "team").resolve()),
        "project_file": None,
    }
    assert err == f"using policy set {inner.resolve()} (found in {(tmp_path / 'team').resolve()})\n"
    assert find_project_set(tmp_path) is not None and find_project_set(tmp_path).directory == outer.resolve()  # type: ignore[union-attr]


def test_a_policies_directory_without_a_vocabulary_is_not_a_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "notes.policy").write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "test", "--format", "json")
    assert json.loads(out)["policy_set"]["source"] == "library"
    assert err.startswith(f"using the installed library {default_policy_dir().resolve()} (no policy project here or above)")
    assert code == ExitCode.OK


def test_a_project_file_names_the_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, BROKEN)  # a policies/ at the same level loses to the project file
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.policy").write_text(RULES.replace("intimate_image_abuse", "csam"), encoding="utf-8")
    (tmp_path / "policyengine.toml").write_text('policies = "rules"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "lint", "--format", "json")
    document = json.loads(out)
    assert code == ExitCode.OK
    assert document["policy_set"]["source"] == "project"
    assert document["policy_set"]["project_file"] == str((tmp_path / "policyengine.toml").resolve())
    assert err == f"using policy set ./rules (named by {(tmp_path / 'policyengine.toml').resolve()})\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('policies = "nowhere"\n', '`policies = "nowhere"` is not a directory'),
        ("policies = 3\n", "`policies` is missing or not a string"),
        ("policies = \n", "cannot be read"),
    ],
)
def test_a_bad_project_file_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    (tmp_path / "policyengine.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "decide", "-j", "FR")
    assert code == ExitCode.USAGE and out == ""
    assert err.startswith(f"policyengine decide: error: {(tmp_path / 'policyengine.toml').resolve()}: ")
    assert message in err and "  hint: " in err and "Traceback" not in err


def test_given_paths_are_used_and_not_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, BROKEN)
    good = project(tmp_path / "elsewhere")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "check", str(good), "--format", "json")
    assert code == ExitCode.OK and err == "" and "policy_set" not in json.loads(out)


def test_decide_json_keeps_its_contract_and_announces_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path)
    monkeypatch.chdir(tmp_path)
    request = json.dumps(
        {"jurisdiction": "FR", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}
    )
    (tmp_path / "request.json").write_text(request, encoding="utf-8")
    code, out, err = run(capsys, "decide", "--request", "request.json", "--format", "json")
    assert code == ExitCode.OK
    assert json.loads(out)["outcome"] == "withdraw" and "policy_set" not in json.loads(out)
    assert err.startswith("using policy set ./policies (found in ")


# --- fmt never writes into the installed package -----------------------------------------------------


def test_fmt_outside_a_project_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    before = {p: p.read_bytes() for p in default_policy_dir().rglob("*.policy")}
    code, out, err = run(capsys, "fmt")
    assert code == ExitCode.USAGE and out == ""
    assert "policyengine fmt: error: no policy project here or above: `fmt` does not rewrite the installed library" in err
    assert "  hint: run it in a directory with `policies/vocabulary.policy`" in err
    assert {p: p.read_bytes() for p in default_policy_dir().rglob("*.policy")} == before


def test_fmt_in_a_project_formats_its_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = project(tmp_path, RULES.replace("    rule_of_law = 0.72", "  rule_of_law   =   0.72"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "fmt", "--check")
    assert code == ExitCode.POLICY_ERRORS and out == f"would reformat {policies / 'principles' / 'rules.policy'}\n", err
    code, _, err = run(capsys, "fmt")
    assert code == ExitCode.OK and "1 file reformatted" in err
    assert (policies / "principles" / "rules.policy").read_text(encoding="utf-8") == RULES


def test_fmt_refuses_a_path_inside_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    prelude = installed_package_dir() / "language" / "prelude"
    assert any(prelude.glob("*.policy"))
    code, out, err = run(capsys, "fmt", str(prelude))
    assert code == ExitCode.USAGE and out == ""
    assert "is inside the installed policyengine package: `fmt` does not rewrite it" in err
    code, _, err = run(capsys, "fmt", "--check", str(prelude))
    assert code == ExitCode.OK, err  # looking is fine


# --- diff --git resolves the set inside the repository --------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_diff_git_head_1_in_a_fresh_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    policies = project(repo)
    # A virtual environment inside the clone, as the README's first command makes: it must not matter.
    (repo / ".venv").mkdir()
    _git(repo, "init", "-q")
    _git(repo, "add", "policies")
    _git(repo, "commit", "-q", "-m", "one")
    rules = policies / "principles" / "rules.policy"
    rules.write_text(RULES.replace("comply when demand.category", "negotiate when demand.category"), encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "two")
    (repo / "policies" / "principles").joinpath("x").mkdir()
    monkeypatch.chdir(repo / "policies" / "principles" / "x")  # from anywhere inside the clone
    code, out, err = run(capsys, "diff", "--git", "HEAD~1", "--format", "json")
    assert code == ExitCode.OK, err
    document = json.loads(out)
    assert document["decisions_changed"] is True
    assert document["before"] == f"{policies.resolve()}@HEAD~1" and document["after"] == str(policies.resolve())
    monkeypatch.chdir(repo)
    code, out, err = run(capsys, "diff", "--git", "HEAD~1..HEAD", "--fail-on-change")
    assert code == ExitCode.POLICY_ERRORS, err
    assert out.startswith("policy diff: ./policies@HEAD~1 (")
    assert "from comply to negotiate" in out
    assert "before: comply (abuse.images)" in out and "after:  negotiate (abuse.images)" in out


def test_diff_git_outside_a_project_explains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "diff", "--git", "HEAD~1")
    assert code == ExitCode.USAGE and out == ""
    assert "no policy project here or above to compare across git revisions" in err
    assert "`policyengine diff --git REV DIR`" in err


# --- lint on a new set that uses the standard vocabulary (point 2) ------------------------------------

FOUR_RULES = """\
principle encryption "We never weaken end-to-end encryption" {
    rule no_keys:
        withdraw when demand.kind in {key_disclosure, encryption_backdoor}
        because "handing over keys would expose every user"
}

principle lawful_access "We answer lawful requests about suspects" {
    rule court_order:
        comply when demand.kind == user_data and demand.legal_basis == court_order
            and jurisdiction.rule_of_law >= 0.6
        because "a judge signed it"

    rule no_judge:
        negotiate when demand.kind == user_data and demand.legal_basis != court_order
        because "a person reviews requests without a judge"
}

principle speech "We keep peaceful speech up" {
    rule protest:
        withdraw when demand.kind == content_removal and demand.category == peaceful_protest
        because "peaceful protest stays up"
}

jurisdiction FR "France" {
    rule_of_law = 0.72
}
"""

ALLOW_REST = (
    "# lint: allow PE404 kind.traceability kind.channel_block kind.content_removal kind.data_localization"
    " kind.local_representative kind.hotline kind.transparency_report — reviewed case by case for now\n"
)


def test_lint_strict_on_a_new_four_rule_set_reports_no_standard_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.policy").write_text(FOUR_RULES, encoding="utf-8")
    code, out, _ = run(capsys, "lint", "--strict", str(tmp_path), "--format", "json")
    codes = [d["code"] for d in json.loads(out)["diagnostics"]]
    assert "PE407" not in codes and not any(
        d["path"].startswith("<standard>") and d["code"] == "PE407" for d in json.loads(out)["diagnostics"]
    )
    assert codes == ["PE404"] * 7 and code == ExitCode.POLICY_ERRORS
    # One directive with several subjects marks the rest deliberate: the hook passes.
    (tmp_path / "rules.policy").write_text(ALLOW_REST + FOUR_RULES, encoding="utf-8")
    code, out, _ = run(capsys, "lint", "--strict", str(tmp_path), "--format", "plain")
    assert code == ExitCode.OK, out
    assert out.startswith("0 findings, 7 allowed by `# lint: allow`")


def test_lint_still_reports_the_sets_own_unused_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "vocabulary.policy").write_text(VOCABULARY, encoding="utf-8")
    (tmp_path / "rules.policy").write_text(FOUR_RULES, encoding="utf-8")
    code, out, _ = run(capsys, "lint", str(tmp_path), "--format", "json")
    unused = [d for d in json.loads(out)["diagnostics"] if d["code"] == "PE407"]
    assert code == ExitCode.OK
    assert [(d["path"], d["message"]) for d in unused] == [
        (
            "vocabulary.policy",
            "`category` value `intimate_image_abuse` is never used: no rule tests it and no demand or test has it",
        )
    ]


# --- wording (point 6) ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'principle p "P" {\n    rule r: withdraw when kind == hotline because "x"\n}\n',
            ["`kind` needs its scope: write `demand.kind`"],
        ),
        (
            'principle p "P" {\n    rule r: withdraw when rule_of_law < 0.5 because "x"\n}\n',
            ["`rule_of_law` needs its scope: write `jurisdiction.rule_of_law`"],
        ),
        (
            'principle p "P" {\n    rule r: withdraw when knid == hotline because "x"\n}\n',
            ["`knid` is not an attribute", "did you mean `demand.kind`?"],
        ),
        (
            'include "common.policy"\n',
            ["the language has no `include`: a policy set is every `.policy` file under its directory"],
        ),
        (
            'principle p "P" {\n    rule r: comply when jurisdiction.rule_of_law >= 0,6 because "x"\n}\n',
            ["`0,6` is not a number: decimals are written with a point", "hint: write `0.6`"],
        ),
        (
            'jurisdiction FR "France" { rule_of_law = 0.7 }\ntest "t" {\n    FR { kind = hotline } -> negotiate\n}\n',
            ["`category` and `legal_basis` are missing", "add `category = …` and `legal_basis = …`"],
        ),
    ],
    ids=["bare-kind", "bare-rule-of-law", "misspelt-bare", "include", "decimal-comma-in-condition", "missing-and"],
)
def test_diagnostic_wording(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: list[str]) -> None:
    (tmp_path / "x.policy").write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, "check", str(tmp_path / "x.policy"), "--format", "plain")
    assert code == ExitCode.POLICY_ERRORS
    for words in expected:
        assert words in out
    assert "jurisdiction.kind" not in out


def test_pe001_has_the_same_location_in_str_and_on_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(policyengine.PolicyError) as caught:
        policyengine.load(["nope"])
    line = str(caught.value).splitlines()[1]
    assert line == "nope: error[PE001]: `nope` does not exist"
    code, out, _ = run(capsys, "check", "nope", "--format", "plain")
    assert code == ExitCode.POLICY_ERRORS and out.splitlines()[0] == line


# --- the whole story, as issue 13 told it: a clone, `pip install .`, then the commands -----------------


def _install_copy(clone: Path, site: Path) -> None:
    """What `pip install .` puts in site-packages: setuptools' build_py, which lays the package out
    from pyproject.toml (the library under policyengine/policies), without a network or a wheel."""
    subprocess.run(
        [sys.executable, "-W", "ignore", "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "-d", str(site)],
        cwd=clone,
        check=True,
        capture_output=True,
    )


def _policyengine(cwd: Path, site: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    # -P: the current directory is not put on sys.path, so the clone's own source is not imported,
    # exactly as with the `policyengine` script pip writes.
    script = "import sys, policyengine.cli as c; assert c.__file__.startswith(sys.argv[1]); sys.exit(c.main(sys.argv[2:]))"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COLUMNS")} | {"PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-P", "-c", script, str(site), *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="setuptools lays out the installed copy")
def test_a_fresh_clone_after_pip_install(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, clone / name)
    for name in ("policyengine", "policies"):
        shutil.copytree(ROOT / name, clone / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    # The README's first command makes .venv inside the clone; its site-packages is where pip installs.
    site = clone / ".venv" / "lib" / "site-packages"
    _install_copy(clone, site)
    installed = site / "policyengine" / "policies"
    assert (installed / "vocabulary.policy").is_file()
    _git(clone, "init", "-q")
    _git(clone, "add", "policies")
    _git(clone, "commit", "-q", "-m", "the library")

    # An edit in the clone is what `check` reads: a broken rule exits 1 with the error.
    encryption = clone / "policies" / "principles" / "encryption.policy"
    text = encryption.read_text(encoding="utf-8")
    assert "key_disclosure" in text
    encryption.write_text(text.replace("key_disclosure", "key_disclousre", 1), encoding="utf-8")
    done = _policyengine(clone, site, "check", "--format", "plain")
    assert done.returncode == ExitCode.POLICY_ERRORS, done.stdout + done.stderr
    assert "principles/encryption.policy:" in done.stdout and "`key_disclousre` is not in enumeration `kind`" in done.stdout
    assert done.stderr.startswith(f"using policy set ./policies (found in {clone.resolve()})\n")

    # `diff --git HEAD~1` compares the clone's policies/, not a path inside .venv.
    encryption.write_text(text.replace("withdraw when", "negotiate when", 1), encoding="utf-8")
    _git(clone, "commit", "-q", "-am", "negotiate instead")
    done = _policyengine(clone, site, "diff", "--git", "HEAD~1", "--format", "json")
    assert done.returncode == ExitCode.OK, done.stderr
    assert json.loads(done.stdout)["decisions_changed"] is True

    # Outside the clone, `fmt` refuses and the installed library is untouched.
    before = {p: p.read_bytes() for p in installed.rglob("*.policy")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _policyengine(elsewhere, site, "fmt")
    assert done.returncode == ExitCode.USAGE and "does not rewrite the installed library" in done.stderr
    done = _policyengine(elsewhere, site, "fmt", str(installed))
    assert done.returncode == ExitCode.USAGE and "inside the installed policyengine package" in done.stderr
    assert {p: p.read_bytes() for p in installed.rglob("*.policy")} == before
    # ... and every other command says it uses the installed library.
    done = _policyengine(elsewhere, site, "check", "--format", "json")
    assert done.returncode == ExitCode.OK and json.loads(done.stdout)["policy_set"]["paths"] == [str(installed.resolve())]
