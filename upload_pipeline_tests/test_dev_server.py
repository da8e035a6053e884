"""End to end under a real `dagster dev` with the repo's dagster.yaml: a file lands, the sensor publishes it; the
same content again does not; a publish run whose process is killed is retried and the dataset keeps publishing."""

from __future__ import annotations

import os
import shutil
import signal
import time

import datasets
import psutil
import pytest

from upload_pipeline.state import locked
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


def process_holding(path, group: int) -> psutil.Process | None:
    """The process of the process group `group` (dagster dev's) that has `path` open."""
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == group and any(f.path == str(path) for f in proc.open_files()):
                return proc
        except (psutil.Error, ProcessLookupError):
            continue
    return None


@pytest.mark.timeout(600)
def test_a_publish_run_killed_midway_is_retried_and_the_dataset_keeps_publishing(tmp_path):
    """A dead run keeps the pool slots its steps claimed (staging/<ds>): without run monitoring freeing them, its
    retry and every later publish of the dataset waited in the queue for good."""
    sample_project(tmp_path)
    lock = tmp_path / "data" / "state" / "sample" / "staging.lock"
    with DagsterDev(tmp_path) as dev:
        with locked(lock):  # the first run's landed_files step waits here, holding its staging/sample slot
            deadline, worker = time.monotonic() + 120, None
            while worker is None and time.monotonic() < deadline:
                time.sleep(1)
                worker = process_holding(lock, dev.proc.pid)
            assert worker is not None, "no publish run reached landed_files"
            [killed] = [r["runId"] for r in dev.runs()]
            worker.send_signal(signal.SIGKILL)
            worker.wait(30)
        datagen.write(tmp_path / "data/process/sample/train/part-late.parquet", 50, seed=3, start_id=90_000)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            runs = {r["runId"]: (r["status"], r["rootRunId"]) for r in dev.runs()}
            retried = ("SUCCESS", killed) in runs.values()  # run_retries' re-execution of the killed run
            idle = not {"QUEUED", "STARTED"} & {status for status, _ in runs.values()}
            if runs[killed][0] == "FAILURE" and retried and idle and datasets.load_dataset(
                    str(tmp_path / "data/remote/hub/local/sample"))["train"].num_rows == 3050:
                return
            time.sleep(3)
        raise AssertionError(f"180 s after run {killed[:8]} was killed: runs {runs}")
