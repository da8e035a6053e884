"""Benchmark 1: a full publish to the Hub — ours against what a user would otherwise run.

* ours: validate + shard + card + one commit (`workspace.publish`), in a fresh working folder;
* push_to_hub: `datasets.load_dataset("parquet", data_files=...)` of the landed files, then
  `DatasetDict.push_to_hub` — each repetition with its own, empty `datasets` cache (deleted after), so every
  one pays the parquet → Arrow conversion a first-time user pays;
* upload_folder: `HfApi.upload_folder` of our staged tree alone (no validation, no sharding): the floor for
  moving those bytes with huggingface_hub;
* ours with snappy: ours with `compression: snappy`, the codec `datasets` writes, so the pipeline and
  push_to_hub can be compared apart from the codec (zstd encodes slower and sends fewer bytes);
* ours copying fitting files: `copy_fitting_files: true` with `compression: snappy`, so the landed files (snappy,
  100 000-row row groups) fit and are staged as they are instead of rewritten;
* upload_folder of that case's staged tree: its own floor, since its shards are other bytes (the landed files).

Each case publishes to a new repo on the same local Hub server; bytes sent are the server's own counters.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi

from upload_pipeline.providers.hf_hub import HfHubResource
from upload_pipeline.steps import DatasetPaths
from upload_pipeline_tests.bench import workspace
from upload_pipeline_tests.bench.landing_set import LandingSet
from upload_pipeline_tests.bench.measure import mb, median_rep, medians, ratio, rotate, secs, verdict
from upload_pipeline_tests.bench.servers import ServerProcess
from upload_pipeline_tests.hub_server.testing import DEFAULT_TOKEN, local_hub_clients

CASES = ("ours", "upload_folder", "push_to_hub", "ours_snappy", "ours_copy", "upload_folder_copy")
TARGET_VS_PUSH, TARGET_VS_FOLDER = 0.5, 1.3


def run(landing: LandingSet, hub: ServerProcess, work: Path, reps: int) -> dict[str, Any]:
    results: list[dict[str, dict]] = []
    # The latest staged tree of ours and of ours_copy; rotation never puts an upload_folder before its first one.
    staged: dict[str, Path] = {}
    with local_hub_clients(hub.info, work / "hf_home"):
        for r in range(reps):
            rep: dict[str, dict] = {}
            for case in rotate(CASES, r):
                before = hub.counters()
                if case == "ours":
                    paths = workspace.folder(work / f"ours-{r}", landing)
                    rep[case] = ours(hub, paths, f"bench/ours-{r}")
                    staged[case] = paths.staged
                elif case == "ours_snappy":
                    paths = workspace.folder(work / f"snappy-{r}", landing)
                    rep[case] = ours(hub, paths, f"bench/snappy-{r}", compression="snappy")
                elif case == "ours_copy":
                    paths = workspace.folder(work / f"copy-{r}", landing)
                    rep[case] = ours(hub, paths, f"bench/copy-{r}", compression="snappy", copy_fitting_files=True)
                    staged[case] = paths.staged
                elif case == "upload_folder":
                    rep[case] = upload_folder(hub, staged["ours"], f"bench/folder-{r}")
                elif case == "upload_folder_copy":
                    rep[case] = upload_folder(hub, staged["ours_copy"], f"bench/folder-copy-{r}")
                else:
                    rep[case] = push_to_hub(landing.split_files(), f"bench/push-{r}", work / f"cache-{r}")
                rep[case] |= sent(hub, before)
            results.append(rep)
    return {"input_bytes": landing.bytes, "files": len(landing.files), "reps": results, "median": medians(results)}


def ours(hub: ServerProcess, paths: DatasetPaths, repo: str, compression: str = "zstd",
         copy_fitting_files: bool = False) -> dict[str, Any]:
    ds = workspace.dataset(hub_repo=repo).model_copy(update={"compression": compression,
                                                             "copy_fitting_files": copy_fitting_files})
    provider = HfHubResource(token=DEFAULT_TOKEN, endpoint=hub.info)
    return workspace.publish(provider, ds.hub, ds, paths, "hub")


def upload_folder(hub: ServerProcess, staged: Path, repo: str) -> dict[str, Any]:
    api = HfApi(endpoint=hub.info, token=DEFAULT_TOKEN)
    t = time.perf_counter()
    api.create_repo(repo, repo_type="dataset")
    api.upload_folder(repo_id=repo, folder_path=staged, repo_type="dataset")
    return {"total_s": time.perf_counter() - t}


def push_to_hub(files: dict[str, list[Path]], repo: str, cache: Path) -> dict[str, Any]:
    """load_dataset + push_to_hub with `datasets`' defaults (500 MB shards, one process)."""
    import datasets

    t0 = time.perf_counter()
    dd = datasets.load_dataset("parquet", data_files={s: [str(p) for p in fs] for s, fs in files.items()},
                               cache_dir=str(cache))
    t1 = time.perf_counter()
    dd.push_to_hub(repo, token=DEFAULT_TOKEN)
    t2 = time.perf_counter()
    del dd
    shutil.rmtree(cache, ignore_errors=True)
    return {"load_s": t1 - t0, "push_s": t2 - t1, "total_s": t2 - t0}


