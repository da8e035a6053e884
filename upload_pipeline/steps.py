"""The pipeline's steps as plain functions; the Dagster assets call them and turn results into metadata.

Steps hand over through files under `state/<dataset>/`, so each asset can be materialized on its own:
`landed.json` (the validated landing listing), `sources.json` (every published landed file: content hash,
rows, first path), `validated.json` (validation cache) and `staged-hashes.json` (hash cache of the staged tree).
"""

from __future__ import annotations

import base64
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa

from upload_pipeline import card, journal
from upload_pipeline.config import DatasetConfig, PipelineConfig
from upload_pipeline.landing import Discovery, Rejection, discover
from upload_pipeline.shards import ShardRun, write_shards
from upload_pipeline.staging import (CARD_NAME, StagedFile, data_dir, hashed_tree, read_shards, remember_hashes,
                                    shards_schema)
from upload_pipeline.state import locked, read_json, write_json_atomic, write_text_atomic
from upload_pipeline.validation import FileRecord, Validation, validate

# State file the delete job writes when it withdrew the last staged shard: only then does an empty staged tree
# mean "take the dataset out of the remotes" rather than staging lost, wiped or never filled.
EMPTIED = "emptied.json"


@dataclass(frozen=True)
class DatasetPaths:
    landing: Path
    staged: Path
    state: Path

    @classmethod
    def of(cls, cfg: PipelineConfig, ds: DatasetConfig) -> DatasetPaths:
        return cls(cfg.path(cfg.paths.landing) / ds.landing_folder, cfg.path(cfg.paths.staging) / ds.name,
                   cfg.path(cfg.paths.state) / ds.name)

    def file(self, name: str) -> Path:
        return self.state / name


@dataclass
class Landing:
    """What the landed-files step found: the validation plus what discovery set aside."""

    validation: Validation
    discovery: Discovery

    @property
    def rejected(self) -> list[Rejection]:
        return self.validation.rejected


def staging_lock(paths: DatasetPaths, shared: bool = False):
    """Held by whatever writes the dataset's staged tree or its journal (land, shard, write_card, the delete job),
    so two of them never meet halfway, whoever started them (two runs, a run and the delete job, the CLI); and,
    `shared`, by what publishes the tree (the copies, the archive), so it does not change under them."""
    return locked(paths.file("staging.lock"), shared=shared)


def land(ds: DatasetConfig, paths: DatasetPaths, now: float | None = None) -> Landing:
    """Discover and validate the landed files, and record the result for the shards step."""
    with staging_lock(paths):
        return _land(ds, paths, now)


def _land(ds: DatasetConfig, paths: DatasetPaths, now: float | None) -> Landing:
    journal.recover(paths.file("pending"), paths.staged)  # a crashed shards step is finished first
    found = discover(ds, paths.landing, time.time() if now is None else now)
    sources = read_json(paths.file("sources.json"), {"hashes": {}, "paths": {}})
    shards = read_shards(ds, paths.staged)
    published = {sha for s in shards for sha in s.sources}
    cache = read_json(paths.file("validated.json"), {})
    validation = validate(ds, found, reference=shards_schema(paths.staged, shards), published=published,
                          known_paths=sources["paths"], cache=cache,
                          withdrawn=withdrawn_hashes(paths))
    write_json_atomic(paths.file("validated.json"), {k: v for k, v in cache.items()
                                                     if k in {f.relpath for f in found.files}})
    write_json_atomic(paths.file("landed.json"), {
        "files": [asdict(f) for f in validation.files],
        "rejected": [asdict(r) for r in validation.rejected],
        "schema": _schema_to_text(validation.schema),
    })
    return Landing(validation, found)


def preview(ds: DatasetConfig, paths: DatasetPaths, now: float | None = None) -> Landing:
    """`land` without writing anything: what the next publish would find."""
    found = discover(ds, paths.landing, time.time() if now is None else now)
    shards = read_shards(ds, paths.staged)
    sources = read_json(paths.file("sources.json"), {"hashes": {}, "paths": {}})
    validation = validate(ds, found, reference=shards_schema(paths.staged, shards),
                          published={sha for s in shards for sha in s.sources}, known_paths=sources["paths"],
                          cache=dict(read_json(paths.file("validated.json"), {})),
                          withdrawn=withdrawn_hashes(paths))
    return Landing(validation, found)


