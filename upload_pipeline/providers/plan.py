"""The one diff every provider uses: staged tree vs remote listing → uploads and deletions."""

from __future__ import annotations

import hashlib
from pathlib import Path

from upload_pipeline.providers.base import SyncPlan, SyncRequest, Upload
from upload_pipeline.staging import CARD_NAME


def diff(target: str, request: SyncRequest, remote: dict[str, str], remote_readme: str | None,
         base: str | None = None) -> SyncPlan:
    """Plan the uploads (new or changed sha256) and deletions (owned remote paths that staging lacks).

    Args:
        remote: remote path → sha256 (any path; only owned ones are considered for deletion).
        remote_readme: the remote README text, needed when the request merges the README.
        base: the remote revision the listing was read at.
    """
    plan = SyncPlan(target=target, base=base)
    for path, staged in sorted(request.files.items()):
        if path == CARD_NAME and request.merge_readme is not None:
            continue
        if remote.get(path) == staged.sha256:
            plan.unchanged += 1
        else:
            plan.uploads.append(Upload(path, staged.size, staged.sha256, source=request.root / path))
    if request.merge_readme is not None and CARD_NAME in request.files:
        merged = request.merge_readme(remote_readme).encode("utf-8")
        if remote_readme is not None and merged == remote_readme.encode("utf-8"):
            plan.unchanged += 1
        else:
            plan.uploads.append(Upload(CARD_NAME, len(merged), hashlib.sha256(merged).hexdigest(), content=merged))
    plan.deletes = sorted(p for p in remote if p not in request.files and request.owns(p) and p != CARD_NAME)
    return plan


def under(paths: list[str], tree: dict[str, str]) -> list[str]:
    """The paths of `tree` that are one of `paths` or inside one of them (a folder)."""
    return sorted(p for p in tree if any(p == d or p.startswith(d.rstrip("/") + "/") for d in paths))


def git_blob_id(path: Path) -> str | None:
    """The id git (and so the Hub) gives a small file's bytes, which is all its listing says of a non-LFS file."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
