"""Removing a config or a split from a dataset's Hub repo: files and card metadata in one commit.

For the dataset's own config the staged tree follows (its shards are removed there too, the card rewritten) and
the landed files behind them are recorded as withdrawn, so the next publish does not bring them back. Landing
files themselves are never touched. With `create_pr` only a pull request is opened and staging is left as it
is: merging it is a person's decision, and the next publish would otherwise undo it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from wcmatch import fnmatch

from upload_pipeline import card, copying, journal, steps
from upload_pipeline.config import PipelineConfig
from upload_pipeline.providers.base import ProviderError, StorageProvider, SyncResult
from upload_pipeline.staging import CARD_NAME, data_dir, read_shards
from upload_pipeline.state import read_json, write_json_atomic


@dataclass(frozen=True)
class DeleteRequest:
    dataset: str
    config_name: str
    split: str | None = None
    confirm: bool = False
    create_pr: bool = False


def delete_from_hub(cfg: PipelineConfig, hub: StorageProvider, req: DeleteRequest) -> SyncResult:
    ds = cfg.dataset(req.dataset)
    what = f"split {req.split!r} of config {req.config_name!r}" if req.split else f"config {req.config_name!r}"
    if not req.confirm:
        raise ProviderError(f"refusing to delete {what} of {ds.name} without confirm: true in the job's config")
    if ds.hub is None:
        raise ProviderError(f"dataset {ds.name} has no hub: section in {cfg.source}")
    folder = "data" if req.config_name == "default" else req.config_name
    hub.check_auth()
    if req.split:
        paths = [p for p in hub.remote_tree(ds.hub) if fnmatch.fnmatch(p, f"{folder}/{req.split}-*")]
    else:
        paths = [folder]
    staged_card = None
    if req.config_name == ds.config_name and not req.create_pr:
        staged_card = _withdraw(cfg, req)
    if staged_card is not None:
        def readme(remote: str | None) -> str | None:
            return card.merge_card(remote, staged_card, ds)
    else:
        def readme(remote: str | None) -> str | None:
            return card.remove_from_card(remote, req.config_name, req.split) if remote else None
    message = f"Delete {what} (upload_pipeline)"
    return hub.delete_paths(ds.hub, paths, message, readme=readme, create_pr=req.create_pr)


def _withdraw(cfg: PipelineConfig, req: DeleteRequest) -> str | None:
    """Remove the shards from staging and remember their landed files; return the new staged card, if any."""
    ds = cfg.dataset(req.dataset)
    paths = steps.DatasetPaths.of(cfg, ds)
    with steps.staging_lock(paths):  # not while a publish run is sharding into the same staged tree
        # A crashed shards step's journal is finished first: this change is journalled in the same scratch folder,
        # which would drop it half applied (some of a landed file's rows staged, counted as published).
        journal.recover(paths.file("pending"), paths.staged)
        doomed = [s for s in read_shards(ds, paths.staged) if req.split in (None, s.split)]
        withdrawn = read_json(paths.file("withdrawn.json"), {})
        for shard in doomed:
            for sha in shard.sources:
                withdrawn.setdefault(sha, {"split": shard.split, "time": time.time()})
        write_json_atomic(paths.file("withdrawn.json"), withdrawn)  # first, so a crash cannot re-publish them
        gone = [s.path for s in doomed]
        records = copying.stage_records(paths.staged, paths.file("pending"), data_dir(ds), {}, gone)
        journal.commit(paths.file("pending"), paths.staged, records, gone)
    if read_shards(ds, paths.staged):
        return steps.write_card(ds, paths)
    (paths.staged / CARD_NAME).unlink(missing_ok=True)
    return None
