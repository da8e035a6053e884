"""File landed → published latency under a real `dagster dev`, and the landing sensor's tick time.

Latency: each drop writes one new parquet file into the sample's landing folder and waits for the sensor's run
to finish; the figure is run end − file written. The sensor ticks every 2 s and files settle after 1 s here,
so most of it is the sensor daemon's loop (at most every 5 s) and the run's start; the run itself is in-process
(one process for all its steps).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from upload_pipeline import sensors
from upload_pipeline.config_file import load_config
from upload_pipeline.steps import DatasetPaths
from upload_pipeline_tests import datagen
from upload_pipeline_tests.dev_server import DagsterDev, sample_project


def landing_latency(drops: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="upload-pipeline-latency-") as tmp:
        root = Path(tmp)
        sample_project(root)
        landing = root / "data" / "process" / "sample" / "train"
        out = []
        with DagsterDev(root) as dev:
            dev.wait_for_run(set())  # the initial publish of the sample
            for i in range(drops):
                known = {r["runId"] for r in dev.runs()}
                written = time.time()
                datagen.write(landing / f"drop-{i:03d}.parquet", 500, seed=100 + i, start_id=100_000 + 500 * i)
                run = dev.wait_for_run(known)
                out.append(run["endTime"] - written)
        return out


def sensor_tick(files: int) -> dict:
    """Tick time with `files` settled files in the landing folder: cold (hashing each) and warm (cached)."""
    with tempfile.TemporaryDirectory(prefix="upload-pipeline-tick-") as tmp:
        root = Path(tmp)
        config = sample_project(root)
        landing = root / "data" / "process" / "sample" / "train"
        small = datagen.table(5, seed=1)
        for i in range(files):
            pq.write_table(small, landing / f"f-{i:05d}.parquet")
        old = time.time() - 3600
        for p in landing.iterdir():
            os.utime(p, (old, old))
        cfg = load_config(config, environ={})
        ds = cfg.datasets[0]
        paths = DatasetPaths(root / "data/process/sample", root / "data/staging/sample", root / "data/state/sample")
        timings = {}
        with dg.instance_for_test() as instance:
            for label in ("cold", "warm", "warm2"):
                t = time.perf_counter()
                sensors.evaluate(dg.build_sensor_context(instance=instance), cfg, ds, paths, time.time())
                timings[label] = time.perf_counter() - t
        return {"files": files, **timings}


def tables(latencies: list[float], tick: dict) -> str:
    return "\n".join([
        "| drops | median | min | max |", "|---:|---:|---:|---:|",
        f"| {len(latencies)} | {statistics.median(latencies):.1f} s | {min(latencies):.1f} s | "
        f"{max(latencies):.1f} s |", "",
        "| files in the landing folder | first tick (hashes every file) | next ticks (cached) |", "|---:|---:|---:|",
        f"| {tick['files']} | {tick['cold']:.2f} s | {min(tick['warm'], tick['warm2']):.2f} s |"])
