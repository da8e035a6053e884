"""The Hub role on a real Hugging Face Hub (or any server speaking its API), through huggingface_hub.

One publish is one commit: new LFS objects are uploaded first (`preupload_lfs_files`, which skips objects the
Hub already has, so an interrupted publish resumes without sending them again), then one `create_commit` holds
the new shards, the deletions and the merged card, pinned to the parent commit the plan was made against. If
another writer committed in between (412), the remote card is read again, merged again and the commit retried.
A publish with more operations than one commit should carry goes through a pull request instead — its commits
land on `refs/pr/N`, and `main` changes once, when the PR is merged — so readers never see a mixed state.
Under `create_pr` the PR is left open for review, and a publish keeps one open PR per config (see hf_pr).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr

from upload_pipeline.config import HubTarget
from upload_pipeline.providers import hf_pr
from upload_pipeline.providers.base import (
    MissingCredentials,
    ProviderError,
    StorageResource,
    SyncPlan,
    SyncRequest,
    SyncResult,
    Upload,
)
from upload_pipeline.providers.hf_retry import (COMMIT_IN_PROGRESS, PARENT_MOVED, BranchMoved, NotFound, status_of,
                                                with_retries)
from upload_pipeline.providers.plan import diff, git_blob_id, under
from upload_pipeline.staging import CARD_NAME

REPO_TYPE = "dataset"


class HfHubResource(StorageResource):
    """Hub role through huggingface_hub's HfApi. Select with UPLOAD_PIPELINE_HUB=hf."""

    token: str | None = Field(default=None, description="Hub token (EnvVar HF_TOKEN); else HF_HUB_TOKEN or the "
                                                        "token file huggingface_hub reads")
    endpoint: str | None = Field(default=None, description="Hub URL (EnvVar HF_ENDPOINT); default the public Hub")
    max_operations_per_commit: int = Field(default=100, gt=0, description="more than this goes through one PR")
    commit_attempts: int = Field(default=5, gt=0, description="re-plans after 412 (another writer committed)")
    http_attempts: int = Field(default=5, gt=0, description="attempts for calls huggingface_hub does not retry")

    _api: Any = PrivateAttr(default=None)

    def api(self):
        if self._api is None:
            from huggingface_hub import HfApi, get_token  # imported lazily: keeps definitions loading fast

            token = self.token or os.environ.get("HF_HUB_TOKEN") or get_token()
            if not token:
                raise MissingCredentials("no Hugging Face token: set HF_TOKEN (or HF_HUB_TOKEN, or log in with "
                                         "`hf auth login`) before publishing with UPLOAD_PIPELINE_HUB=hf")
            self._api = HfApi(endpoint=self.endpoint or os.environ.get("HF_ENDPOINT") or None, token=token)
        return self._api

    def _call(self, what: str, fn: Callable[[], Any], also: frozenset[int] = frozenset()) -> Any:
        return with_retries(what, fn, attempts=self.http_attempts, also=also)

    def repo_url(self, target: HubTarget) -> str:
        return f"{self.api().endpoint}/datasets/{target.repo_id}"

    def check_auth(self) -> str:
        info = self._call("check the Hub token", lambda: self.api().whoami())
        return str(info.get("name", "?"))

    def head(self, target: HubTarget, missing_ok: bool = False) -> str | None:
        try:
            info = self._call(f"read {target.repo_id}@{target.revision}", lambda: self.api().repo_info(
                target.repo_id, repo_type=REPO_TYPE, revision=target.revision))
        except NotFound:
            if missing_ok:
                return None
            raise
        return info.sha

    def ensure_repo(self, target: HubTarget) -> None:
        """Create the repo (private per config) and the branch when missing."""
        api = self.api()
        self._call(f"create {target.repo_id}", lambda: api.create_repo(
            target.repo_id, repo_type=REPO_TYPE, private=target.private, exist_ok=True))
        if target.revision != "main":
            self._call(f"create branch {target.revision}", lambda: api.create_branch(
                target.repo_id, branch=target.revision, repo_type=REPO_TYPE, exist_ok=True))

    def plan_sync(self, target: HubTarget, request: SyncRequest) -> SyncPlan:
        """Read-only: a repo or branch that does not exist yet plans as empty (base None)."""
        head = self.head(target, missing_ok=True)
        if head is None:
            return diff(self.repo_url(target), request, {}, None, base=None)
        remote = self._tree(target, head, request.root, request.files)
        readme = self.read_text(target, CARD_NAME, revision=head) if CARD_NAME in remote else None
        return diff(self.repo_url(target), request, remote, readme, base=head)

    def apply(self, target: HubTarget, plan: SyncPlan, request: SyncRequest) -> SyncResult:
        if plan.base is None and not plan.noop:
            self.ensure_repo(target)
            plan = self.plan_sync(target, request)  # a new repo already has a first commit to pin to
        refused = None  # the plan of the last commit answered with a 412
        prs = hf_pr.OurPrs.listed(self, target, request.message)
        for _ in range(self.commit_attempts):
            if plan.noop:
                prs.close_stale()
                if refused is not None and self._ours_at_head(target, request.message):
                    # The 412 was our own commit's doing: it landed, its answer was lost, the retry was refused.
                    return SyncResult(refused, url=self.repo_url(target), commit_id=plan.base,
                                      bytes_sent=refused.upload_bytes, metadata={"commits": 1, "answer_lost": True})
                return SyncResult(plan, url=self.repo_url(target), commit_id=plan.base)
            if held := prs.held(plan, request):
                return held
            try:
                result = self._commit(target, plan, request.message)
            except Exception as exc:
                if status_of(exc) != PARENT_MOVED:
                    raise
                refused = plan
            else:
                return prs.superseding(result)
            plan = self.plan_sync(target, request)  # someone committed meanwhile: re-read, re-merge
        raise ProviderError(f"{target.repo_id}: another writer kept committing (412 on {self.commit_attempts} "
                            "attempts); publish again when it is done")

    def pending_pull_request(self, target: HubTarget, request: SyncRequest) -> str | None:
        """The URL of our open pull request that holds what publishing `request` would commit, if any."""
        plan = self.plan_sync(target, request)
        held = None if plan.noop else hf_pr.OurPrs.listed(self, target, request.message).holding(plan, request)
        return held.url if held else None

    def _ours_at_head(self, target: HubTarget, message: str, revision: str | None = None) -> bool:
        """Whether the last commit of the target's branch (or `revision`) is ours: its title is this publish's
        message (which names the Dagster run)."""
        commits = self._call(f"list commits of {target.repo_id}", lambda: self.api().list_repo_commits(
            target.repo_id, repo_type=REPO_TYPE, revision=revision or target.revision))
        return bool(commits) and commits[0].title == message

    def _part(self, target: HubTarget, pr_revision: str, ops: list, title: str) -> Callable[[], Any]:
        """A later part of a publish in parts, for `with_retries`. Not pinned to a parent (only we write to our
        PR), so a retry first looks whether the attempt whose answer was lost landed: sent again, its deletions
        would be refused (404, the files are gone)."""
        tried = False

        def commit() -> Any:
            nonlocal tried
            if tried and self._ours_at_head(target, title, pr_revision):
                return None
            tried = True
            return self.api().create_commit(target.repo_id, ops, commit_message=title, repo_type=REPO_TYPE,
                                            revision=pr_revision)
        return commit

    def delete_paths(self, target: HubTarget, paths: list[str], message: str,
                     readme: Callable[[str | None], str | None] | None = None,
                     create_pr: bool = False) -> SyncResult:
        """Delete `paths` (files or folders) and rewrite the README in one commit, or one PR."""
        # A publish taking an emptied dataset out under `create_pr` keeps one open PR per config, as `apply` does.
        prs = hf_pr.OurPrs.listed(self, target, message)
        for _ in range(self.commit_attempts):
            head = self.head(target)
            tree = self._tree(target, head)
            plan = SyncPlan(self.repo_url(target), deletes=under(paths, tree), base=head)
            if readme is not None:
                new = readme(self.read_text(target, CARD_NAME, revision=head))
                if new is not None:
                    data = new.encode()
                    plan.uploads.append(Upload(CARD_NAME, len(data), "", content=data))
            if plan.noop:
                prs.close_stale()
                return SyncResult(plan, url=self.repo_url(target), commit_id=head)
            if held := prs.held(plan, None):
                return held
            try:
                result = self._commit(target, plan, message, force_pr=create_pr)
            except Exception as exc:
                if status_of(exc) != PARENT_MOVED:
                    raise
            else:
                return prs.superseding(result)
        raise ProviderError(f"{target.repo_id}: another writer kept committing (412); delete again later")

    def remote_tree(self, target: HubTarget) -> dict[str, str]:
        head = self.head(target, missing_ok=True)
        return {} if head is None else self._tree(target, head)  # no repo or branch yet: nothing in it

    def read_text(self, target: HubTarget, path: str, revision: str | None = None) -> str | None:
        """A small file's text, or None when the repo has no such file. Any other failure raises: taken for
        absence, a failed README download would make the publish replace the card instead of merging it."""
        from huggingface_hub.errors import LocalEntryNotFoundError, RemoteEntryNotFoundError

        def download(tmp: str) -> str | None:
            try:
                local = self.api().hf_hub_download(target.repo_id, path, repo_type=REPO_TYPE,
                                                   revision=revision or target.revision, cache_dir=tmp)
            except RemoteEntryNotFoundError:
                return None
            except LocalEntryNotFoundError as exc:
                # The download failed before reaching the file (a 5xx, a dropped connection) and there is no cached
                # copy: its cause is what the retries judge.
                raise (exc.__cause__ or exc) from None
            return Path(local).read_text(encoding="utf-8")

        with tempfile.TemporaryDirectory(prefix="upload-pipeline-hub-") as tmp:
            return self._call(f"read {path} of {target.repo_id}", lambda: download(tmp))

    def _tree(self, target: HubTarget, revision: str, root: Path | None = None,
              files: dict | None = None) -> dict[str, str]:
        """path → sha256. Files stored in git (not LFS) only carry a git blob id; where the staged tree has the
        same path with the same blob id, its sha256 stands in, so the diff sees them as unchanged."""
        from huggingface_hub import RepoFile

        entries = self._call(f"list {target.repo_id}", lambda: list(self.api().list_repo_tree(
            target.repo_id, repo_type=REPO_TYPE, revision=revision, recursive=True)))
        tree = {}
        for entry in entries:
            if not isinstance(entry, RepoFile):
                continue
            if entry.lfs is not None:
                tree[entry.path] = entry.lfs.sha256
            elif files and entry.path in files and git_blob_id(root / entry.path) == entry.blob_id:
                tree[entry.path] = files[entry.path].sha256
            else:
                tree[entry.path] = f"git:{entry.blob_id}"
        return tree

    def _commit(self, target: HubTarget, plan: SyncPlan, message: str, force_pr: bool = False) -> SyncResult:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        api = self.api()
        adds = [CommitOperationAdd(u.path, u.content if u.content is not None else str(u.source))
                for u in plan.uploads]
        ops = [*adds, *(CommitOperationDelete(p) for p in plan.deletes)]
        # LFS objects first, outside the commit: retried by huggingface_hub, skipped when already there.
        # attempts=1: huggingface_hub already retries these requests; this only turns errors into clear ones.
        with_retries(f"upload to {target.repo_id}", lambda: api.preupload_lfs_files(
            target.repo_id, additions=adds, repo_type=REPO_TYPE, revision=target.revision), attempts=1)
        chunks = [ops[i:i + self.max_operations_per_commit] for i in range(0, len(ops), self.max_operations_per_commit)]
        wanted_pr = force_pr or target.create_pr
        as_pr = wanted_pr or len(chunks) > 1
        tried = False

        def first_commit() -> Any:
            nonlocal tried
            # A PR is not pinned like a branch commit (main does not move): an attempt whose answer was lost
            # opened it, and a plain retry would open a second one.
            if tried and as_pr:
                opened = hf_pr.answered(api, target.repo_id, message, self.repo_url(target))
                if opened is not None:
                    return opened
            tried = True
            return api.create_commit(target.repo_id, chunks[0], commit_message=message, repo_type=REPO_TYPE,
                                     revision=target.revision, parent_commit=plan.base, create_pr=as_pr)

        info = self._call(f"commit to {target.repo_id}", first_commit, also=COMMIT_IN_PROGRESS)
        for i, chunk in enumerate(chunks[1:], start=2):
            self._call(f"commit part {i} to {info.pr_revision}",
                       self._part(target, info.pr_revision, chunk, f"{message} (part {i})"), also=COMMIT_IN_PROGRESS)
        if as_pr and self.head(target) != plan.base:
            # The Hub starts a PR at its parent_commit, not at the branch's head: the branch moved while this one
            # was being built, so merging it (here, or a reviewer) would conflict with that commit or undo it.
            self._call(f"close PR #{info.pr_num}", lambda: hf_pr.close(
                api, target.repo_id, info.pr_num, f"Superseded: {target.revision} moved while this was being built"))
            raise BranchMoved(f"{target.repo_id}: {target.revision} moved while PR #{info.pr_num} was being built")
        commit_id, url = info.oid, info.commit_url
        if as_pr and not wanted_pr:
            self._call(f"merge PR #{info.pr_num}", lambda: hf_pr.merge(self.api(), target.repo_id, info.pr_num))
            commit_id = self.head(target)
        meta = {"commits": len(chunks)}
        if info.pr_url:
            meta["pull_request"] = info.pr_url
        return SyncResult(plan, url=self.repo_url(target), commit_id=commit_id, commit_url=url,
                          bytes_sent=plan.upload_bytes, metadata=meta)
