"""Removing a config or a split from a dataset's Hub repo: files and card metadata in one commit.

For the dataset's own config the staged tree follows (its shards are removed there too, the card rewritten) and
the landed files behind them are recorded as withdrawn, so the next publish does not bring them back. Landing
files themselves are never touched. With `create_pr` only a pull request is opened and staging is left as it
is: merging it is a person's decision, and the next publish would otherwise undo it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from wcmatch import fnmatch

from upload_pipeline import card, copying, journal, steps
from upload_pipeline.config import DatasetConfig, PipelineConfig
from upload_pipeline.providers.base import ProviderError, StorageProvider, SyncResult
from upload_pipeline.staging import CARD_NAME, SHARD_RE, Shard, data_dir, read_shards
from upload_pipeline.state import read_json, write_json_atomic


@dataclass(frozen=True)
class DeleteRequest:
    dataset: str
    config_name: str
    split: str | None = None
    confirm: bool = False
    create_pr: bool = False
    # Names the commit (and a pull request's title, by which a retry whose answer was lost finds it): unique per
    # delete, so an older pull request for the same split is never taken for this one's.
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def delete_from_hub(cfg: PipelineConfig, hub: StorageProvider, req: DeleteRequest) -> SyncResult:
    ds = cfg.dataset(req.dataset)
    what = f"split {req.split!r} of config {req.config_name!r}" if req.split else f"config {req.config_name!r}"
    if not req.confirm:
        raise ProviderError(f"refusing to delete {what} of {ds.name} without confirm: true in the job's config")
    if ds.hub is None:
        raise ProviderError(f"dataset {ds.name} has no hub: section in {cfg.source}")
    _refuse_another_datasets(cfg, req, what)
    hub.check_auth()
    if req.config_name != ds.config_name or req.create_pr:
        return _delete(cfg, hub, req, what, withdraw=False)
    # From the tree read to the commit: a publish of this dataset copying meanwhile (it holds the lock shared)
    # could add a shard of the split after the read, which the commit would then leave on the Hub.
    with steps.staging_lock(steps.DatasetPaths.of(cfg, ds)):
        return _delete(cfg, hub, req, what, withdraw=True)


def _delete(cfg: PipelineConfig, hub: StorageProvider, req: DeleteRequest, what: str,
            withdraw: bool) -> SyncResult:
    ds = cfg.dataset(req.dataset)
    folder = "data" if req.config_name == "default" else req.config_name
    tree = hub.remote_tree(ds.hub)
    _refuse_unknown(cfg, hub, req, tree, what)
    if req.split:
        paths = [p for p in tree if fnmatch.fnmatch(p, f"{folder}/{req.split}-*")]
    else:
        paths = [folder]
    staged_card = _withdraw(cfg, req) if withdraw else None
    if staged_card is not None:
        def readme(remote: str | None) -> str | None:
            return card.merge_card(remote, staged_card, ds)
    else:
        def readme(remote: str | None) -> str | None:
            return card.remove_from_card(remote, req.config_name, req.split) if remote else None
    message = f"Delete {what} of {ds.name} from Dagster run {req.run_id[:8]} (upload_pipeline)"
    return hub.delete_paths(ds.hub, paths, message, readme=readme, create_pr=req.create_pr)


def _withdraw(cfg: PipelineConfig, req: DeleteRequest) -> str | None:
    """Remove the shards from staging and remember their landed files; return the new staged card, if any.
    The caller holds the staging lock."""
    ds = cfg.dataset(req.dataset)
    paths = steps.DatasetPaths.of(cfg, ds)
    # A crashed shards step's journal is finished first: this change is journalled in the same scratch folder,
    # which would drop it half applied (some of a landed file's rows staged, counted as published).
    journal.recover(paths.file("pending"), paths.staged)
    doomed = _staged_shards(ds, paths.staged, req.split)
    withdrawn = read_json(paths.file("withdrawn.json"), {})
    for shard in doomed:
        for sha in shard.sources:
            withdrawn.setdefault(sha, {"split": shard.split, "time": time.time()})
    write_json_atomic(paths.file("withdrawn.json"), withdrawn)  # first, so a crash cannot re-publish them
    if doomed and len(doomed) == len(_staged_shards(ds, paths.staged, None)):
        # This takes the last shards out: the copies are to take the dataset out of the remotes too, which they
        # do for an empty staged tree only with this note (not for a staging lost or never filled). Written
        # before the change, so a crash in between cannot leave staging emptied without it; shards staged
        # again (the change undone by a crash, or new files) clear it.
        write_json_atomic(paths.file(steps.EMPTIED), {"time": time.time(), "config_name": req.config_name,
                                                      "split": req.split})
    gone = [s.path for s in doomed]
    records = copying.stage_records(paths.staged, paths.file("pending"), data_dir(ds), {}, gone)
    journal.commit(paths.file("pending"), paths.staged, records, gone)
    return steps.write_card(ds, paths, lock_held=True) or None  # None: nothing left staged, so no staged card either


def _staged_shards(ds: DatasetConfig, staged: Path, split: str | None) -> list[Shard]:
    """The staged shards of `split` (all of them with None), found by file name (`<folder>/<split>-*.parquet`)
    rather than through `splits:`: a split taken out of the datasets file before its delete keeps its shards
    in staging, and the next publish would upload them again."""
    folder = staged / data_dir(ds)
    names = {m["split"] for p in folder.glob("*.parquet") if (m := SHARD_RE.match(p.name))}
    names = {n for n in names if split in (None, n)}
    # The same footer reading as a publish, over the splits found on disk (a model copy; the config is frozen).
    return read_shards(ds.model_copy(update={"splits": {n: [] for n in names}}), staged)


def _refuse_another_datasets(cfg: PipelineConfig, req: DeleteRequest, what: str) -> None:
    """Refuse a config that another dataset of the datasets file publishes to the same repo: deleted from here,
    that dataset's staging would keep it and its next publish put it back."""
    ds = cfg.dataset(req.dataset)
    for other in cfg.datasets:
        if other.name != ds.name and other.hub and other.config_name == req.config_name and other.hub.same_branch(
                ds.hub):
            raise ProviderError(f"refusing to delete {what} of {ds.name}: dataset {other.name} publishes that "
                                f"config to {ds.hub.repo_id}; delete it as dataset {other.name}, which also "
                                "takes it out of that dataset's staging so that its next publish does not bring "
                                "it back")


