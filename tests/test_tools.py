"""Tools around the language: pre-commit hooks, the Pygments lexer, rich
highlighting in `explain`, and the TextMate grammar for editors."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pygments.lexer import Lexer
from pygments.token import Comment, Error, Keyword, Name, Number, String, Token
from rich.console import Console

from policyengine.cli.main import COMMANDS, main
from policyengine.language.highlight import OUTCOME_STYLES, Outcome, PolicyLexer, highlight_lines, tokens
from policyengine.language.loader import default_policy_dir

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"
GRAMMAR = ROOT / "editors" / "policy.tmLanguage.json"
VSCODE = ROOT / "editors" / "vscode"

SAMPLE = '''# The platform's first principle.
vocabulary {
    extend enum kind { age_verification "check how old users are" }
    attribute jurisdiction.rule_of_law: number from 0 to 1 or unknown = unknown "WJP score"
}

principle encryption "End-to-end encryption is never weakened" {
    rule no_keys:
        withdraw when demand.kind in {key_disclosure, traceability} and not demand.mandatory
            or jurisdiction.rule_of_law < 0.55 or jurisdiction.rule_of_law is unknown
        because "handing over {demand.kind} in {jurisdiction.name} would expose \\"every\\" user # not a comment"
}

jurisdiction FR "France" in EU {
    rule_of_law = 0.72  # WJP 2024
    demand hotline "Set up a hotline" { kind = hotline; category = terrorism; legal_basis = statute }
}

test "keys" {
    RU.fsb_keys -> withdraw by encryption.no_keys
    FR { kind = user_data; category = criminal_suspect } -> comply by default
    market RU -> negotiate
    XX { note = """two
lines""" } -> comply
}
'''


# --- pre-commit hooks -----------------------------------------------------------


def hooks() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(loaded, list)
    return loaded


def test_pre_commit_hooks_name_real_subcommands() -> None:
    by_id = {h["id"]: h for h in hooks()}
    assert set(by_id) == {"policyengine-check", "policyengine-fmt", "policyengine-lint", "policyengine-test"}
    for hook_id, hook in by_id.items():
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert hook["language"] == "python"
        program, command, *_ = hook["entry"].split()
        assert program == "policyengine"
        assert command in COMMANDS, f"{hook_id}: `{command}` is not a policyengine subcommand"
        assert command == hook_id.removeprefix("policyengine-")
        pattern = re.compile(hook["files"])
        assert pattern.search("policies/principles/encryption.policy")
        assert not pattern.search("README.md") and not pattern.search("x.policy.bak")


def test_whole_set_hooks_do_not_receive_file_names() -> None:
    """check, lint and test judge a policy set as a whole; fmt judges files one by one."""
    by_id = {h["id"]: h for h in hooks()}
    for hook_id in ("policyengine-check", "policyengine-lint", "policyengine-test"):
        assert by_id[hook_id]["pass_filenames"] is False
        assert by_id[hook_id]["args"], f"{hook_id} needs a directory argument"
    assert by_id["policyengine-fmt"].get("pass_filenames", True) is True
    assert "--check" in by_id["policyengine-fmt"]["entry"].split()
    assert "--strict" in by_id["policyengine-lint"]["entry"].split()


def _run_hook(hook: dict[str, Any], args: list[str], files: list[str]) -> int:
    argv = hook["entry"].split()[1:] + args
    if hook.get("pass_filenames", True):
        argv += files
    return main(argv)


def test_pre_commit_hooks_run_as_pre_commit_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each hook, run the way pre-commit runs it on a repository holding the shipped
    library in `policies/` (with `args: [policies]`), passes; a broken file fails it."""
    shutil.copytree(default_policy_dir(), tmp_path / "policies", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    monkeypatch.chdir(tmp_path)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "policies").rglob("*.policy"))
    for hook in hooks():
        assert _run_hook(hook, ["policies"], files) == 0, (hook["id"], capsys.readouterr())
    capsys.readouterr()
    messy = tmp_path / files[0]
    messy.write_text(messy.read_text(encoding="utf-8").replace("\n", "\n\n\n"), encoding="utf-8")
    by_id = {h["id"]: h for h in hooks()}
    assert _run_hook(by_id["policyengine-fmt"], [], [files[0]]) == 1
    assert f"would reformat {files[0]}" in capsys.readouterr().out
    (tmp_path / "policies" / "broken.policy").write_text('principle p "P" { rule r: withdraw because "x" }\n', encoding="utf-8")
    assert _run_hook(by_id["policyengine-check"], ["policies"], []) == 1


