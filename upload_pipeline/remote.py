"""Keeping a remote copy equal to the staged tree, and checking that it is."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from upload_pipeline import card
from upload_pipeline.archive import ARCHIVE_DIR
from upload_pipeline.config import DatasetConfig
from upload_pipeline.providers.base import StorageProvider, SyncPlan, SyncRequest, SyncResult
from upload_pipeline.providers.hf_pr import Publication
from upload_pipeline.staging import CARD_NAME
from upload_pipeline.steps import EMPTIED, DatasetPaths, owned_paths, staged_files


class NothingStaged(RuntimeError):
    """An empty staged tree that the delete job did not leave: nothing landed yet, or staging lost (a new machine,
    deleted by hand). Never synced, which would wipe what is published."""


def sync_request(ds: DatasetConfig, paths: DatasetPaths, role: str, message: str) -> SyncRequest:
    """The request to publish the staged tree; an empty one the delete job left takes the dataset out instead.

    Raises:
        NothingStaged: nothing is staged and the delete job did not empty it.
        RuntimeError: shards are staged without their card.
    """
    files = staged_files(paths)
    if files and CARD_NAME not in files:  # shards without their card are never published
        raise RuntimeError(f"{paths.staged / CARD_NAME}: no dataset card staged; materialize dataset_card first")
    if not files and not paths.file(EMPTIED).exists():
        raise NothingStaged(f"{paths.staged}: nothing staged, so nothing to publish; the {role} copy is left as it "
                            "is (land files; to take a dataset out of the remotes, use the delete_from_hub job)")
    return _request(ds, paths, role, message, files)


def nothing_published(provider: StorageProvider, target: Any, ds: DatasetConfig, paths: DatasetPaths,
                      role: str) -> bool:
    """Whether the copy holds nothing of the dataset (read only): taking the dataset out would change nothing.
    With nothing staged too, there is nothing to do — a dataset whose first files have not landed yet."""
    request = _request(ds, paths, role, "", {})
    if role == "s3":  # whatever the delete policy: any object under the prefix but the archives is the dataset's
        request = dataclasses.replace(request, owned=("",))
    return plan_sync(provider, target, request).noop


def _request(ds: DatasetConfig, paths: DatasetPaths, role: str, message: str, files: dict) -> SyncRequest:
    merge = None
    if role == "hub" and not files:
        # Nothing staged (all of it deleted, or nothing landed yet): the remote card loses this config, and
        # keeps other configs and a person's prose. None when that changes nothing, so no empty commit.
        def merge(remote: str | None) -> str | None:
            left = card.remove_from_card(remote, ds.config_name) if remote else None
            return left if left != remote else None
    elif role == "hub":
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


def sync(provider: StorageProvider, target: Any, request: SyncRequest,
         before_apply: Callable[[SyncPlan], None] | None = None) -> SyncResult:
    """Check credentials, plan, and apply: the whole publish of one remote copy. `before_apply` is given the plan
    of a change before anything of it is applied (the audit's note of what a crash may leave done).

    An empty request (nothing staged) deletes what the dataset owns remotely. On the Hub that is one commit of
    the deletions and the card without this config (`delete_paths`, which re-reads and retries on a 412, as
    a publish does); on S3 the plan also deletes the README, which a plan never deletes while a card is staged.
    """
    provider.check_auth()
    plan = plan_sync(provider, target, request)
    if before_apply is not None and not plan.noop:
        before_apply(plan)
    if request.files:
        return provider.apply(target, plan, request)
    if request.merge_readme is not None:  # the Hub role
        if plan.base is None:  # no repo or no commit yet: nothing was ever published there
            return SyncResult(plan, url=plan.target)
        return provider.delete_paths(target, plan.deletes, request.message, readme=request.merge_readme)
    return provider.apply(target, plan, request)


def plan_sync(provider: StorageProvider, target: Any, request: SyncRequest) -> SyncPlan:
    """What `sync` would change (nothing is written): the provider's plan, and for an emptied S3 tree its card."""
    plan = provider.plan_sync(target, request)
    if not request.files and request.merge_readme is None and request.owns(CARD_NAME) and provider.read_text(
            target, CARD_NAME) is not None:
        plan.deletes.append(CARD_NAME)  # S3's card goes with the tree; the Hub's is merged (merge_readme)
    return plan


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
    # The Hub's card is a merge, never deleted by a sync; S3's goes with the tree once nothing is staged.
    problems += [f"{p}: remote only" for p in sorted(remote) if p not in staged and owned.owns(p)
                 and (p != CARD_NAME or (role == "s3" and not staged))]
    if role == "hub":
        remote_card = provider.read_text(target, CARD_NAME) if CARD_NAME in remote else None  # no repo yet
        staged_card = (paths.staged / CARD_NAME).read_text(encoding="utf-8") if CARD_NAME in staged else None
        if staged_card is not None and (remote_card is None or card.generated_metadata(
                remote_card, ds.config_name) != card.generated_metadata(staged_card, ds.config_name)):
            problems.append(f"{CARD_NAME}: this config's metadata differs from the staged card")
        elif staged_card is None and remote_card and card.generated_metadata(remote_card, ds.config_name) != (
                None, None):
            problems.append(f"{CARD_NAME}: still has this config, of which nothing is staged")
    # Under create_pr a publish ends in a pull request left open: the head differs until someone merges it.
    pending = getattr(provider, "pending_pull_request", None)  # only providers with pull requests have it
    if problems and role == "hub" and target.create_pr and CARD_NAME in staged and pending is not None:
        message = Publication(ds.name, ds.config_name).prefix
        url = pending(target, sync_request(ds, paths, role, message))
        if url:
            problems = [f"{p} (pending in pull request {url}, not merged yet)" for p in problems]
    return problems
