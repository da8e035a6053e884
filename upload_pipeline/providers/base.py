"""The interface both remote roles share: plan a sync of the staged tree, apply it, delete paths, check auth.

A sync makes the remote copy equal to the staged tree inside the paths this dataset owns there (its data
folder and README.md): it uploads what is new or changed, deletes what staging no longer has, and leaves the
rest of the remote alone (other configs sharing a Hub repo, other prefixes in a bucket).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from upload_pipeline.staging import StagedFile


class ProviderError(Exception):
    """A remote copy cannot be made; the message says what to change (and never holds a secret)."""


class MissingCredentials(ProviderError):
    """Raised before any byte moves when a real provider has no credentials."""


@dataclass(frozen=True)
class SyncRequest:
    """What to publish: the staged tree, the paths it owns remotely, and how the README is merged."""

    root: Path
    files: dict[str, StagedFile]
    owned: tuple[str, ...]  # remote path prefixes of this dataset ("" = all of it); nothing outside is deleted
    message: str
    # The Hub role merges the staged card into the remote's README; the S3 role copies it as staged.
    merge_readme: Callable[[str | None], str] | None = None
    kept: tuple[str, ...] = ()  # prefixes inside `owned` that a sync never deletes (the S3 role's archives/)

    def owns(self, path: str) -> bool:
        return _under(path, self.owned) and not _under(path, self.kept)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(p == "" or path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


@dataclass(frozen=True)
class Upload:
    path: str
    size: int
    sha256: str
    source: Path | None = None  # a staged file, or
    content: bytes | None = None  # bytes made for this sync (the merged README)


@dataclass
class SyncPlan:
    target: str  # a URI or path naming the remote copy
    uploads: list[Upload] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    unchanged: int = 0
    base: str | None = None  # the remote revision the plan was made against, where the remote has one

    @property
    def noop(self) -> bool:
        return not self.uploads and not self.deletes

    @property
    def upload_bytes(self) -> int:
        return sum(u.size for u in self.uploads)


@dataclass
class SyncResult:
    plan: SyncPlan
    url: str
    commit_id: str | None = None
    commit_url: str | None = None
    bytes_sent: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


class StorageProvider(ABC):
    """One storage provider in one role. `target` is the dataset's `hub:` or `s3:` section of the config."""

    @abstractmethod
    def check_auth(self) -> str:
        """Return who we are at the provider; raise MissingCredentials naming the variable to set."""

    @abstractmethod
    def plan_sync(self, target: Any, request: SyncRequest) -> SyncPlan:
        """Compare the staged tree with the remote copy; nothing is written."""

    @abstractmethod
    def apply(self, target: Any, plan: SyncPlan, request: SyncRequest) -> SyncResult:
        """Carry out a plan: for the Hub role as one commit; a no-op plan writes nothing."""

    @abstractmethod
    def delete_paths(self, target: Any, paths: list[str], message: str,
                     readme: Callable[[str | None], str | None] | None = None,
                     create_pr: bool = False) -> SyncResult:
        """Delete files or folders from the remote copy and rewrite its README with `readme` (for the Hub role
        in one commit, or one pull request with `create_pr`)."""

    @abstractmethod
    def remote_tree(self, target: Any) -> dict[str, str]:
        """Every remote path with its sha256, to check that the remote copy equals the staged tree."""

    @abstractmethod
    def read_text(self, target: Any, path: str) -> str | None:
        """A small remote file's text (the README), or None if absent."""


class StorageResource(dg.ConfigurableResource, StorageProvider):
    """Base of every provider resource, so assets can ask for "the hub role" whatever provider fills it."""