# --- the Pygments lexer -----------------------------------------------------------


def kinds(text: str) -> dict[str, set[Any]]:
    """Token types by token text (whitespace left out)."""
    out: dict[str, set[Any]] = {}
    for ttype, value in tokens(text):
        if value.strip():
            out.setdefault(value, set()).add(ttype)
    return out


def test_lexer_keeps_every_character() -> None:
    assert "".join(value for _, value in tokens(SAMPLE)) == SAMPLE


def test_lexer_has_no_error_tokens_on_valid_text() -> None:
    assert [v for t, v in tokens(SAMPLE) if t in Error] == []


def test_lexer_has_no_error_tokens_on_the_shipped_library() -> None:
    for path in sorted(default_policy_dir().rglob("*.policy")):
        errors = [v for t, v in tokens(path.read_text(encoding="utf-8")) if t in Error]
        assert errors == [], path


def test_lexer_classifies_the_language() -> None:
    k = kinds(SAMPLE)
    for word in ("vocabulary", "extend", "enum", "attribute", "principle", "rule", "jurisdiction", "demand", "test"):
        assert any(t in Keyword.Declaration for t in k[word]), word
    for word in ("when", "because", "and", "or", "not", "is", "from", "to", "by", "market"):
        assert any(t in Keyword and t not in Keyword.Declaration for t in k[word]), word
    for word in ("comply", "negotiate", "withdraw"):
        assert k[word] == {Outcome}, word
    assert k["unknown"] <= {Keyword.Constant}
    assert Name.Builtin in k["demand"] and Name.Attribute in k["kind"] and Name.Attribute in k["rule_of_law"]
    assert Name.Function in k["no_keys"] and Name.Namespace in k["encryption"]
    assert Name.Constant in k["FR"] and Name.Constant in k["EU"]
    assert k["0.72"] <= {Number.Float}
    assert k["# WJP 2024"] == {Comment.Single}
    assert k["{demand.kind}"] == {String.Interpol}
    assert k['\\"'] == {String.Escape}
    assert all(t in String for t in k[" would expose "])
    # `#` inside a text is text, and a triple-quoted text spans lines.
    assert any("# not a comment" in v and t in String for t, v in tokens(SAMPLE))
    assert any("lines" in v and t in String for t, v in tokens(SAMPLE))


def test_lexer_marks_what_the_parser_would_reject() -> None:
    assert any(t in Error for t, _ in tokens('rule r: comply when demand.x because "bad \\q escape"'))
    assert any(t in Error for t, _ in tokens('because "never closed\nrule'))


