"""Bearer-token policy: who is calling, and may they read or write a repo.

By default every token is a valid write token, so tests only need `HF_TOKEN=<anything>`. Passing explicit token
sets turns on strict mode: unknown tokens are rejected, read tokens cannot write.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from .errors import HubError, repo_not_found

INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


class Access(enum.Enum):
    ANONYMOUS = "anonymous"
    INVALID = "invalid"
    READ = "read"
    WRITE = "write"


class TokenPolicy:
    """Maps an `Authorization` header to an `Access` level.

    Args:
        write_tokens: tokens allowed to write. `None` together with `read_tokens=None` accepts any token as a
            write token.
        read_tokens: tokens allowed to read only.
    """

    def __init__(self, write_tokens: Iterable[str] | None = None, read_tokens: Iterable[str] | None = None) -> None:
        self.strict = write_tokens is not None or read_tokens is not None
        self.write_tokens = frozenset(write_tokens or ())
        self.read_tokens = frozenset(read_tokens or ())

    def access_for(self, authorization: str | None) -> Access:
        token = _bearer_token(authorization)
        if token is None:
            return Access.ANONYMOUS
        if not self.strict or token in self.write_tokens:
            return Access.WRITE
        if token in self.read_tokens:
            return Access.READ
        return Access.INVALID


def _bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def redact_authorization(value: str | None) -> str:
    """What the access log shows instead of the header: the scheme only, never the token."""
    if not value:
        return "-"
    return value.partition(" ")[0] + " ***"


def reject_invalid(access: Access) -> None:
    """A bad token is refused everywhere with the message the client treats specially (hub-protocol.md §2.6)."""
    if access is Access.INVALID:
        raise HubError(401, INVALID_CREDENTIALS, headers={"X-Error-Message": INVALID_CREDENTIALS})


def check_read(access: Access, *, private: bool) -> None:
    """Private repos are invisible without a valid token: same RepoNotFound as a missing repo (§2.6 table).

    Call `reject_invalid` first: invalid tokens are refused before any repo lookup.
    """
    if private and access is Access.ANONYMOUS:
        raise repo_not_found(401)


def check_write(access: Access, what: str) -> None:
    """Writes need a write token: 401 without a token, 403 with a read-only one."""
    reject_invalid(access)
    if access is Access.ANONYMOUS:
        raise HubError(401, f"You must be authenticated to {what}", headers={"X-Error-Message": "Unauthorized"})
    if access is Access.READ:
        message = f"You don't have the rights to {what}: this token is read-only"
        raise HubError(403, message, headers={"X-Error-Message": message})
