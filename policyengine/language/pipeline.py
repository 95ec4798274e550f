"""The front end, end to end: paths → sources → ASTs → validated policy set.

Stage contract: :func:`analyse` runs load, parse and validate and returns
``(PolicySet | None, diagnostics)`` without raising on author input.  The
standard vocabulary (``policyengine/language/prelude``) is parsed before every set so
that policy files only declare what they add.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from importlib import resources

from .diagnostics import Diagnostic, sorted_diagnostics
from .loader import Limits, default_policy_dir, read_sources
from .model import PolicySet
from .source import Source
from .validate import PRELUDE_PREFIX, validate

PathLike = str | os.PathLike[str]


@functools.lru_cache(maxsize=1)
def prelude_sources() -> tuple[Source, ...]:
    folder = resources.files("policyengine.language").joinpath("prelude")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".policy"):
            out.append(Source(PRELUDE_PREFIX + entry.name, entry.read_text(encoding="utf-8")))
    return tuple(out)


def resolve_paths(paths: PathLike | Sequence[PathLike] | None) -> list[PathLike]:
    if paths is None:
        return [default_policy_dir()]
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    # An empty list is not "no preference": it is a caller that meant to pass
    # files and passed none, which the loader reports (PE005).
    return list(paths)


#: Codes that say a name is not declared.  After a syntax error the parser
#: skips what it cannot read; a reference to a name declared in skipped text
#: is an echo of that syntax error, not a second mistake, so it is held back
#: (it comes back, if it is real, once the syntax error is fixed).
_UNDECLARED_NAME = frozenset({"PE202", "PE203", "PE204", "PE206", "PE208", "PE209", "PE210", "PE211", "PE218"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _echo_of_skipped_text(d: Diagnostic, skipped: set[str]) -> bool:
    return bool(skipped) and d.code in _UNDECLARED_NAME and any(w in skipped for w in _WORD.findall(d.span.text))


def analyse_sources(
    sources: Iterable[Source], read_diags: Iterable[Diagnostic] = ()
) -> tuple[PolicySet | None, list[Diagnostic]]:
    # The parser (and Lark) is imported only when a set is parsed: a load
    # served from the load cache reads this module but parses nothing.
    from .parser import parse_file

    diagnostics = list(read_diags)
    all_sources = [*prelude_sources(), *sources]
    files = []
    skipped: set[str] = set()
    for src in all_sources:
        parsed = parse_file(src)
        files.append(parsed.file)
        diagnostics.extend(parsed.diagnostics)
        skipped |= parsed.skipped
    policy_set, diags = validate(files, all_sources)
    diagnostics.extend(d for d in diags if not _echo_of_skipped_text(d, skipped))
    if any(d.is_error for d in diagnostics):
        policy_set = None
    return policy_set, sorted_diagnostics(diagnostics)


def analyse(
    paths: PathLike | Sequence[PathLike] | None = None, limits: Limits = Limits()
) -> tuple[PolicySet | None, list[Diagnostic]]:
    """Read, parse and validate a policy set; every problem comes back as a diagnostic."""
    sources, diags = read_sources(resolve_paths(paths), limits)
    return analyse_sources(sources, diags)
