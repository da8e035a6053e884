"""Repos, refs, commits and discussions on disk, so a restarted server on the same root sees the same state.

Layout under `<root>/repos/<type>s/<namespace>/<name>/`:

* `repo.json`        id, type, private, createdAt
* `refs.json`        `{"branches": {name: sha}, "tags": {...}, "prs": {"1": sha}}`
* `commits/<sha>.json`  id, parents, title, message, date, authors and the full tree (see `trees.py`)
* `lfs/<sha256>`     empty marker: this repo may reference that LFS object (uploaded to *this* repo)
* `discussions.json` discussions and pull requests

Every JSON file is replaced atomically (temp file + rename). Mutations hold `Storage.lock`, so a commit's
validate-then-move-ref is atomic with respect to other writers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .blobs import BlobStore
from .errors import HubError, bad_request, revision_not_found
from .gitattributes import DEFAULT_GITATTRIBUTES
from .trees import Tree, make_entry

REPO_TYPES = ("model", "dataset", "space")
DEFAULT_BRANCH = "main"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_PR_REF = re.compile(r"refs/pr/(\d+)")
_HEX = re.compile(r"[0-9a-f]{5,40}")
_COMMIT_CACHE_SIZE = 512


def utc_now() -> str:
    # Dates must end in `Z`: the client's parser rejects `+00:00` (hub-protocol.md §2.4).
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RepoKey:
    type: str  # "model", "dataset" or "space"
    repo_id: str  # "namespace/name"

    @property
    def web_prefix(self) -> str:
        """URL prefix of web/resolve/LFS routes: none for models (§2.1)."""
        return "" if self.type == "model" else f"{self.type}s/"


def make_repo_key(repo_type: str, namespace: str, name: str) -> RepoKey:
    """Validated key; the names become directory names, so anything but `[A-Za-z0-9._-]` is refused."""
    if repo_type not in REPO_TYPES:
        raise bad_request(f"Invalid repo type: {repo_type}")
    for part in (namespace, name):
        if not _NAME.fullmatch(part) or ".." in part or part.endswith(".git"):
            raise bad_request(f"Invalid repo id: {namespace}/{name}")
    return RepoKey(repo_type, f"{namespace}/{name}")


class Storage:
    def __init__(self, root: Path, user: str) -> None:
        self.root = root
        self.user = user
        self.blobs = BlobStore(root)
        self.lock = threading.RLock()
        # Refs with a commit (or merge) in progress; see `commit_slot`.
        self._busy: set[tuple[RepoKey, str]] = set()
        self._busy_lock = threading.Lock()
        # Commits are immutable, so their parsed JSON can be shared; callers must not mutate it.
        self._commit_cache: dict[tuple[RepoKey, str], dict] = {}

    def repo_dir(self, key: RepoKey) -> Path:
        return self.root / "repos" / f"{key.type}s" / key.repo_id

    def repo(self, key: RepoKey) -> dict | None:
        path = self.repo_dir(key) / "repo.json"
        return _read_json(path) if path.is_file() else None

    def create_repo(self, key: RepoKey, *, private: bool) -> bool:
        """Create the repo with an initial `.gitattributes` commit, like the Hub does. False if it exists."""
        with self.lock:
            if self.repo(key) is not None:
                return False
            directory = self.repo_dir(key)
            (directory / "commits").mkdir(parents=True, exist_ok=True)
            content = DEFAULT_GITATTRIBUTES.encode()
            sha256 = self.blobs.put_bytes(content)
            tree = {".gitattributes": make_entry(sha256, len(content), lfs=False, content=content)}
            commit = self.write_commit(key, parents=[], tree=tree, title="initial commit", message="")
            _write_json(directory / "refs.json", {"branches": {DEFAULT_BRANCH: commit["id"]}, "tags": {}, "prs": {}})
            _write_json(directory / "discussions.json", [])
            # repo.json last: its presence is what makes the repo exist.
            _write_json(
                directory / "repo.json",
                {"id": key.repo_id, "type": key.type, "private": private, "createdAt": utc_now()},
            )
            return True

    def delete_repo(self, key: RepoKey) -> None:
        with self.lock:
            (self.repo_dir(key) / "repo.json").unlink()
            shutil.rmtree(self.repo_dir(key))
            self._commit_cache = {k: v for k, v in self._commit_cache.items() if k[0] != key}

    @contextlib.contextmanager
    def commit_slot(self, key: RepoKey, ref: str) -> Iterator[None]:
        """Hold `ref` (a branch or `refs/pr/N`) for one commit. The Hub does not queue a second commit to a ref
        while one is in progress: it answers 409 (hub-protocol.md §3.15; `datasets` retries that 409 as "another
        commit is in progress"). Taken before `lock`, so the refusal never waits for the running commit.
        """
        slot = (key, ref.removeprefix("refs/heads/"))
        with self._busy_lock:
            if slot in self._busy:
                raise HubError(409, f"Another commit is in progress on {slot[1]}, please retry")
            self._busy.add(slot)
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy.discard(slot)

    def refs(self, key: RepoKey) -> dict:
        return _read_json(self.repo_dir(key) / "refs.json")

    def write_refs(self, key: RepoKey, refs: dict) -> None:
        _write_json(self.repo_dir(key) / "refs.json", refs)

    def commit(self, key: RepoKey, sha: str) -> dict:
        cached = self._commit_cache.get((key, sha))
        if cached is None:
            cached = _read_json(self.repo_dir(key) / "commits" / f"{sha}.json")
            if len(self._commit_cache) >= _COMMIT_CACHE_SIZE:
                self._commit_cache.clear()  # crude bound: full trees of long benchmark histories add up
            self._commit_cache[(key, sha)] = cached
        return cached

    def write_commit(self, key: RepoKey, *, parents: list[str], tree: Tree, title: str, message: str) -> dict:
        """Store a new commit object (no ref moves). Its id is a sha1 over its content plus a unique nonce."""
        date = utc_now()
        seed = json.dumps([parents, title, message, date, uuid.uuid4().hex, sorted(tree.items())], sort_keys=True)
        sha = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
        commit = {
            "id": sha,
            "parents": parents,
            "title": title,
            "message": message,
            "date": date,
            "authors": [self.user],
            "tree": tree,
        }
        _write_json(self.repo_dir(key) / "commits" / f"{sha}.json", commit)
        return commit

    def resolve(self, key: RepoKey, revision: str) -> str:
        """Commit sha of a branch, tag, `refs/heads|tags|pr/...` name, or full/short commit id."""
        refs = self.refs(key)
        name = revision.removeprefix("refs/heads/")
        if name in refs["branches"]:
            return refs["branches"][name]
        tag = revision.removeprefix("refs/tags/")
        if tag in refs["tags"]:
            return refs["tags"][tag]
        match = _PR_REF.fullmatch(revision)
        if match and match.group(1) in refs["prs"]:
            return refs["prs"][match.group(1)]
        if _HEX.fullmatch(revision):
            found = sorted(p.stem for p in (self.repo_dir(key) / "commits").glob(f"{revision}*.json"))
            if len(found) == 1:
                return found[0]
        raise revision_not_found(revision)

    def history(self, key: RepoKey, sha: str) -> list[dict]:
        """First-parent history, newest first."""
        commits = []
        while True:
            commit = self.commit(key, sha)
            commits.append(commit)
            if not commit["parents"]:
                return commits
            sha = commit["parents"][0]

    def has_lfs(self, key: RepoKey, sha256: str) -> bool:
        return (self.repo_dir(key) / "lfs" / sha256).is_file() and self.blobs.exists(sha256)

    def add_lfs(self, key: RepoKey, sha256: str) -> None:
        marker = self.repo_dir(key) / "lfs" / sha256
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()

    def discussions(self, key: RepoKey) -> list[dict]:
        return _read_json(self.repo_dir(key) / "discussions.json")

    def write_discussions(self, key: RepoKey, discussions: list[dict]) -> None:
        _write_json(self.repo_dir(key) / "discussions.json", discussions)


def _read_json(path: Path):
    return json.loads(path.read_text())


def _write_json(path: Path, data) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temp.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(temp, path)
