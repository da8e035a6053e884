"""Peak RSS of the shard step at 1×, 2× and 4× an input size, against pyarrow's read-whole-file-then-write.

Inputs have 4 files of growing size. Each measurement runs in a fresh Python process so the figures do not
share an allocator's history. The peer, `pq.read_table` + `pq.write_table` per file, is what a script without
streaming does; its peak grows with the largest input file, ours should not grow with the input at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from upload_pipeline_tests import datagen

# VmHWM, not getrusage: Linux carries ru_maxrss across fork+exec, so a child would report the parent's peak
# (the data generator's) instead of its own.
_PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

_CHILD_OURS = _PEAK + """
import json, sys, time
from upload_pipeline import steps
from upload_pipeline.config_file import load_config
cfg = load_config(sys.argv[1], environ={})
ds = cfg.datasets[0]
paths = steps.DatasetPaths.of(cfg, ds)
t = time.perf_counter()
steps.land(ds, paths, now=time.time() + 3600)
run = steps.shard(ds, paths)
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": peak_mb(),
    "rows": sum(s.rows for s in run.all_shards), "shards": len(run.all_shards)}))
"""

_CHILD_PEER = _PEAK + """
import json, sys, time, pathlib
import pyarrow.parquet as pq
t = time.perf_counter()
out = pathlib.Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
for i, f in enumerate(sorted(pathlib.Path(sys.argv[1]).rglob("*.parquet"))):
    pq.write_table(pq.read_table(f), out / f"{i}.parquet", compression="zstd")
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": peak_mb()}))
"""


def make_input(folder: Path, megabytes: float, files: int) -> int:
    """About `megabytes` of parquet in `files` files; returns the bytes written."""
    rows_per_mb = 9300  # measured for datagen.table(text_words=40) with zstd-less default parquet settings
    per_file = int(megabytes * rows_per_mb / files)
    for i in range(files):
        # Row groups of 50k rows (a few MB), as streaming writers produce; the reader decodes one row group at
        # a time, so the input's row-group size, not its file or total size, is what any reader must hold.
        datagen.write(folder / "train" / f"part-{i:03d}.parquet", per_file, seed=i, start_id=i * per_file,
                      text_words=40, row_group_size=50_000)
    return sum(p.stat().st_size for p in folder.rglob("*.parquet"))


def _child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(workdir: Path, base_mb: float) -> list[dict]:
    results = []
    for factor in (1, 2, 4):
        root = workdir / f"x{factor}"
        landing = root / "process" / "bench"
        t = time.perf_counter()
        size = make_input(landing, base_mb * factor, files=4)
        made = time.perf_counter() - t
        config = root / "bench.yaml"
        config.write_text(yaml.safe_dump({
            "paths": {k: str(root / k) for k in ("landing", "staging", "state", "remote")} | {
                "landing": str(root / "process")},
            "datasets": [{"name": "bench", "splits": {"train": ["train/**"]}, "shard_size": "256MB"}]}))
        ours = _child(_CHILD_OURS, str(config))
        peer = _child(_CHILD_PEER, str(landing), str(root / "peer"))
        results.append({"factor": factor, "input_mb": size / 1e6, "generate_s": made, "ours": ours, "peer": peer})
    return results


def table(results: list[dict]) -> str:
    lines = ["| input | files | ours: peak RSS | ours: time | pyarrow read_table+write_table: peak RSS | time |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['input_mb']:.0f} MB | 4 | {r['ours']['rss_mb']:.0f} MB | "
                     f"{r['ours']['seconds']:.1f} s | {r['peer']['rss_mb']:.0f} MB | {r['peer']['seconds']:.1f} s |")
    return "\n".join(lines)
