"""Bearer tokens with roles: who may decide, review and administer.

Stage contract: :func:`parse_tokens` reads a token table (a file given with
``--tokens``, or the ``POLICYENGINE_TOKENS`` environment variable) and returns
:class:`Tokens`, or raises :class:`TokenFileError` naming the line at fault.
:meth:`Tokens.role_of` maps a presented token to the roles it grants.

The table is one token a line: ``ROLE[,ROLE…] TOKEN [NAME]``; ``#`` starts a
comment; in the environment variable ``;`` also separates entries.  Roles are
``decide`` (the decision API and the playground), ``review`` (the review
queue and ``POST /v1/effects``) and ``admin`` (``POST /v1/reload``); ``admin``
grants the other two, ``review`` grants ``decide``, so one token serves a
person who does everything.

Why every token is compared: :func:`hmac.compare_digest` takes the same time
for any two strings of one length, and the loop never stops at the first
match, so neither the time of an answer nor its order in the table tells an
attacker how much of a guess was right or which entry matched.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from ..errors import PolicyEngineError

Role = Literal["decide", "review", "admin"]
ROLES: tuple[Role, ...] = ("decide", "review", "admin")
#: What each role grants, itself included.
GRANTS: dict[str, frozenset[str]] = {
    "decide": frozenset({"decide"}),
    "review": frozenset({"decide", "review"}),
    "admin": frozenset({"decide", "review", "admin"}),
}
#: Shorter tokens are refused: 16 characters of a random token are ~96 bits.
MIN_TOKEN_LENGTH = 16
ENV_VAR = "POLICYENGINE_TOKENS"


class TokenFileError(PolicyEngineError):
    code = "usage"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: the name of the token (never the token) and what it may do."""

    name: str
    roles: frozenset[str]

    def may(self, role: str) -> bool:
        return role in self.roles


#: Everyone, when the service runs without tokens (it then listens on loopback only).
LOCAL = Principal("local", GRANTS["admin"])


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    principal: Principal


class Tokens:
    """A token table.  Tokens are kept only as SHA-256 digests, compared in constant time."""

    def __init__(self, entries: list[tuple[str, Principal]]):
        self._entries = tuple(_Entry(_digest(token), p) for token, p in entries)

    def __len__(self) -> int:
        return len(self._entries)

    def role_of(self, token: str) -> Principal | None:
        """The principal a token stands for, or None.  Every entry is compared, match or not."""
        presented = _digest(token)
        found: Principal | None = None
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, presented) and found is None:
                found = entry.principal
        return found


def _digest(token: str) -> bytes:
    # Comparing digests gives every comparison the same length, so even the
    # length of the real tokens does not show in the timing.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def parse_tokens(text: str, origin: str) -> Tokens:
    """Read a token table (see the module docstring); ``origin`` names it in errors."""
    entries: list[tuple[str, Principal]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.replace(";", "\n").splitlines() if origin == ENV_VAR else text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        where = f"{origin}:{number}" if origin != ENV_VAR else f"{origin} entry {number}"
        if len(parts) not in (2, 3):
            raise TokenFileError(
                f"{where}: expected `ROLE[,ROLE] TOKEN [NAME]`, found {len(parts)} word{'s' if len(parts) != 1 else ''}",
                "one token a line, e.g. `decide 3f9c…e1 router-eu`",
            )
        roles_text, token = parts[0], parts[1]
        name = parts[2] if len(parts) == 3 else f"token-{number}"
        roles: set[str] = set()
        for role in roles_text.split(","):
            if role not in GRANTS:
                raise TokenFileError(f"{where}: `{role}` is not a role", "the roles are `decide`, `review` and `admin`")
            roles |= GRANTS[role]
        if len(token) < MIN_TOKEN_LENGTH:
            raise TokenFileError(
                f"{where}: the token is {len(token)} characters long; at least {MIN_TOKEN_LENGTH} are needed",
                "make one with `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`",
            )
        if token in seen:
            raise TokenFileError(f"{where}: this token is already listed", "give each token one line, with all its roles")
        seen.add(token)
        entries.append((token, Principal(name, frozenset(roles))))
    if not entries:
        raise TokenFileError(f"{origin}: no tokens", "list one token a line as `ROLE TOKEN [NAME]`, or leave tokens unset")
    return Tokens(entries)


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