def withdrawn_hashes(paths: DatasetPaths) -> set[str]:
    """Content hashes of the landed files whose rows the delete job took out: never to be published again."""
    return set(read_json(paths.file("withdrawn.json"), {}))


def read_landed(paths: DatasetPaths) -> Validation:
    data = read_json(paths.file("landed.json"))
    if data is None:
        raise RuntimeError(f"{paths.file('landed.json')}: no landed-files record yet; materialize the "
                           "dataset's landed_files asset first")
    return Validation([FileRecord(**f) for f in data["files"]], [Rejection(**r) for r in data["rejected"]],
                      _schema_from_text(data["schema"]))


def shard(ds: DatasetConfig, paths: DatasetPaths) -> ShardRun:
    """Write the new landed files into new shards, and remember which files are published."""
    with staging_lock(paths):
        return _shard(ds, paths)


def _shard(ds: DatasetConfig, paths: DatasetPaths) -> ShardRun:
    validation = read_landed(paths)
    new = validation.new_files()
    if new and validation.schema is None:
        raise RuntimeError(f"{paths.landing}: no schema could be established for the new files")
    # Withdrawn again here, not only by `land`: landed.json may predate the delete job.
    run = write_shards(ds, paths.landing, new, validation.schema, paths.staged, paths.file("pending"),
                       withdrawn_hashes(paths))
    if run.hashes:  # so neither remote copy reads the new shards back only to hash them
        remember_hashes(paths.staged, paths.file("staged-hashes.json"), run.hashes)
    in_shards = {sha for s in run.all_shards for sha in s.sources}
    sources = read_json(paths.file("sources.json"), {"hashes": {}, "paths": {}})
    for f in validation.files:
        if f.sha256 in in_shards:
            sources["hashes"].setdefault(f.sha256, {"rows": f.rows, "path": f.relpath})
            sources["paths"][f.relpath] = f.sha256
    write_json_atomic(paths.file("sources.json"), sources)
    return run


def write_card(ds: DatasetConfig, paths: DatasetPaths, lock_held: bool = False) -> str:
    """(Re)write the staged README.md from the staged shards, keeping what a person wrote in it.

    With no shards staged (nothing landed yet, or all of it deleted from the Hub) there is no card either: the
    staged tree is empty and "" is returned (the copies take the dataset out of the remotes only when the delete
    job emptied it, see remote.sync_request).
    `lock_held`: the caller holds the staging lock already (the lock is not reentrant: taking it again would wait
    for itself).
    """
    if lock_held:
        return _write_card(ds, paths)
    with staging_lock(paths):
        return _write_card(ds, paths)


def _write_card(ds: DatasetConfig, paths: DatasetPaths) -> str:
    shards = read_shards(ds, paths.staged)
    schema = shards_schema(paths.staged, shards)
    readme = paths.staged / CARD_NAME
    if schema is None:
        readme.unlink(missing_ok=True)  # a card describing no shards would keep a config without data files
        return ""
    paths.file(EMPTIED).unlink(missing_ok=True)  # staged again: an empty tree from now on is not the delete's
    existing = readme.read_text(encoding="utf-8") if readme.exists() else None
    text = card.render_card(ds, shards, schema, existing)
    if text != existing:
        write_text_atomic(readme, text)
    return text


def staged_files(paths: DatasetPaths) -> dict[str, StagedFile]:
    return hashed_tree(paths.staged, paths.file("staged-hashes.json"))


def owned_paths(ds: DatasetConfig) -> tuple[str, ...]:
    return (data_dir(ds) + "/", CARD_NAME)


def _schema_to_text(schema: pa.Schema | None) -> str | None:
    return base64.b64encode(schema.serialize().to_pybytes()).decode() if schema is not None else None


def _schema_from_text(text: str | None) -> pa.Schema | None:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text))) if text else None
