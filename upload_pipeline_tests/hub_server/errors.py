"""Hub-style HTTP errors raised by route handlers and rendered by the request handler.

The client maps errors to exception classes from the `X-Error-Code` header only: on an `http://` endpoint a bare
401/404 never becomes `RepositoryNotFoundError` (hub-protocol.md §2.6), so every "not found" carries its code.
"""

from __future__ import annotations


class HubError(Exception):
    """An error response: status, a message for `{"error": ...}`, an optional `X-Error-Code` and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        body: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})
        # Error bodies must be JSON *objects* (hub-protocol.md §2.4): a list body crashes the client's formatter.
        self.body = body if body is not None else {"error": message}


def repo_not_found(status: int = 404) -> HubError:
    # 401 for anonymous callers, 404 otherwise, both with RepoNotFound, like the real Hub (§2.6 table).
    return HubError(status, "Repository not found", code="RepoNotFound")


def revision_not_found(revision: str) -> HubError:
    return HubError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")


def entry_not_found(message: str = "Entry not found", *, commit: str | None = None) -> HubError:
    # On resolve, X-Repo-Commit lets the client cache the non-existence under .no_exist/<commit>/ (§3.16).
    headers = {"X-Repo-Commit": commit} if commit else None
    return HubError(404, message, code="EntryNotFound", headers=headers)


def bad_request(message: str) -> HubError:
    return HubError(400, message)
