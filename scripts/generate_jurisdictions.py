#!/usr/bin/env python3
"""Keep the library's jurisdictions in step with the WJP Rule of Law Index.

The policy library declares one ``jurisdiction`` block per country of the
index, with the index's overall score as ``rule_of_law``.  Most of each block
is written by hand (standing demands, their citation comments, notes), so
this script never rewrites a file: it edits the few generated parts of the
blocks that already exist and appends the countries that are new.

What the script owns, and nothing else:

* the display name in a jurisdiction's header (``jurisdiction FR "France"``),
  taken from the CSV or from :data:`DISPLAY_NAMES`;
* the membership clause ``in EU``, added or removed from the CSV's
  ``eu_member`` column (a membership in another group is left alone);
* the ``rule_of_law = …`` assignment at the top level of the block, and the
  comment on the same line, which names the edition of the index;
* the eight factor scores (``constraints_on_government_powers = …`` and the
  others of :data:`FACTORS`), one assignment per line after ``rule_of_law``,
  for the factors the policy set declares as jurisdiction attributes, when
  the CSV has their columns (a CSV without them leaves them alone);
* new blocks for countries that no file declares yet, appended to
  ``jurisdictions/eu.policy`` (members of the EU) or ``jurisdictions/world.policy``,
  and the ``group EU`` block if no file declares it.

Everything else (comments, demands, other assignments, blank lines, the order
of blocks, jurisdictions the index does not cover) is kept byte for byte, so
a second run changes nothing.  A jurisdiction that has a score but is missing
from the CSV keeps its old score, and the script says so.

Refreshing next year:

1. Download the new edition's overall scores from worldjusticeproject.org and
   save them as ``scripts/data/rule_of_law_<year>.csv`` with the same columns
   (``alpha2``, ``country``, ``eu_member`` as yes/no, ``overall`` from 0 to 1,
   and the eight factor columns of :data:`FACTORS`; other columns are ignored).  Add ISO 3166-1 alpha-2 codes if the download
   lacks them; Kosovo is ``XK``.
2. Run ``python scripts/generate_jurisdictions.py --csv scripts/data/rule_of_law_<year>.csv``.
   The edition named in the comments is taken from the year in the file
   name (``--edition`` overrides it).
3. Review ``git diff policies/``: changed scores, new countries, and the
   notes the script prints (countries that left the index, group changes).
   Then run ``python -m policyengine check`` and ``python -m policyengine test``:
   a score that crossed the lawful-access threshold changes decisions, and
   the tests in ``policies/tests`` say which expectations moved.

``--check`` makes no change and exits 1 when the library is out of date
(0 when it is current), for use in CI.  Exit code 2 means bad input: an
unreadable or malformed CSV, or a policy file the script cannot scan, with
``path:line:col`` in the message.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = ROOT / "scripts" / "data" / "rule_of_law_2024.csv"
DEFAULT_POLICIES = ROOT / "policies"
EU_FILE = Path("jurisdictions") / "eu.policy"
WORLD_FILE = Path("jurisdictions") / "world.policy"
EU_GROUP = "EU"

#: Common English names where the index uses the World Bank's catalogue form
#: ("Iran, Islamic Rep."): these names appear in the explanations users read.
DISPLAY_NAMES: dict[str, str] = {
    "CD": "Democratic Republic of the Congo",
    "CG": "Republic of the Congo",
    "EG": "Egypt",
    "HK": "Hong Kong",
    "IR": "Iran",
    "KR": "South Korea",
    "RU": "Russia",
    "SK": "Slovakia",
    "VE": "Venezuela",
}

#: The WJP index's eight factors, as CSV columns and as jurisdiction attributes
#: (declared in policies/vocabulary.policy).  Lawful access, hotlines and
#: emergency disclosures weigh the factors that protect against abuse of a
#: request, not only the overall score.
FACTORS = (
    "constraints_on_government_powers",
    "absence_of_corruption",
    "open_government",
    "fundamental_rights",
    "order_and_security",
    "regulatory_enforcement",
    "civil_justice",
    "criminal_justice",
)

_HEADERS = {
    EU_FILE: (
        "# The European Union and its 27 member states.\n"
        "#\n"
        "# Members inherit the group's attributes (eu_member) and its standing\n"
        "# demands.  scripts/generate_jurisdictions.py maintains each member's\n"
        "# name, `in EU` and `rule_of_law` line from the WJP Rule of Law Index;\n"
        "# everything else in a block is written by hand and kept by the script.\n"
    ),
    WORLD_FILE: (
        "# Every other country of the WJP Rule of Law Index.\n"
        "#\n"
        "# scripts/generate_jurisdictions.py maintains each block's name and\n"
        "# `rule_of_law` line from the index; everything else in a block\n"
        "# (standing demands, their citations, notes) is written by hand and kept\n"
        "# by the script.  Jurisdictions the index does not cover are in\n"
        "# not_in_index.policy.\n"
    ),
}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<long>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\")
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<date>\d{4}-\d{2}-\d{2}(?![0-9A-Za-z_.]))
  | (?P<duration>\d+(?:\.\d+)?[hd](?![0-9A-Za-z_]))
  | (?P<number>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|->|[{}()\[\];,.:=<>])
    """,
    re.VERBOSE | re.DOTALL,
)


