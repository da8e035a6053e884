"""The embedded default for the Hub role: a repo folder on disk with a commit log.

`<root>/<repo_id>/` holds the files at the head of `main` (another revision gets `<repo_id>@<revision>/`) and
`.hub/commits.jsonl` records every commit: id, parent, message, files added and deleted, time. Each commit, its
line in the log included, is applied through a journal, so a crash never leaves the folder half-way between two
commits nor a change without its commit. A commit is pinned to the head it was planned on, as on the Hub: if
another writer (a dataset sharing the repo) committed since, the plan is made again on the new head, under a
per-repo file lock.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from pydantic import Field

from upload_pipeline import journal
from upload_pipeline.config import HubTarget
from upload_pipeline.providers.base import ProviderError, StorageResource, SyncPlan, SyncRequest, SyncResult, Upload
from upload_pipeline.providers.plan import diff, under
from upload_pipeline.staging import CARD_NAME, hashed_tree
from upload_pipeline.state import append_jsonl, locked, read_jsonl

_META = ".hub"
_LOG = "commits.jsonl"


class LocalHubResource(StorageResource):
    """Hub role on the local disk: nothing to set up, no account, no server."""

    root: str = Field(default="data/remote/hub", description="folder holding one sub-folder per repo")

    def repo_dir(self, target: HubTarget) -> Path:
        name = target.repo_id if target.revision == "main" else f"{target.repo_id}@{target.revision}"
        return Path(self.root) / name

    def commits(self, target: HubTarget) -> list[dict]:
        return read_jsonl(self.repo_dir(target) / _META / _LOG)

    def check_auth(self) -> str:
        return f"local folder {self.root}"

    def plan_sync(self, target: HubTarget, request: SyncRequest) -> SyncPlan:
        if not self.repo_dir(target).is_dir():  # nothing published yet: planned without making the repo's folder
            return diff(str(self.repo_dir(target)), request, {}, None, base=None)
        # Under the lock: the recovery below drops a scratch folder it finds without a journal, which would be
        # the files of a commit another writer is putting together right now.
        with self._lock(target):
            return self._plan(target, request)

    def _plan(self, target: HubTarget, request: SyncRequest) -> SyncPlan:
        repo = self._recovered(target)
        return diff(str(repo), request, self.remote_tree(target), self.read_text(target, "README.md"),
                    base=self._head(target))

    def apply(self, target: HubTarget, plan: SyncPlan, request: SyncRequest) -> SyncResult:
        with self._lock(target):
            if plan.base != self._head(target):
                # Another writer committed since the plan (the Hub would answer 412): plan again on its commit,
                # so the card merge keeps what it wrote.
                plan = self._plan(target, request)
            if plan.noop:
                return SyncResult(plan, url=str(self.repo_dir(target)), commit_id=plan.base)
            return self._commit(target, plan, request.message)

    def delete_paths(self, target: HubTarget, paths: list[str], message: str,
                     readme: Callable[[str | None], str | None] | None = None,
                     create_pr: bool = False) -> SyncResult:
        if create_pr:
            raise ProviderError("pull requests need the real Hub provider (UPLOAD_PIPELINE_HUB=hf); the local "
                                "default commits directly")
        with self._lock(target):  # planned and committed under one lock: nothing can commit in between
            self._recovered(target)
            tree = self.remote_tree(target)
            plan = SyncPlan(target=str(self.repo_dir(target)), deletes=under(paths, tree), base=self._head(target))
            if readme is not None and (new := readme(self.read_text(target, CARD_NAME))) is not None:
                data = new.encode()
                plan.uploads.append(Upload(CARD_NAME, len(data), hashlib.sha256(data).hexdigest(), content=data))
            plan.unchanged = len(tree) - len(plan.deletes)
            if plan.noop:
                return SyncResult(plan, url=str(self.repo_dir(target)), commit_id=plan.base)
            return self._commit(target, plan, message)

    def remote_tree(self, target: HubTarget) -> dict[str, str]:
        repo = self.repo_dir(target)
        return {p: f.sha256 for p, f in hashed_tree(repo, repo / _META / "hashes.json").items()}

    def read_text(self, target: HubTarget, path: str) -> str | None:
        file = self.repo_dir(target) / path
        return file.read_text(encoding="utf-8") if file.is_file() else None

    def _head(self, target: HubTarget) -> str | None:
        commits = self.commits(target)
        return commits[-1]["id"] if commits else None

    def _lock(self, target: HubTarget) -> AbstractContextManager[None]:
        return locked(self.repo_dir(target) / _META / "lock")

    def _recovered(self, target: HubTarget) -> Path:
        """The repo folder, with a commit a crash cut short finished first (its scratch folder is reused)."""
        repo = self.repo_dir(target)
        journal.recover(repo / _META / "incoming", repo)
        return repo

    def _commit(self, target: HubTarget, plan: SyncPlan, message: str) -> SyncResult:
        repo = self._recovered(target)
        incoming = repo / _META / "incoming"
        for upload in plan.uploads:
            dest = incoming / upload.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if upload.content is not None:
                dest.write_bytes(upload.content)
            else:
                shutil.copyfile(upload.source, dest)
        record = {"parent": plan.base, "message": message, "time": time.time(),
                  "added": [u.path for u in plan.uploads], "deleted": plan.deletes}
        record["id"] = hashlib.sha1(json.dumps(record, sort_keys=True).encode()).hexdigest()
        # The log with this commit's line goes in with the files: a crash leaves both or neither.
        log = f"{_META}/{_LOG}"
        draft = incoming / log
        draft.parent.mkdir(parents=True, exist_ok=True)
        if (repo / log).exists():
            shutil.copyfile(repo / log, draft)
        append_jsonl(draft, record)
        journal.commit(incoming, repo, [u.path for u in plan.uploads] + [log], plan.deletes)
        return SyncResult(plan, url=str(repo), commit_id=record["id"], bytes_sent=plan.upload_bytes)