def sent(hub: ServerProcess, before: dict[str, int]) -> dict[str, int]:
    after = hub.counters()
    return {"bytes_sent": after["request_bytes"] - before["request_bytes"],
            "lfs_bytes": after["lfs_bytes"] - before["lfs_bytes"], "commits": after["commits"] - before["commits"]}


def table(res: dict[str, Any], limits: dict[str, Any] | None = None) -> str:
    m = res["median"]
    o, f, p = m["ours"], m["upload_folder"], m["push_to_hub"]
    # Where the time goes: the parts of the median repetition, so they add up to the median shown.
    op, pp = median_rep(res["reps"], "ours"), median_rep(res["reps"], "push_to_hub")
    sn, sp = m["ours_snappy"], median_rep(res["reps"], "ours_snappy")
    cp, cpp, cf = m["ours_copy"], median_rep(res["reps"], "ours_copy"), m["upload_folder_copy"]
    lines = [
        "| case | wall time (median) | where the time goes | bytes sent | × push_to_hub | × upload_folder |",
        "|---|---:|---|---:|---:|---:|",
        f"| **ours**: validate + shard + card + commit | {secs(o['total_s'])} | validate {secs(op['validate_s'])}, "
        f"shard {secs(op['shard_s'])}, card {secs(op['card_s'])}, upload {secs(op['upload_s'])} | "
        f"{mb(o['bytes_sent'])} | {ratio(o['total_s'], p['total_s']):.2f}× | "
        f"{ratio(o['total_s'], f['total_s']):.2f}× |",
        f"| ours with snappy (`datasets`' codec) | {secs(sn['total_s'])} | validate {secs(sp['validate_s'])}, "
        f"shard {secs(sp['shard_s'])}, card {secs(sp['card_s'])}, upload {secs(sp['upload_s'])} | "
        f"{mb(sn['bytes_sent'])} | {ratio(sn['total_s'], p['total_s']):.2f}× | "
        f"{ratio(sn['total_s'], f['total_s']):.2f}× |",
        f"| ours with `copy_fitting_files` (landed files staged as they are; snappy) | {secs(cp['total_s'])} | "
        f"validate {secs(cpp['validate_s'])}, copy {secs(cpp['shard_s'])}, card {secs(cpp['card_s'])}, "
        f"upload {secs(cpp['upload_s'])} | {mb(cp['bytes_sent'])} | {ratio(cp['total_s'], p['total_s']):.2f}× | "
        f"{ratio(cp['total_s'], cf['total_s']):.2f}× its own |",
        f"| `datasets`: load_dataset + push_to_hub | {secs(p['total_s'])} | load_dataset {secs(pp['load_s'])}, "
        f"push_to_hub {secs(pp['push_s'])} | {mb(p['bytes_sent'])} | 1.00× | "
        f"{ratio(p['total_s'], f['total_s']):.2f}× |",
        f"| `HfApi.upload_folder` of our staged tree | {secs(f['total_s'])} | upload only | {mb(f['bytes_sent'])} | "
        f"{ratio(f['total_s'], p['total_s']):.2f}× | 1.00× |",
        f"| `HfApi.upload_folder` of the `copy_fitting_files` staged tree | {secs(cf['total_s'])} | upload only | "
        f"{mb(cf['bytes_sent'])} | {ratio(cf['total_s'], p['total_s']):.2f}× | 1.00× for that case |",
    ]
    if limits:
        floor = limits["parquet"]["rewrite_s"] + o["lfs_bytes"] / (limits["hub_put"]["mb_s"] * 1e6)
        lines.append(f"| limit: pyarrow read + write of the landed files, then raw PUT of our shard bytes | "
                     f"{secs(floor)} | rewrite {secs(limits['parquet']['rewrite_s'])}, PUT at "
                     f"{limits['hub_put']['mb_s']:.0f} MB/s | — | {ratio(floor, p['total_s']):.2f}× | "
                     f"{ratio(floor, f['total_s']):.2f}× |")
    lines += ["", f"Ours vs push_to_hub: {verdict(ratio(o['total_s'], p['total_s']), TARGET_VS_PUSH)}. "
                  f"Ours vs upload_folder: {verdict(ratio(o['total_s'], f['total_s']), TARGET_VS_FOLDER)}; "
                  f"our upload step alone is {ratio(o['upload_s'], f['total_s']):.2f}× upload_folder. "
                  f"With `copy_fitting_files`: {verdict(ratio(cp['total_s'], p['total_s']), TARGET_VS_PUSH)} "
                  f"against push_to_hub, {verdict(ratio(cp['total_s'], cf['total_s']), TARGET_VS_FOLDER)} against "
                  "upload_folder of its own staged tree."]
    return "\n".join(lines)
