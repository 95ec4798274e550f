"""The front end, end to end: paths → sources → ASTs → validated policy set.

Stage contract: :func:`analyse` runs load, parse and validate and returns
``(PolicySet | None, diagnostics)`` without raising on author input.  The
standard vocabulary (``policyengine/prelude``) is parsed before every set so
that policy files only declare what they add.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from importlib import resources

from .diagnostics import Diagnostic, sorted_diagnostics
from .loader import Limits, default_policy_dir, read_sources
from .model import PolicySet
from .parser import parse
from .source import Source
from .validate import PRELUDE_PREFIX, validate

PathLike = str | os.PathLike[str]


@functools.lru_cache(maxsize=1)
def prelude_sources() -> tuple[Source, ...]:
    folder = resources.files("policyengine").joinpath("prelude")
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
    return list(paths) or [default_policy_dir()]


def analyse_sources(sources: Iterable[Source], read_diags: Iterable[Diagnostic] = ()) -> tuple[PolicySet | None, list[Diagnostic]]:
    diagnostics = list(read_diags)
    all_sources = [*prelude_sources(), *sources]
    files = []
    for src in all_sources:
        tree, diags = parse(src)
        files.append(tree)
        diagnostics.extend(diags)
    policy_set, diags = validate(files, all_sources)
    diagnostics.extend(diags)
    if any(d.is_error for d in diagnostics):
        policy_set = None
    return policy_set, sorted_diagnostics(diagnostics)


def analyse(paths: PathLike | Sequence[PathLike] | None = None, limits: Limits = Limits()) -> tuple[PolicySet | None, list[Diagnostic]]:
    """Read, parse and validate a policy set; every problem comes back as a diagnostic."""
    sources, diags = read_sources(resolve_paths(paths), limits)
    return analyse_sources(sources, diags)
