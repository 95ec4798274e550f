"""Jurisdiction codes as requests give them: exact, or refused with the code meant.

Stage contract: :class:`JurisdictionCodes` says, for one policy set, whether a
code is exact (a code the set defines, or a well-formed ISO 3166-1 alpha-2
code in capitals that it does not) and, for one that is not, builds the
:class:`~policyengine.evaluation.requests.RequestError` with a did-you-mean.

Why exact: a lower-case ``ru`` or a padded ``" RU"`` used to be decided as an
unknown jurisdiction (negotiate), which skipped the rules that hold
everywhere.  A sender who means ``RU`` is told so instead; a well-formed code
the set does not define (``ZZ``, ``XK``) is still decided, with every
jurisdiction attribute unknown (:mod:`~policyengine.evaluation.decide`).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Collection
from importlib import resources

from ..language.diagnostics import did_you_mean


def well_formed(code: str) -> bool:
    """Two ASCII capital letters: the shape of an ISO 3166-1 alpha-2 code (user-assigned ones included)."""
    return len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()


@functools.cache
def _alpha3() -> dict[str, tuple[str, str]]:
    rows = resources.files(__package__).joinpath("iso3166_alpha3.csv").read_text(encoding="utf-8").splitlines()
    reader = csv.DictReader(line for line in rows if not line.startswith("#"))
    return {row["alpha3"]: (row["alpha2"], row["name"]) for row in reader}


def alpha2_of(code: str) -> tuple[str, str] | None:
    """The ISO 3166-1 alpha-2 code and country name for an alpha-3 code (``RUS`` → ``RU``), or None."""
    return _alpha3().get(code.upper()) if len(code) == 3 else None


def meant(code: str, loaded: Collection[str]) -> str | None:
    """The hint for an inexact code: the exact code its sender most likely meant, or None.

    Case and surrounding spaces first (``ru``, ``" RU"`` → ``RU``), then an
    alpha-3 code (``RUS`` → ``RU``: spelling distance would say ``US``), then
    the closest loaded code by spelling.
    """
    tidy = code.strip().upper()
    if tidy != code and (tidy in loaded or well_formed(tidy)):
        return f"did you mean `{tidy}`?"
    found = alpha2_of(tidy)
    if found is not None:
        alpha2, name = found
        return f"did you mean `{alpha2}`? (`{tidy}` is the ISO 3166-1 alpha-3 code of {name}; jurisdictions use alpha-2 codes)"
    return did_you_mean(code[:64], loaded) if len(code) <= 64 else None


class JurisdictionCodes:
    """The exact codes of one policy set: :meth:`exact` on the hot path, :meth:`refuse` for the rest."""

    __slots__ = ("_hints", "loaded")

    def __init__(self, loaded: Collection[str]):
        self.loaded = frozenset(loaded)
        self._hints: dict[str, str | None] = {}

    def exact(self, code: str) -> bool:
        return code in self.loaded or well_formed(code)

    def hint(self, code: str) -> str | None:
        """:func:`meant` for ``code``, kept for the codes seen (at most a few thousand)."""
        if code in self._hints:
            return self._hints[code]
        found = meant(code, sorted(self.loaded))
        if len(self._hints) < 4_096:
            self._hints[code] = found
        return found