_CHECK = "run `python -m policyengine check` to see the error"


class InputError(Exception):
    """Bad input: the message names the file and, where there is one, the line and column."""


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    eu_member: bool
    score: str  # as the CSV writes it, e.g. "0.72"
    #: factor → score as the CSV writes it; empty when the CSV has no factor columns
    factors: tuple[tuple[str, str], ...] = ()

    @property
    def value(self) -> float:
        return float(self.score)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass
class Block:
    """A top-level ``jurisdiction`` or ``group`` declaration, located by offsets."""

    is_group: bool
    code: str
    name: Token
    membership: tuple[Token, Token] | None  # the `in` keyword and the group code
    open_brace: Token
    close_brace: Token | None = None
    rule_of_law: Token | None = None  # the value of the top-level assignment
    assignment_end: int = 0  # offset after the value, or after the `;` that follows it
    comment: Token | None = None  # a comment right after the assignment, on its line
    #: factor → (the value's token, the offset after the value or its `;`)
    factors: dict[str, tuple[Token, int]] | None = None


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


# --- input --------------------------------------------------------------------


def read_index(path: Path) -> list[Country]:
    """The countries of one edition of the index, sorted by code."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            columns = set(reader.fieldnames or ())
            missing = {"alpha2", "country", "eu_member", "overall"} - columns
            if missing:
                raise InputError(f"{path}:1: missing column(s) {', '.join(sorted(missing))}")
            with_factors = [f for f in FACTORS if f in columns]
            if with_factors and len(with_factors) != len(FACTORS):
                absent = ", ".join(f for f in FACTORS if f not in columns)
                raise InputError(f"{path}:1: has some factor columns but not {absent}: give all eight or none")
            countries: dict[str, Country] = {}
            for row in reader:
                where = f"{path}:{reader.line_num}"
                code = (row["alpha2"] or "").strip()
                name = (row["country"] or "").strip()
                member = (row["eu_member"] or "").strip().lower()
                score = (row["overall"] or "").strip()
                if not re.fullmatch(r"[A-Z]{2}", code):
                    raise InputError(f"{where}: `{code}` is not an ISO 3166-1 alpha-2 code")
                if code in countries:
                    raise InputError(f"{where}: `{code}` is listed twice")
                if not name or any(c in name for c in "\n\r"):
                    raise InputError(f"{where}: `{code}` has no usable country name")
                if member not in ("yes", "no"):
                    raise InputError(f"{where}: eu_member must be yes or no, not `{member}`")
                if not _is_score(score):
                    raise InputError(f"{where}: the overall score of `{code}` must be a number from 0 to 1, not `{score}`")
                factors = []
                for factor in with_factors:
                    value = (row[factor] or "").strip()
                    if not _is_score(value):
                        raise InputError(f"{where}: {factor} of `{code}` must be a number from 0 to 1, not `{value}`")
                    factors.append((factor, value))
                countries[code] = Country(code, DISPLAY_NAMES.get(code, name), member == "yes", score, tuple(factors))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {(exc.strerror or type(exc).__name__).lower()}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    if not countries:
        raise InputError(f"{path}: no countries")
    return [countries[c] for c in sorted(countries)]


def _is_score(text: str) -> bool:
    return re.fullmatch(r"\d+(\.\d+)?|\.\d+", text) is not None and 0 <= float(text) <= 1


def edition_of(csv_path: Path) -> str:
    """The edition named in comments, from the year in the CSV's file name."""
    years = re.findall(r"(?<!\d)(20\d\d)(?!\d)", csv_path.name)
    if len(years) != 1:
        raise InputError(f'{csv_path}: cannot tell the edition from the file name; pass --edition "WJP Rule of Law Index YEAR"')
    return f"WJP Rule of Law Index {years[0]}"


