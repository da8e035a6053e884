"""What the landing sensor sees: settled files whose content is not published yet, keyed by content.

Read-only towards the landing folder and the staged tree. The only file written is the sensor's own hash cache
(`state/<ds>/sensor-hashes.json`), so a file is hashed once, not on every tick.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from upload_pipeline.config import DatasetConfig
from upload_pipeline.hashing import sha256_file
from upload_pipeline.landing import discover
from upload_pipeline.staging import read_shards
from upload_pipeline.state import read_json, write_json_atomic
from upload_pipeline.steps import DatasetPaths, withdrawn_hashes


@dataclass
class Landing:
    fingerprint: str  # digest of the settled files' (path, size, mtime): changes whenever the landing does
    new_hashes: list[str] = field(default_factory=list)
    new_files: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    oldest_new_mtime: float | None = None

    @property
    def batch_key(self) -> str | None:
        """The same new content gives the same key, whatever the files are called."""
        if not self.new_hashes:
            return None
        return hashlib.sha256("\n".join(self.new_hashes).encode()).hexdigest()[:32]


def look(ds: DatasetConfig, paths: DatasetPaths, now: float) -> Landing:
    found = discover(ds, paths.landing, now)
    listing = [(f.relpath, f.size, f.mtime_ns) for f in found.files]
    landing = Landing(hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:32], unsettled=found.unsettled)
    done = {sha for s in read_shards(ds, paths.staged) for sha in s.sources}
    done |= withdrawn_hashes(paths)
    empty, rejected, judged_ns = _judged(paths)
    done |= empty
    cache_file = paths.file("sensor-hashes.json")
    cache = {**read_json(paths.file("validated.json"), {}), **read_json(cache_file, {})}
    fresh = {}
    new: dict[str, str] = {}
    for f in found.files:
        hit = cache.get(f.relpath)
        if hit and (hit["size"], hit["mtime_ns"]) == (f.size, f.mtime_ns):
            sha = hit["sha256"]
        else:
            sha = sha256_file(f.path)
        fresh[f.relpath] = {"size": f.size, "mtime_ns": f.mtime_ns, "sha256": sha}
        # A file the last landing run rejected, untouched since, would only be rejected again. Its ctime, not its
        # mtime, says so: copying tools keep mtimes, nothing sets a ctime back.
        if f.relpath in rejected and f.path.stat().st_ctime_ns <= judged_ns:
            continue
        if sha not in done and f.size > 0:
            new.setdefault(sha, f.relpath)
            mtime = f.mtime_ns / 1e9
            # `is None`, not falsy: a file dated the epoch (mtime 0) is the oldest there is, not "none yet".
            oldest = landing.oldest_new_mtime
            landing.oldest_new_mtime = mtime if oldest is None else min(oldest, mtime)
    if fresh != read_json(cache_file, {}):
        write_json_atomic(cache_file, fresh)
    landing.new_hashes = sorted(new)
    landing.new_files = sorted(new.values())
    return landing


def _judged(paths: DatasetPaths) -> tuple[set[str], set[str], int]:
    """What the last landing run found to have nothing to publish: the hashes of valid files without rows, the
    paths it rejected, and when it wrote that down. Left out of batches, such files would otherwise ask for a
    run on every new batch, and their old mtime would let a batch skip the wait for files still being written."""
    record = paths.file("landed.json")
    data = read_json(record)
    if data is None:
        return set(), set(), 0
    empty = {f["sha256"] for f in data["files"] if f["status"] == "empty"}
    return empty, {r["relpath"] for r in data["rejected"]}, record.stat().st_mtime_ns