def test_lexer_metadata_and_entry_point() -> None:
    assert issubclass(PolicyLexer, Lexer)
    assert {"policy", "policyengine"} <= set(PolicyLexer.aliases)
    assert PolicyLexer.filenames == ["*.policy"]
    assert PolicyLexer.analyse_text(SAMPLE) > PolicyLexer.analyse_text("def f(x):\n    return x\n")
    with open(ROOT / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    target = project["entry-points"]["pygments.lexers"]["policy"]
    module, attribute = target.split(":")
    assert getattr(importlib.import_module(module), attribute) is PolicyLexer
    assert any(dep.startswith("pygments") for dep in project["dependencies"])


# --- rich highlighting --------------------------------------------------------------


def spans(line: Any) -> Iterator[tuple[str, str]]:
    for span in line.spans:
        yield line.plain[span.start : span.end], str(span.style)


def test_highlight_lines_gives_one_text_per_line_and_the_same_characters() -> None:
    lines = SAMPLE.splitlines()
    out = highlight_lines(lines)
    assert [t.plain for t in out] == lines
    assert highlight_lines([]) == []


def test_highlight_colours_outcomes_like_decisions() -> None:
    (line,) = highlight_lines(["        withdraw when demand.kind == key_disclosure"])
    assert ("withdraw", OUTCOME_STYLES["withdraw"]) in set(spans(line))


def test_highlight_colours_a_text_over_several_lines_as_one_text() -> None:
    out = highlight_lines(['because """first', "second line", 'third"""'])
    assert ("second line", "green") in set(spans(out[1]))


def test_highlight_never_interprets_markup_or_terminal_escapes() -> None:
    line = 'because "[bold red]boom[/] [link=https://x]y[/link]" # \x1b[31mred\x1b[0m'
    (text,) = highlight_lines([line])
    assert "[bold red]boom[/]" in text.plain and "[link=https://x]" in text.plain
    assert "\x1b" not in text.plain and "\\x1b[31m" in text.plain
    console = Console(force_terminal=True, color_system="standard", width=200)
    with console.capture() as captured:
        console.print(text)
    assert "\x1b[31mred" not in captured.get()


def test_explain_colours_the_rule_as_written_but_plain_text_is_unchanged() -> None:
    import policyengine
    from policyengine.evaluation.explain import explanation_tree

    engine = policyengine.load()
    decision = engine.decide(
        {"jurisdiction": "RU", "demand": {"kind": "key_disclosure", "category": "all_users", "legal_basis": "statute"}}
    )
    tree = explanation_tree(decision, engine.policy_set)
    plain = Console(width=200, color_system=None, force_terminal=False)
    with plain.capture() as captured:
        plain.print(tree)
    text = captured.get()
    rule = engine.policy_set.rule(f"{decision.reasons[0].principle}.{decision.reasons[0].rule}")
    assert rule is not None
    first_line = rule.span.source.line_text(rule.span.line).rstrip()
    assert f"{rule.span.line} | {first_line}" in text
    assert "\x1b[" not in text
    coloured = Console(width=200, force_terminal=True, color_system="standard")
    with coloured.capture() as captured:
        coloured.print(tree)
    assert "\x1b[1;34mrule\x1b[0m" in captured.get()


def test_diagnostics_colour_the_source_line_without_moving_the_carets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io

    from policyengine.language.pipeline import analyse
    from policyengine.language.render import render_human, render_plain

    path = tmp_path / "bad.policy"
    text = 'principle p "P" {\n    rule r: withdraw when demand.kind == key_disclosur because "x"\n}\n'
    path.write_text(text, encoding="utf-8")
    _, diagnostics = analyse([str(path)])
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = io.StringIO()
    render_human(diagnostics, file=out)
    coloured = out.getvalue()
    assert "\x1b[1;34mrule\x1b[0m" in coloured
    shown = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in coloured.splitlines()]
    for line in render_plain(diagnostics[0]).splitlines()[1:4]:
        assert line in shown


# --- the TextMate grammar -------------------------------------------------------------


