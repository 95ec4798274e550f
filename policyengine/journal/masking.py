"""Masking: what of a request is kept before it is written to the journal.

Stage contract: :class:`Masking` maps a decided demand (the ``request`` of a
:class:`~policyengine.evaluation.decision.Decision`) to the attributes that are
stored.  A field is *removed*, or *hashed*: replaced by
``hmac-sha256:<hex>`` under a secret key, so equal values stay equal (a
report can still count distinct demands, a case can be found by hashing its
id again) while the text itself is not kept.  This is the shape of OPA's
decision-log masking (``erase`` / ``upsert``), with a keyed hash instead of a
replacement value.

Free-text fields, ``demand.description`` and ``demand.id``, are masked by
default: hashed when a key is given (``key=`` or the environment variable
``POLICYENGINE_JOURNAL_KEY``), removed otherwise.  A hash without a key
would let anyone with the journal test guesses of the text, so there is none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PolicyEngineError

#: The demand's free-text fields, masked unless a configuration says otherwise.
FREE_TEXT = ("description", "id")
#: The environment variable that holds the default key.
KEY_ENV = "POLICYENGINE_JOURNAL_KEY"
HASH_PREFIX = "hmac-sha256:"


class MaskingError(PolicyEngineError):
    """A masking configuration that cannot be used."""

    code = "journal.masking"


def _field_name(path: str) -> str:
    name = path.removeprefix("demand.")
    if not name or "." in name:
        raise MaskingError(
            f"masking names demand attributes, `demand.NAME` or `NAME`, not `{path}`",
            "the journal stores the demand's attributes; the jurisdiction is always kept",
        )
    return name


@dataclass(frozen=True)
class Masking:
    """Which demand attributes to remove and which to replace by a keyed hash.

    ``remove`` wins over ``hash`` for a field named in both.  ``key`` is the
    HMAC key (bytes, or text taken as UTF-8); without one the hashed fields
    are removed too, and :attr:`hashing` is false.
    """

    remove: tuple[str, ...] = ()
    hash: tuple[str, ...] = FREE_TEXT
    key: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "remove", tuple(_field_name(p) for p in self.remove))
        object.__setattr__(self, "hash", tuple(_field_name(p) for p in self.hash))
        if isinstance(self.key, str):
            object.__setattr__(self, "key", self.key.encode())
        if self.key is None and os.environ.get(KEY_ENV):
            object.__setattr__(self, "key", os.environ[KEY_ENV].encode())

    @property
    def hashing(self) -> bool:
        return self.key is not None

    def apply(self, demand: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes to store: a new dict, ``demand`` is not changed."""
        out = dict(demand)
        for name in self.remove:
            out.pop(name, None)
        key = self.key
        for name in self.hash:
            if name not in out or name in self.remove:
                continue
            value = out[name]
            if value is None:
                continue
            if key is None:
                del out[name]
            else:
                out[name] = HASH_PREFIX + hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()
        return out

    def masked(self, value: str) -> str:
        """What a hashed field holding ``value`` is stored as (to find a case by its id)."""
        if self.key is None:
            raise MaskingError("no masking key is set, so masked fields were removed, not hashed", f"set {KEY_ENV}")
        return HASH_PREFIX + hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The configuration as stored in the journal's metadata (never the key)."""
        return {"remove": list(self.remove), "hash": list(self.hash), "hashing": self.hashing}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Masking:
        """A configuration from a JSON file ``{"remove": [...], "hash": [...], "key_env": "VAR"}``.

        The key itself is never in the file: ``key_env`` names the environment
        variable that holds it (default :data:`KEY_ENV`).
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MaskingError(f"cannot read the masking configuration `{path}`: {exc}") from None
        if not isinstance(data, dict) or not set(data) <= {"remove", "hash", "key_env"}:
            raise MaskingError(f"`{path}`: a masking configuration is an object with `remove`, `hash` and `key_env`")
        lists = {}
        for name in ("remove", "hash"):
            value = data.get(name, [] if name == "remove" else list(FREE_TEXT))
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise MaskingError(f"`{path}`: `{name}` must be a list of attribute names")
            lists[name] = tuple(value)
        env = data.get("key_env", KEY_ENV)
        if not isinstance(env, str):
            raise MaskingError(f"`{path}`: `key_env` must name an environment variable")
        key = os.environ.get(env)
        return cls(remove=lists["remove"], hash=lists["hash"], key=key.encode() if key else None)
