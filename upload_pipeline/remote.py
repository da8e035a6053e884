"""Keeping a remote copy equal to the staged tree, and checking that it is."""

from __future__ import annotations

from typing import Any

from upload_pipeline import card
from upload_pipeline.archive import ARCHIVE_DIR
from upload_pipeline.config import DatasetConfig
from upload_pipeline.providers.base import StorageProvider, SyncRequest, SyncResult
from upload_pipeline.staging import CARD_NAME
from upload_pipeline.steps import DatasetPaths, owned_paths, staged_files


def sync_request(ds: DatasetConfig, paths: DatasetPaths, role: str, message: str) -> SyncRequest:
    files = staged_files(paths)
    if CARD_NAME not in files:
        raise RuntimeError(f"{paths.staged / CARD_NAME}: no dataset card staged; materialize dataset_card first")
    merge = None
    if role == "hub":
        staged_card = (paths.staged / CARD_NAME).read_text(encoding="utf-8")

        def merge(remote: str | None) -> str:
            return card.merge_card(remote, staged_card, ds)

    owned, kept = ownership(ds, role)
    return SyncRequest(paths.staged, files, owned, message, merge_readme=merge, kept=kept)


def ownership(ds: DatasetConfig, role: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(owned, kept): the remote paths a sync may delete from, and the ones inside them it never deletes.

    On the Hub the dataset owns its data folder and the card (other configs may share the repo). On S3 the prefix
    is the dataset's: mirror deletes whatever staging lacks anywhere under it, except the archives, which
    staging never has; keep deletes nothing.
    """
    if role == "s3":
        return (("",) if ds.s3.delete_policy == "mirror" else ()), (ARCHIVE_DIR + "/",)
    return owned_paths(ds), ()


def sync(provider: StorageProvider, target: Any, request: SyncRequest) -> SyncResult:
    """Check credentials, plan, and apply: the whole publish of one remote copy."""
    provider.check_auth()
    plan = provider.plan_sync(target, request)
    return provider.apply(target, plan, request)


def differences(provider: StorageProvider, target: Any, ds: DatasetConfig, paths: DatasetPaths,
                role: str) -> list[str]:
    """How the remote copy differs from the staged tree (empty when it is equal).

    Data files are compared by sha256. On the Hub the README is a merge of ours into the remote card, so there
    only this config's generated metadata is compared.
    """
    staged = staged_files(paths)
    remote = provider.remote_tree(target)
    owned, kept = ownership(ds, role)
    owned = SyncRequest(paths.staged, staged, owned, "", kept=kept)
    problems = []
    for path, f in sorted(staged.items()):
        if path == CARD_NAME and role == "hub":
            continue
        if path not in remote:
            problems.append(f"{path}: missing remotely")
        elif remote[path] != f.sha256:
            problems.append(f"{path}: sha256 {remote[path][:12]}… remotely, {f.sha256[:12]}… staged")
    problems += [f"{p}: remote only" for p in sorted(remote) if p not in staged and owned.owns(p)
                 and p != CARD_NAME]
    if role == "hub":
        remote_card = provider.read_text(target, CARD_NAME)
        staged_card = (paths.staged / CARD_NAME).read_text(encoding="utf-8") if CARD_NAME in staged else None
        if staged_card is not None and (remote_card is None or card.generated_metadata(
                remote_card, ds.config_name) != card.generated_metadata(staged_card, ds.config_name)):
            problems.append(f"{CARD_NAME}: this config's metadata differs from the staged card")
    return problems
