"""The staged tree `staging/<dataset>/`: exactly what the Hub repo holds (README.md + shards).

Shards are named `<data_dir>/<split>-<NNNNN>.parquet`, `data_dir` being `data` for the default config and the
config name otherwise (the layout `datasets.push_to_hub` uses). There is no `-of-<total>` in the name: the total
changes on every append, and append-only means a published shard never changes its path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from upload_pipeline import copying
from upload_pipeline.config import DatasetConfig
from upload_pipeline.copying import FOOTER_KEY
from upload_pipeline.hashing import sha256_file
from upload_pipeline.parquet_io import dataset_schema
from upload_pipeline.state import read_json, write_json_atomic

CARD_NAME = "README.md"
# `<split>-NNNNN.parquet`: five digits, more from shard 100000 on (`shard_path` pads to five).
SHARD_RE = re.compile(r"^(?P<split>\w+(?:\.\w+)*)-(?P<index>\d{5,})\.parquet$")


def data_dir(ds: DatasetConfig) -> str:
    return "data" if ds.config_name == "default" else ds.config_name


def shard_path(ds: DatasetConfig, split: str, index: int) -> str:
    return f"{data_dir(ds)}/{split}-{index:05d}.parquet"


def split_glob(ds: DatasetConfig, split: str) -> str:
    """The `data_files` pattern of a split in the card: matches its shards and nothing else."""
    return f"{data_dir(ds)}/{split}-*"


@dataclass(frozen=True)
class Shard:
    path: str  # relative to the staged tree, posix
    split: str
    index: int
    rows: int
    size: int
    arrow_bytes: int
    sources: tuple[str, ...]  # sha256 of the landed files whose rows it holds


def read_shards(ds: DatasetConfig, root: Path) -> list[Shard]:
    """The dataset's staged shards, from their parquet footers (the record of what has been published).

    A shard copied from a landed file as it is (`copying`) has no such footer; its source is its own hash.
    """
    folder = root / data_dir(ds)
    if not folder.is_dir():
        return []
    shards = []
    copied = copying.read_records(folder)
    for path in sorted(folder.iterdir()):
        match = SHARD_RE.match(path.name)
        if not match or match["split"] not in ds.splits:
            continue
        meta = pq.read_metadata(path)
        own = (meta.metadata or {}).get(FOOTER_KEY)
        # The record of a copy wins over a footer: a landed file that was one of our shards (another dataset's)
        # was copied with its footer before `copying.misfit` refused such files, and that footer is not its own.
        if own is not None and not copying.is_recorded(path, copied.get(path.name)):
            record = json.loads(own)
            sources, arrow_bytes = tuple(record["sources"]), int(record["arrow_bytes"])
        else:  # a landed file copied as it is: its own hash is its source
            sha, arrow_bytes = copying.copied_shard_facts(path, copied.get(path.name))
            sources = (sha,)
        shards.append(Shard(path.relative_to(root).as_posix(), match["split"], int(match["index"]),
                            meta.num_rows, path.stat().st_size, arrow_bytes, sources))
    return shards


def shards_schema(root: Path, shards: list[Shard]) -> pa.Schema | None:
    if not shards:
        return None
    # Through dataset_schema: a copied shard keeps its writer's metadata and non-nullable fields.
    return dataset_schema(pq.read_schema(root / shards[0].path))


@dataclass(frozen=True)
class StagedFile:
    path: str
    size: int
    sha256: str


def hashed_tree(root: Path, cache_file: Path | None = None) -> dict[str, StagedFile]:
    """Every file under `root` with its sha256, hidden files and folders (`.hub/`, temp files) aside.

    Hashes are cached by (size, mtime) in `cache_file`, so an unchanged tree is not read again.
    """
    cache = read_json(cache_file, {}) if cache_file else {}
    fresh: dict[str, dict] = {}
    tree: dict[str, StagedFile] = {}
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            stat = path.stat()
            hit = cache.get(rel)
            if hit and (hit["size"], hit["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns):
                sha = hit["sha256"]
            else:
                sha = sha256_file(path)
            fresh[rel] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}
            tree[rel] = StagedFile(rel, stat.st_size, sha)
    if cache_file and fresh != cache:
        write_json_atomic(cache_file, fresh)
    return tree


def remember_hashes(root: Path, cache_file: Path, hashes: dict[str, str]) -> None:
    """Put hashes computed while writing files under `root` into the cache `hashed_tree` reads."""
    cache = read_json(cache_file, {})
    for rel, sha in hashes.items():
        stat = (root / rel).stat()
        cache[rel] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}
    write_json_atomic(cache_file, cache)
