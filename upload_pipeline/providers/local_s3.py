"""The embedded default for the S3 role: `<root>/<bucket>/<prefix>/` on the local disk, mirroring staging."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import Field

from upload_pipeline.config import S3Target
from upload_pipeline.providers.base import StorageResource, SyncPlan, SyncRequest, SyncResult
from upload_pipeline.providers.plan import diff, under
from upload_pipeline.staging import CARD_NAME, hashed_tree


class LocalS3Resource(StorageResource):
    """S3 role on the local disk: a folder per bucket; each file is written whole, then renamed into place."""

    root: str = Field(default="data/remote/s3", description="folder holding one sub-folder per bucket")

    def folder(self, target: S3Target) -> Path:
        return Path(self.root) / target.bucket / target.prefix

    def check_auth(self) -> str:
        return f"local folder {self.root}"

    def plan_sync(self, target: S3Target, request: SyncRequest) -> SyncPlan:
        return diff(str(self.folder(target)), request, self.remote_tree(target), None)

    def apply(self, target: S3Target, plan: SyncPlan, request: SyncRequest) -> SyncResult:
        folder = self.folder(target)
        # The card goes last, as on S3: a crash part way leaves the old card over the old shards, never a card
        # naming a shard that is not there yet.
        for upload in sorted(plan.uploads, key=lambda u: u.path == CARD_NAME):
            dest = folder / upload.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".upload.", dir=dest.parent)
            os.close(fd)
            try:
                if upload.content is not None:
                    Path(tmp).write_bytes(upload.content)
                else:
                    shutil.copyfile(upload.source, tmp)
                os.replace(tmp, dest)
            except BaseException:
                # Hidden files are outside the mirror's tree, so no later sync would ever remove this one.
                Path(tmp).unlink(missing_ok=True)
                raise
        for path in plan.deletes:
            (folder / path).unlink(missing_ok=True)
        return SyncResult(plan, url=str(folder), bytes_sent=plan.upload_bytes)

    def delete_paths(self, target: S3Target, paths: list[str], message: str,
                     readme: Callable[[str | None], str | None] | None = None,
                     create_pr: bool = False) -> SyncResult:
        """Delete under the prefix; `readme` and `create_pr` are Hub notions and are ignored here."""
        tree = self.remote_tree(target)
        doomed = under(paths, tree)
        plan = SyncPlan(target=str(self.folder(target)), deletes=doomed, unchanged=len(tree) - len(doomed))
        return self.apply(target, plan, SyncRequest(Path("."), {}, (), message))

    def remote_tree(self, target: S3Target) -> dict[str, str]:
        # Hashes cached by size and mtime, so a plan reads only what changed (not the whole mirror every time);
        # kept under `.hashes/` next to the buckets (no bucket name starts with a dot), outside the mirror.
        cache = Path(self.root) / ".hashes" / target.bucket / target.prefix / "hashes.json"
        return {p: f.sha256 for p, f in hashed_tree(self.folder(target), cache).items()}

    def read_text(self, target: S3Target, path: str) -> str | None:
        file = self.folder(target) / path
        return file.read_text(encoding="utf-8") if file.is_file() else None
