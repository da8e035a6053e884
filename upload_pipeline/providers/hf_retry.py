"""Retries for the Hub calls huggingface_hub does not retry itself, and errors that say what to do.

huggingface_hub 2.4 retries preupload, LFS transfers and tree pages (6 attempts, Retry-After honoured), but not
`create_commit`, `repo_info`, `create_repo`, `create_branch` or `whoami`. Those go through `with_retries`: 408,
429 and 5xx answers and dropped connections are retried with a bounded budget, honouring Retry-After (or the
reset in the `RateLimit` header); 401, 403 and 404 are not, and become a `ProviderError` saying why. A commit is
also retried on 409 (another commit to the branch is in progress: nothing of ours was applied). Retrying a
commit is safe because every commit is pinned to its parent: if the first attempt did land, the retry gets 412
and the caller re-plans to a no-op.
The Dagster asset carries no RetryPolicy of its own, so the two layers never multiply (hfh#3325).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import TypeVar

from huggingface_hub.errors import HfHubHTTPError

from upload_pipeline.providers.base import MissingCredentials, ProviderError

T = TypeVar("T")
log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
PARENT_MOVED = 412
COMMIT_IN_PROGRESS = frozenset({409})  # retried on commits only: elsewhere a 409 means "exists"


class BranchMoved(ProviderError):
    """A pull request of ours was built on a revision head that has moved since: handled as a 412 (re-planned)."""


def status_of(exc: BaseException) -> int | None:
    if isinstance(exc, BranchMoved):
        return PARENT_MOVED
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _is_connection_error(exc: BaseException) -> bool:
    # huggingface_hub 2.4 uses httpx2; its transport errors are not importable under a stable name.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"NetworkError", "TimeoutException", "RemoteProtocolError", "ConnectError",
                         "ReadError", "WriteError", "ConnectionError"}) and not isinstance(exc, HfHubHTTPError)


def _retry_after(exc: BaseException) -> float | None:
    """The server's wait: `Retry-After`, else the reset of the Hub's `RateLimit` header (`"api";r=0;t=55`),
    which the Hub may send alone."""
    headers = getattr(getattr(exc, "response", None), "headers", {}) or {}
    value = headers.get("retry-after")
    if value and value.strip().isdigit():
        return float(value)
    reset = re.search(r"(?:^|;)\s*t=(\d+)", headers.get("ratelimit") or "")
    return float(reset[1]) if reset else None


def with_retries(what: str, call: Callable[[], T], attempts: int = 5, base_wait: float = 1.0,
                 max_wait: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 also: frozenset[int] = frozenset()) -> T:
    """Run `call`, retrying transient failures and the statuses in `also`; `what` names the operation in
    messages."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except HfHubHTTPError as exc:
            status = status_of(exc)
            if status not in RETRIED_STATUSES | also or attempt == attempts:
                raise explain(what, exc) from None
            wait = _retry_after(exc)
            wait = min(max_wait, wait if wait is not None else base_wait * 2 ** (attempt - 1))
        except Exception as exc:  # noqa: BLE001 - only transport errors are retried, the rest re-raised
            if isinstance(exc.__cause__, HfHubHTTPError):
                # A failed LFS transfer (already retried by huggingface_hub) comes wrapped in "Error while
                # uploading '<path>' to the Hub."; the path is in the wrapper, the reason in the cause.
                raise explain(f"{what}: {str(exc).rstrip('.')}", exc.__cause__) from None
            if not _is_connection_error(exc):
                raise
            if attempt == attempts:
                raise ProviderError(f"{what}: the connection failed {attempts} times ({type(exc).__name__}: "
                                    f"{exc}); check HF_ENDPOINT and the network, then publish again") from None
            wait = min(max_wait, base_wait * 2 ** (attempt - 1))
            status = type(exc).__name__
        log.warning("%s: %s, attempt %d of %d; retrying in %.0f s", what, status, attempt, attempts, wait)
        sleep(wait)
    raise AssertionError("unreachable")


class NotFound(ProviderError):
    """The repo, revision or file does not exist (or the token cannot see it)."""


def explain(what: str, exc: HfHubHTTPError) -> Exception:
    """Turn an HTTP error into one that says what to change; 412 is passed through for re-planning."""
    status = status_of(exc)
    server = (getattr(exc, "server_message", None) or "").strip()
    detail = f" (the Hub said: {server})" if server else ""
    if status == PARENT_MOVED:
        return exc
    if status == 401:
        return MissingCredentials(f"{what}: the Hub refused the token (401){detail}; set HF_TOKEN to a valid token")
    if status == 403:
        return ProviderError(f"{what}: the token may not do this (403){detail}; use a token with write access "
                             "to the repo (a fine-grained token needs write on it)")
    if status == 404:
        return NotFound(f"{what}: not found (404){detail}; check repo_id and revision in the datasets file "
                             "and that the token can see the repo")
    if status == 429:
        return ProviderError(f"{what}: rate limited by the Hub after retries (429){detail}; try again later")
    return ProviderError(f"{what}: HTTP {status}{detail}")
