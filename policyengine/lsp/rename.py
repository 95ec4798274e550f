"""Rename a principle, rule, enumeration value, enumeration, demand or attribute across the set.

Stage contract: :func:`rename_target` says whether the name at a position can
be renamed (and which span is the name); :func:`rename_edits` returns every
span to rewrite, declarations and references in every file (tests
included), or raises :class:`RenameError` with a message for the author.
Names from the standard vocabulary and those the language builds in cannot
be renamed (they are not in the author's files), nor can jurisdiction codes
(they are ISO codes, not names an author picks).

A rename is checked before it is made: the new name must be a name of the
language (not a keyword) and must not already name a thing of the same
kind in the same place, so a rename never turns a valid set into one with a
duplicate.
"""

from __future__ import annotations

import re

from ..errors import PolicyEngineError
from ..language.parser import KEYWORDS
from ..language.source import Span
from .index import Kind, Occurrence, SetIndex

RENAMEABLE = frozenset({Kind.PRINCIPLE, Kind.RULE, Kind.VALUE, Kind.ENUM, Kind.DEMAND, Kind.ATTRIBUTE})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WORDS = {
    Kind.PRINCIPLE: "principle",
    Kind.RULE: "rule",
    Kind.VALUE: "value",
    Kind.ENUM: "enumeration",
    Kind.DEMAND: "demand",
    Kind.ATTRIBUTE: "attribute",
    Kind.JURISDICTION: "jurisdiction",
}


class RenameError(PolicyEngineError):
    code = "rename"


def rename_target(index: SetIndex, path: str, offset: int) -> Occurrence:
    """The occurrence a rename at ``offset`` would rename; RenameError if none can be."""
    o = index.at(path, offset)
    if o is None:
        raise RenameError("there is no name here to rename")
    what = _WORDS[o.kind]
    if o.kind not in RENAMEABLE:
        raise RenameError(f"a {what} code cannot be renamed", "codes are ISO 3166-1 codes or group codes, not chosen names")
    defs = index.definitions(o.kind, o.key)
    if o.kind is Kind.ATTRIBUTE and (info := index.attributes.get(o.key)) is not None and info.builtin:
        raise RenameError(f"`{o.key}` is built into the language and cannot be renamed")
    if not defs:
        raise RenameError(f"no {what} `{o.name}` is declared, so there is nothing to rename")
    if any(d.standard for d in defs):
        raise RenameError(
            f"`{o.key}` is declared in the standard vocabulary, which policy files cannot change",
            "declare a new one in the policy set instead",
        )
    return o


def _renamed_key(o: Occurrence, new: str) -> str:
    head, dot, _ = o.key.rpartition(".")
    return f"{head}{dot}{new}"


def rename_edits(index: SetIndex, path: str, offset: int, new: str) -> tuple[Occurrence, list[Span]]:
    """Every span to replace with ``new`` to rename the thing at ``offset``."""
    o = rename_target(index, path, offset)
    if not _NAME.match(new):
        raise RenameError(f"`{new}` is not a name", "a name is letters, digits and `_`, not starting with a digit")
    if new in KEYWORDS:
        raise RenameError(f"`{new}` is a keyword of the language and cannot be a name")
    if new == o.name:
        return o, []
    key = _renamed_key(o, new)
    if index.definitions(o.kind, key):
        where = index.definitions(o.kind, key)[0].span.location()
        raise RenameError(f"there is already a {_WORDS[o.kind]} `{key}`", f"it is declared at {where}")
    if o.kind is Kind.DEMAND:
        # A demand shares its id with those its jurisdiction inherits and passes on.
        owner = o.key.split(".", 1)[0]
        for code in [owner, *index.members(owner)]:
            if index.demand_owner(code, new) is not None:
                raise RenameError(f"`{code}` already makes a demand `{new}`")
    spans = [r.span for r in index.references(o.kind, o.key)]
    if any(s.path.startswith("<") for s in spans):
        raise RenameError(f"`{o.key}` is also used in the standard vocabulary, which policy files cannot change")
    return o, spans