def grammar() -> dict[str, Any]:
    loaded = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def patterns(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if any(k in node for k in ("match", "begin", "include")):
            yield node
        for value in node.values():
            yield from patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from patterns(value)


def test_textmate_grammar_is_valid_json_with_the_required_keys() -> None:
    g = grammar()
    assert g["scopeName"] == "source.policy"
    assert g["name"] and g["patterns"] and g["repository"]
    assert "policy" in g["fileTypes"]


def test_textmate_patterns_compile_and_includes_resolve() -> None:
    g = grammar()
    for p in patterns(g):
        for key in ("match", "begin", "end"):
            if key in p:
                re.compile(p[key])
        if "include" in p:
            assert p["include"].startswith("#") and p["include"][1:] in g["repository"], p["include"]
        for name in [p.get("name"), *(c["name"] for c in p.get("captures", {}).values())]:
            assert name is None or name.endswith(".policy"), name


def _line_scopes(line: str) -> list[tuple[str, str]]:
    """A small TextMate-style scanner, enough to check the grammar on one line:
    at each point the pattern that matches earliest wins (the first listed on a
    tie); a begin/end pattern scans its own patterns until its end."""
    g = grammar()
    repo = g["repository"]

    def flatten(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            if "include" in item:
                out.extend(flatten([repo[item["include"][1:]]]))
            elif "patterns" in item and "match" not in item and "begin" not in item:
                out.extend(flatten(item["patterns"]))
            else:
                out.append(item)
        return out

    found: list[tuple[str, str]] = []

    def scan(pos: int, items: list[dict[str, Any]], end: str | None) -> int:
        while pos < len(line):
            best: tuple[int, int, re.Match[str], dict[str, Any] | None] | None = None
            if end is not None:
                m = re.compile(end).search(line, pos)
                if m:
                    best = (m.start(), -1, m, None)
            for order, item in enumerate(items):
                m = re.compile(item.get("match") or item["begin"]).search(line, pos)
                if m and (best is None or (m.start(), order) < best[:2]):
                    best = (m.start(), order, m, item)
            if best is None:
                return len(line)
            _, _, m, item = best
            if item is None:
                return m.end()
            if "match" in item:
                if "name" in item:
                    found.append((m.group(0), item["name"]))
                for index, capture in item.get("captures", {}).items():
                    if m.group(int(index)):
                        found.append((m.group(int(index)), capture["name"]))
                pos = max(m.end(), pos + 1)
            else:
                inner_start = m.end()
                pos = scan(inner_start, flatten(item.get("patterns", [])), item["end"])
                found.append((line[m.start() : pos], item["name"]))
        return pos

    scan(0, flatten(g["patterns"]), None)
    return found


def test_textmate_grammar_scopes_a_rule_line() -> None:
    scopes = dict(_line_scopes("withdraw when demand.kind in {key_disclosure} and jurisdiction.rule_of_law < 0.55 # why"))
    assert scopes["withdraw"] == "constant.language.outcome.withdraw.policy"
    assert scopes["when"] == "keyword.control.policy"
    assert scopes["and"] == "keyword.operator.logical.policy"
    assert scopes["demand"] == "variable.language.scope.policy"
    assert scopes["rule_of_law"] == "variable.other.attribute.policy"
    assert scopes["0.55"] == "constant.numeric.policy"
    assert scopes["# why"] == "comment.line.number-sign.policy"


def test_textmate_grammar_scopes_declarations_and_texts() -> None:
    found = _line_scopes('jurisdiction FR "France \\"#1\\" for {demand.kind}" in EU { demand hotline "x" { kind = hotline } }')
    scopes = dict(found)
    assert scopes["FR"] == "entity.name.type.jurisdiction.policy"
    assert scopes["EU"] == "entity.other.inherited-class.policy"
    assert ("hotline", "entity.name.function.demand.policy") in found
    assert ("hotline", "variable.other.policy") in found
    assert scopes['\\"'] == "constant.character.escape.policy"
    assert scopes["{demand.kind}"] == "meta.interpolation.placeholder.policy"
    assert scopes['"France \\"#1\\" for {demand.kind}"'] == "string.quoted.double.policy"
    assert not any(scope.startswith("comment") for _, scope in _line_scopes('because "a # b"'))
    scopes = dict(_line_scopes("rule no_keys: comply when jurisdiction.x1 == -1.5E-2"))
    assert scopes["no_keys"] == "entity.name.function.rule.policy"
    assert scopes["-1.5E-2"] == "constant.numeric.policy"
    assert "1" not in scopes


def test_vscode_extension_points_at_the_grammar() -> None:
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (language,) = package["contributes"]["languages"]
    (contributed,) = package["contributes"]["grammars"]
    assert language["extensions"] == [".policy"]
    assert contributed["scopeName"] == grammar()["scopeName"]
    assert contributed["path"].endswith(GRAMMAR.name) and contributed["language"] == language["id"]
    configuration = json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))
    assert configuration["comments"]["lineComment"] == "#"
    for key in ("increaseIndentPattern", "decreaseIndentPattern"):
        re.compile(configuration["indentationRules"][key])


def test_token_types_used_are_pygments_standard_or_their_children() -> None:
    """Styles that know nothing of policyengine still colour every token."""
    from pygments.token import STANDARD_TYPES

    for ttype, _ in tokens(SAMPLE):
        parent = ttype
        while parent not in STANDARD_TYPES:
            parent = parent.parent
        assert parent is not Token or ttype is Token
