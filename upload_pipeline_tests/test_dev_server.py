"""End to end under a real `dagster dev`: a file lands, the sensor publishes it; the same content again does not."""

from __future__ import annotations

import os
import shutil
import time

import datasets
import pytest

from upload_pipeline_tests import datagen
from upload_pipeline_tests.dev_server import DagsterDev, sample_project


@pytest.mark.timeout(600)
def test_a_landed_file_is_published_by_the_sensor_and_a_duplicate_is_not(tmp_path):
    sample_project(tmp_path)
    landing = tmp_path / "data" / "process" / "sample" / "train"
    with DagsterDev(tmp_path) as dev:
        assert dev.listening_addresses() and all(ip in ("127.0.0.1", "::1") for ip in dev.listening_addresses())
        first = dev.wait_for_run(set())  # the committed sample is new to this folder: the first tick publishes it
        assert first["jobName"] == "publish_sample"
        known = {r["runId"] for r in dev.runs()}

        new = datagen.write(landing / "part-100.parquet", 250, seed=42, start_id=10_000)
        second = dev.wait_for_run(known)
        assert any(t["key"] == "upload_pipeline/batch" for t in second["tags"])
        for tree in (tmp_path / "data/staging/sample", tmp_path / "data/remote/hub/local/sample"):
            assert datasets.load_dataset(str(tree))["train"].num_rows == 3250
        hub_log = tmp_path / "data/remote/hub/local/sample/.hub/commits.jsonl"
        assert len(hub_log.read_text().splitlines()) == 2

        known = {r["runId"] for r in dev.runs()}
        shutil.copy(new, landing / "part-100-again.parquet")
        os.utime(landing / "part-100-again.parquet")
        time.sleep(15)  # several sensor ticks (2 s interval) and the settle time
        assert {r["runId"] for r in dev.runs()} == known
        assert len(hub_log.read_text().splitlines()) == 2
    assert dev.proc.poll() is not None
