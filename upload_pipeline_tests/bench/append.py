"""Benchmark 2: appending one file (5 % of the data) to a published dataset.

Each repetition publishes the landing set twice on the same Hub server, ours into one repo and push_to_hub into
another (those first publishes are timed too: ours is the "full publish" the append is compared with). Then the
append file lands: ours validates it, writes one new shard, rewrites the card and commits those two files;
the `datasets` user has no append, so loads the whole dataset again and pushes it to the same repo
(push_to_hub skips LFS objects the repo already has, so splits whose shards come out byte-identical are not
sent again). Bytes sent are the server's counters: every request body, LFS and commit payloads included.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from upload_pipeline_tests.bench import hub_publish, workspace
from upload_pipeline_tests.bench.landing_set import LandingSet
from upload_pipeline_tests.bench.measure import mb, medians, ratio, rotate, secs, verdict
from upload_pipeline_tests.bench.servers import ServerProcess
from upload_pipeline_tests.hub_server.testing import local_hub_clients

CASES = ("ours", "push_to_hub")
TARGET_BYTES, TARGET_WALL = 1.2, 0.15


def run(landing: LandingSet, hub: ServerProcess, work: Path, reps: int) -> dict[str, Any]:
    results: list[dict[str, dict]] = []
    with local_hub_clients(hub.info, work / "hf_home"):
        for r in range(reps):
            rep: dict[str, dict] = {}
            for case in rotate(CASES, r):
                if case == "ours":
                    rep["ours_full"], rep["ours"] = _ours(hub, landing, work / f"append-ours-{r}",
                                                          f"bench/append-ours-{r}")
                else:
                    rep["push_full"], rep[case] = _push(hub, landing, work / f"append-cache-{r}",
                                                        f"bench/append-push-{r}")
            results.append(rep)
    return {"input_bytes": landing.bytes, "append_bytes": landing.append_file.stat().st_size, "reps": results,
            "median": medians(results)}


def _ours(hub: ServerProcess, landing: LandingSet, folder: Path, repo: str) -> tuple[dict, dict]:
    paths = workspace.folder(folder, landing)
    full = _counted(hub, lambda: hub_publish.ours(hub, paths, repo))
    workspace.link_into(paths.landing, landing.append_file)
    t = time.perf_counter()
    append = _counted(hub, lambda: hub_publish.ours(hub, paths, repo))
    append["wall_s"] = time.perf_counter() - t
    return full, append


def _push(hub: ServerProcess, landing: LandingSet, cache: Path, repo: str) -> tuple[dict, dict]:
    files = landing.split_files()
    full = _counted(hub, lambda: hub_publish.push_to_hub(files, repo, cache))
    files["train"].append(landing.append_file)
    again = _counted(hub, lambda: hub_publish.push_to_hub(files, repo, cache))
    again["wall_s"] = again["total_s"]
    return full, again


def _counted(hub: ServerProcess, fn) -> dict[str, Any]:
    before = hub.counters()
    return fn() | hub_publish.sent(hub, before)


def table(res: dict[str, Any]) -> str:
    m = res["median"]
    o, p, full, pfull = m["ours"], m["push_to_hub"], m["ours_full"], m["push_full"]
    lines = [
        f"Append of one file of {mb(res['append_bytes'])} to {mb(res['input_bytes'])} already published.",
        "",
        "| case | bytes sent (median) | × new shard bytes | wall time | × ours' full publish | "
        "× push_to_hub again |",
        "|---|---:|---:|---:|---:|---:|",
        f"| **ours**: one new shard ({mb(o['new_shard_bytes'])}) + card, one commit | {mb(o['bytes_sent'])} | "
        f"{ratio(o['bytes_sent'], o['new_shard_bytes']):.2f}× | {secs(o['wall_s'])} | "
        f"{ratio(o['wall_s'], full['total_s']):.2f}× | {ratio(o['wall_s'], p['wall_s']):.2f}× |",
        f"| `datasets`: load_dataset + push_to_hub of the whole dataset again | {mb(p['bytes_sent'])} | "
        f"{ratio(p['bytes_sent'], o['new_shard_bytes']):.2f}× | {secs(p['wall_s'])} | "
        f"{ratio(p['wall_s'], full['total_s']):.2f}× | 1.00× |",
        f"| (reference) ours, full publish of the dataset | {mb(full['bytes_sent'])} | — | "
        f"{secs(full['total_s'])} | 1.00× | {ratio(full['total_s'], p['wall_s']):.2f}× |",
        f"| (reference) push_to_hub, first publish | {mb(pfull['bytes_sent'])} | — | {secs(pfull['total_s'])} | "
        f"{ratio(pfull['total_s'], full['total_s']):.2f}× | {ratio(pfull['total_s'], p['wall_s']):.2f}× |",
        "",
        f"Bytes: {verdict(ratio(o['bytes_sent'], o['new_shard_bytes']), TARGET_BYTES)}. "
        f"Wall: {verdict(ratio(o['wall_s'], full['total_s']), TARGET_WALL)} of a full publish.",
    ]
    return "\n".join(lines)
