"""What the landing sensor sees (watch.look): which settled files are new, hashed once, by content."""

from __future__ import annotations

import os
import time

import dagster as dg

from upload_pipeline import sensors, steps, watch
from upload_pipeline_tests.conftest import settle
from upload_pipeline_tests.test_sensors import publish, reason, tick


def test_an_empty_file_asks_for_no_run(workspace):
    empty = workspace.landing / "train/empty.parquet"
    empty.parent.mkdir(parents=True)
    empty.write_bytes(b"")
    settle(empty)
    assert "nothing new" in reason(tick(workspace, dg.DagsterInstance.ephemeral()))


def test_a_file_rewritten_in_place_at_the_same_size_is_hashed_again(workspace):
    instance = dg.DagsterInstance.ephemeral()
    a = workspace.land("train/a.parquet", rows=10)
    first = tick(workspace, instance).run_requests[0].tags[sensors.BATCH_TAG]
    a.write_bytes(bytes(byte ^ 0xFF for byte in a.read_bytes()))  # other content, same size
    os.utime(a, (time.time() - 7200,) * 2)
    assert tick(workspace, instance).run_requests[0].tags[sensors.BATCH_TAG] != first


def test_a_file_is_hashed_once_not_on_every_tick(workspace, monkeypatch):
    hashed = []
    monkeypatch.setattr(watch, "sha256_file", lambda path, real=watch.sha256_file: hashed.append(path) or real(path))
    instance = dg.DagsterInstance.ephemeral()
    workspace.land("train/a.parquet", rows=10)
    assert publish(workspace, instance).success
    assert "nothing new" in reason(tick(workspace, instance))  # the landing run's hash is taken as it is
    workspace.land("train/b.parquet", rows=10, seed=1)
    tick(workspace, instance)
    tick(workspace, instance)
    assert hashed == [workspace.landing / "train/b.parquet"]


def test_files_landed_by_a_run_that_stopped_before_the_shards_still_ask_for_a_run(workspace):
    workspace.land("train/a.parquet", rows=10)
    steps.land(workspace.config().datasets[0], workspace.paths())  # landed.json lists it, no shard holds it
    assert len(tick(workspace, dg.DagsterInstance.ephemeral()).run_requests) == 1