# --- scanning policy files ----------------------------------------------------------


def _location(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{col}"


def tokenize(path: str, text: str) -> list[Token]:
    """Tokens of a policy file, whitespace dropped and comments kept."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            what = "an unterminated string" if text[pos] == '"' else f"`{text[pos]}`"
            raise InputError(f"{path}:{_location(text, pos)}: cannot scan {what}; {_CHECK}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos, m.end()))
        pos = m.end()
    return tokens


def scan_blocks(path: str, text: str) -> list[Block]:
    """The top-level jurisdiction and group blocks of one file, with the parts the script owns."""
    # Comments never change the structure; keep them aside for the one place
    # that needs them (the comment on the `rule_of_law` line).
    all_tokens = tokenize(path, text)
    tokens = [t for t in all_tokens if t.kind != "comment"]
    comments = {t.start: t for t in all_tokens if t.kind == "comment"}
    blocks: list[Block] = []
    depth = 0
    current: Block | None = None
    i = 0

    def fail(tok: Token, message: str) -> InputError:
        return InputError(f"{path}:{_location(text, tok.start)}: {message}; {_CHECK}")

    def text_at(k: int) -> str:
        return tokens[k].text if k < len(tokens) else ""

    while i < len(tokens):
        tok = tokens[i]
        if depth == 0 and tok.kind == "name" and tok.text in ("jurisdiction", "group"):
            if i + 3 >= len(tokens) or tokens[i + 1].kind != "name" or tokens[i + 2].kind != "string":
                raise fail(tok, f"a `{tok.text}` declaration without a code and a quoted name")
            membership: tuple[Token, Token] | None = None
            k = i + 3
            if text_at(k) == "in" and k + 1 < len(tokens) and tokens[k + 1].kind == "name":
                membership = (tokens[k], tokens[k + 1])
                k += 2
            if text_at(k) != "{":
                raise fail(tokens[min(k, len(tokens) - 1)], f"`{{` expected after the header of `{tokens[i + 1].text}`")
            current = Block(tok.text == "group", tokens[i + 1].text, tokens[i + 2], membership, tokens[k])
            blocks.append(current)
            depth = 1
            i = k + 1
            continue
        if tok.text == "{":
            depth += 1
        elif tok.text == "}":
            depth -= 1
            if depth < 0:
                raise fail(tok, "`}` closes nothing")
            if depth == 0 and current is not None:
                current.close_brace = tok
                current = None
        elif (
            depth == 1
            and current is not None
            and current.rule_of_law is None
            and tok.kind == "name"
            and tok.text == "rule_of_law"
            and text_at(i + 1) == "="
            and i + 2 < len(tokens)
        ):
            value = tokens[i + 2]
            current.rule_of_law = value
            current.assignment_end = tokens[i + 3].end if text_at(i + 3) == ";" else value.end
            line_end = text.find("\n", current.assignment_end)
            line_end = len(text) if line_end == -1 else line_end
            hash_at = text.find("#", current.assignment_end, line_end)
            if hash_at != -1 and hash_at in comments and not text[current.assignment_end : hash_at].strip():
                current.comment = comments[hash_at]
            i += 3
            continue
        elif (
            depth == 1
            and current is not None
            and tok.kind == "name"
            and tok.text in FACTORS
            and text_at(i + 1) == "="
            and i + 2 < len(tokens)
        ):
            if current.factors is None:
                current.factors = {}
            if tok.text not in current.factors:
                value = tokens[i + 2]
                current.factors[tok.text] = (value, tokens[i + 3].end if text_at(i + 3) == ";" else value.end)
            i += 3
            continue
        i += 1
    if depth != 0:
        raise InputError(f"{path}: a `{{` is never closed; {_CHECK}")
    return blocks


# --- editing ------------------------------------------------------------------------


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def score_line(country: Country, edition: str) -> str:
    return f"rule_of_law = {country.score}  # {edition}"


def render_block(country: Country, edition: str) -> str:
    member = f" in {EU_GROUP}" if country.eu_member else ""
    lines = [score_line(country, edition), *(f"{f} = {v}" for f, v in country.factors)]
    body = "".join(f"    {line}\n" for line in lines)
    return f"jurisdiction {country.code} {quote(country.name)}{member} {{\n{body}}}\n"


def _same_score(token: Token, country: Country) -> bool:
    if token.kind != "number":
        return False
    return float(token.text) == country.value


def block_edits(text: str, block: Block, country: Country, edition: str, notes: list[str]) -> list[Edit]:
    """The edits that bring one existing block in line with the index."""
    edits: list[Edit] = []
    wanted_name = quote(country.name)
    if block.name.text != wanted_name:
        edits.append(Edit(block.name.start, block.name.end, wanted_name))
    if block.membership is None and country.eu_member:
        edits.append(Edit(block.name.end, block.name.end, f" in {EU_GROUP}"))
    elif block.membership is not None and block.membership[1].text == EU_GROUP and not country.eu_member:
        edits.append(Edit(block.name.end, block.membership[1].end, ""))
        notes.append(f"{country.code} is no longer an EU member in the index: `in EU` removed")
    elif block.membership is not None and block.membership[1].text != EU_GROUP and country.eu_member:
        notes.append(f"{country.code} is an EU member but is declared in group `{block.membership[1].text}`: left as it is")
    comment = f"# {edition}"
    if block.rule_of_law is None:
        lines = [score_line(country, edition), *(f"{f} = {v}" for f, v in country.factors if f not in (block.factors or {}))]
        edits.append(_insert_score(text, block, lines))
        edits.extend(_factor_edits(text, block, country, insert=False))
        return edits
    value = block.rule_of_law
    if not _same_score(value, country):
        edits.append(Edit(value.start, value.end, country.score))
    if block.comment is not None:
        if block.comment.text != comment:
            edits.append(Edit(block.comment.start, block.comment.end, comment))
    elif not _rest_of_line(text, block.assignment_end).strip():
        # A comment would swallow code that follows on the same line, so it
        # is only added where the assignment ends its line.
        edits.append(Edit(block.assignment_end, block.assignment_end, f"  {comment}"))
    edits.extend(_factor_edits(text, block, country, insert=True))
    return edits


def _factor_edits(text: str, block: Block, country: Country, *, insert: bool) -> list[Edit]:
    """Change the factor scores that differ; with ``insert``, add the missing ones
    on their own lines after the ``rule_of_law`` line, in :data:`FACTORS` order."""
    edits: list[Edit] = []
    present = block.factors or {}
    missing = []
    for factor, score in country.factors:
        found = present.get(factor)
        if found is None:
            missing.append(f"{factor} = {score}")
        elif found[0].kind != "number" or float(found[0].text) != float(score):
            edits.append(Edit(found[0].start, found[0].end, score))
    if insert and missing:
        assert block.rule_of_law is not None
        line_start = text.rfind("\n", 0, block.rule_of_law.start) + 1
        indent = text[line_start : block.rule_of_law.start]
        if indent.strip():  # the assignment shares its line with other code: indent as the block's first line
            indent = "    "
        end = text.find("\n", block.assignment_end)
        at = len(text) if end == -1 else end
        edits.append(Edit(at, at, "".join(f"\n{indent}{line}" for line in missing)))
    return edits


def _rest_of_line(text: str, offset: int) -> str:
    end = text.find("\n", offset)
    return text[offset : len(text) if end == -1 else end]


def _insert_score(text: str, block: Block, lines: list[str]) -> Edit:
    """New ``rule_of_law`` and factor lines as the block's first, indented one step more than its header."""
    header = _rest_of_line(text, text.rfind("\n", 0, block.open_brace.start) + 1)
    indent = header[: len(header) - len(header.lstrip(" \t"))] + "    "
    rest = _rest_of_line(text, block.open_brace.end)
    body = "".join(f"\n{indent}{line}" for line in lines)
    if not rest.strip() or rest.lstrip().startswith("#"):
        # After the header line, so that a comment on it stays where it was.
        at = block.open_brace.end + len(rest)
        return Edit(at, at, body)
    return Edit(block.open_brace.end, block.open_brace.end, f"{body}\n{indent}")


def apply_edits(text: str, edits: list[Edit]) -> str:
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def _read(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read as UTF-8 text ({exc})") from None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def _append(text: str, addition: str) -> str:
    if not text:
        return addition
    return text.rstrip("\n") + "\n\n" + addition


def refresh(policies: Path, countries: Sequence[Country], edition: str) -> tuple[dict[Path, str], list[str]]:
    """New contents of the files that change, and notes for the person running the script."""
    notes: list[str] = []
    files = sorted(
        p for p in policies.rglob("*.policy") if not any(part.startswith(".") for part in p.relative_to(policies).parts)
    )
    texts = {p: _read(p) for p in files}
    # Only the factors the set declares: a score for an undeclared attribute
    # would be an error in the set.
    declared = {f for f in FACTORS if any(re.search(rf"\battribute\s+jurisdiction\s*\.\s*{f}\b", t) for t in texts.values())}
    countries = [dataclasses.replace(c, factors=tuple((f, v) for f, v in c.factors if f in declared)) for c in countries]
    by_code = {c.code: c for c in countries}
    seen: dict[str, Path] = {}
    has_eu_group = False
    edits: dict[Path, list[Edit]] = {}
    for path in files:
        shown = path.relative_to(policies).as_posix()
        for block in scan_blocks(shown, texts[path]):
            if block.is_group:
                has_eu_group = has_eu_group or block.code == EU_GROUP
                continue
            if block.code in seen:
                first = seen[block.code].relative_to(policies).as_posix()
                notes.append(f"{block.code} is declared twice ({first} and {shown}): only the first is updated")
                continue
            seen[block.code] = path
            country = by_code.get(block.code)
            if country is None:
                if block.rule_of_law is not None and block.rule_of_law.kind == "number":
                    old = block.rule_of_law.text
                    notes.append(f"{block.code} is not in the index any more: it keeps its score of {old} ({shown})")
                continue
            edits.setdefault(path, []).extend(block_edits(texts[path], block, country, edition, notes))
    changed: dict[Path, str] = {}
    for path, file_edits in edits.items():
        if file_edits:
            changed[path] = apply_edits(texts[path], file_edits)
    new = [c for c in countries if c.code not in seen]
    if not has_eu_group and any(c.eu_member for c in countries):
        # Empty: what the Union's membership means (attributes, demands) is policy, written by hand.
        new_group = f'group {EU_GROUP} "European Union" {{\n}}\n'
        target = policies / EU_FILE
        changed[target] = _append(changed.get(target, texts.get(target, _HEADERS[EU_FILE])), new_group)
        notes.append(f"added `group {EU_GROUP}` to {EU_FILE.as_posix()}")
    for country in new:
        rel = EU_FILE if country.eu_member else WORLD_FILE
        target = policies / rel
        changed[target] = _append(changed.get(target, texts.get(target, _HEADERS[rel])), render_block(country, edition))
        notes.append(f"added {country.code} ({country.name}) to {rel.as_posix()}")
    return changed, notes


# --- command line ---------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Update the policy library's jurisdictions from the WJP Rule of Law Index CSV.")
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help=f"the index (default: {DEFAULT_CSV.relative_to(ROOT)})")
    parser.add_argument("--policies", type=Path, default=DEFAULT_POLICIES, help="the policy library (default: policies/)")
    parser.add_argument("--edition", help='the name cited in comments (default: "WJP Rule of Law Index <year in the CSV name>")')
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the library is out of date")
    args = parser.parse_args(argv)
    try:
        if not args.policies.is_dir():
            raise InputError(f"{args.policies}: not a directory")
        countries = read_index(args.csv)
        edition = args.edition or edition_of(args.csv)
        if "\n" in edition:
            raise InputError("--edition must fit on one line")
        changed, notes = refresh(args.policies, countries, edition)
    except InputError as exc:
        print(f"generate_jurisdictions: error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for path in sorted(changed):
        shown = path.relative_to(args.policies).as_posix()
        print(f"{'would update' if args.check else 'updated'} {shown}")
        if not args.check:
            _write(path, changed[path])
    if not changed:
        print(f"up to date with the {edition} ({len(countries)} countries)")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
