"""The pipeline's own steps, run in-process on a fresh working folder: what "ours" means in every benchmark.

A working folder has its own landing folder (hard links to the landing set: discovery does not follow
symlinks that leave the landing folder, and links cost no copy), staged tree and state, so each repetition
starts cold: no validation cache, no hash cache, no shards.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from upload_pipeline import remote, steps
from upload_pipeline.config import CardConfig, DatasetConfig, HubTarget, S3Target
from upload_pipeline.providers.base import StorageProvider
from upload_pipeline.steps import DatasetPaths
from upload_pipeline_tests.bench.landing_set import SPLITS, LandingSet


def dataset(hub_repo: str | None = None, s3: S3Target | None = None) -> DatasetConfig:
    """The benchmark dataset: the 3 splits of the landing set and the pipeline's defaults otherwise
    (500 MB shards, zstd, strict schema)."""
    return DatasetConfig(
        name="bench", splits={split: [f"{split}/**"] for split in SPLITS}, settle_seconds=0,
        card=CardConfig(pretty_name="upload_pipeline benchmark", license="cc-by-4.0"),
        hub=HubTarget(repo_id=hub_repo, private=False) if hub_repo else None, s3=s3)


def folder(work: Path, landing: LandingSet) -> DatasetPaths:
    """A fresh working folder under `work` whose landing folder holds the set (not the append file)."""
    paths = DatasetPaths(work / "landing", work / "staged", work / "state")
    for source in landing.files:
        link_into(paths.landing, source)
    return paths


def link_into(landing: Path, source: Path) -> None:
    target = landing / source.parent.name / source.name  # <split>/<file>
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.link(source, target)


def stage(ds: DatasetConfig, paths: DatasetPaths) -> dict[str, Any]:
    """Validate, shard and write the card; seconds per step and what was written."""
    t0 = time.perf_counter()
    landing = steps.land(ds, paths, now=time.time() + 3600)  # everything counts as settled
    t1 = time.perf_counter()
    run = steps.shard(ds, paths)
    t2 = time.perf_counter()
    steps.write_card(ds, paths)
    t3 = time.perf_counter()
    return {"validate_s": t1 - t0, "shard_s": t2 - t1, "card_s": t3 - t2,
            "files": len(landing.validation.new_files()), "rejected": len(landing.rejected),
            "new_shards": len(run.written), "new_shard_bytes": sum(s.size for s in run.written),
            "shards": len(run.all_shards), "shard_bytes": sum(s.size for s in run.all_shards)}


def sync(provider: StorageProvider, target: Any, ds: DatasetConfig, paths: DatasetPaths,
         role: str) -> dict[str, Any]:
    """One remote copy's publish, timed from hashing the staged tree (cold) to the commit."""
    t = time.perf_counter()
    result = remote.sync(provider, target, remote.sync_request(ds, paths, role, "benchmark publish"))
    return {"upload_s": time.perf_counter() - t, "uploaded": len(result.plan.uploads),
            "bytes_planned": result.plan.upload_bytes, "commit": result.commit_id}


def publish(provider: StorageProvider, target: Any, ds: DatasetConfig, paths: DatasetPaths,
            role: str) -> dict[str, Any]:
    """The whole publish of one copy: stage, then sync; `total_s` is what a user waits."""
    out = stage(ds, paths)
    out |= sync(provider, target, ds, paths, role)
    out["total_s"] = out["validate_s"] + out["shard_s"] + out["card_s"] + out["upload_s"]
    return out