def _refuse_unknown(cfg: PipelineConfig, hub: StorageProvider, req: DeleteRequest, tree: dict[str, str],
                    what: str) -> None:
    """Refuse, before anything changes, a config or split that is neither on the Hub nor staged (a typo would
    otherwise "succeed" deleting nothing), naming what exists."""
    ds = cfg.dataset(req.dataset)
    existing = _remote_splits(hub.read_text(ds.hub, CARD_NAME), tree)
    if req.config_name == ds.config_name:
        staged = _staged_shards(ds, steps.DatasetPaths.of(cfg, ds).staged, None)
        existing.setdefault(ds.config_name, set()).update(s.split for s in staged)
    if req.config_name in existing and (req.split is None or req.split in existing[req.config_name]):
        return
    listing = "; ".join(f"{name} ({', '.join(sorted(splits)) or 'no splits'})"
                        for name, splits in sorted(existing.items())) or "nothing"
    raise ProviderError(f"refusing to delete {what} of {ds.name}: {ds.hub.repo_id} has no such "
                        f"{'split' if req.split and req.config_name in existing else 'config'}; it has: {listing}")


def _remote_splits(readme: str | None, tree: dict[str, str]) -> dict[str, set[str]]:
    """config name → split names, from the remote card's `configs` and the shard files of the repo's tree."""
    found = card.config_splits(readme) if readme else {}
    for path in tree:
        folder, _, name = path.rpartition("/")
        if "/" not in folder and folder and (shard := SHARD_RE.match(name)):
            found.setdefault("default" if folder == "data" else folder, set()).add(shard["split"])
    return found
