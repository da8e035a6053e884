"""The audit trail's lines: what a publish changed, and what a stopped run's noted plan had done already."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from upload_pipeline.audit import audit_file, note_plan, record_publish, settle
from upload_pipeline.providers.base import SyncPlan, SyncResult, Upload
from upload_pipeline.state import read_jsonl

TARGET = "s3://bucket/datasets/ds"


def plan(uploads: list[str] = (), deletes: list[str] = ()) -> SyncPlan:
    return SyncPlan(TARGET, uploads=[Upload(p, 1, "0" * 64) for p in uploads], deletes=list(deletes))


def test_a_publish_line_names_what_was_added_and_deleted_and_the_objects_uris(tmp_path):
    result = SyncResult(plan(["data/a.parquet"], ["data/old.parquet"]), url=TARGET, bytes_sent=7,
                        metadata={"s3_uris": [f"{TARGET}/data/a.parquet"]})
    record_publish(tmp_path, run_id="run1", dataset="ds", role="s3", result=result)
    [line] = read_jsonl(audit_file(tmp_path))
    assert (line["files_added"], line["files_deleted"], line["bytes"]) == (["data/a.parquet"], ["data/old.parquet"], 7)
    assert line["uris"] == [f"{TARGET}/data/a.parquet"]


@pytest.fixture
def tokyo(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_time_of_a_line_is_utc_whatever_the_local_timezone(tmp_path, tokyo):
    record_publish(tmp_path, run_id="run1", dataset="ds", role="hub", result=SyncResult(plan(["README.md"]), "x"))
    [line] = read_jsonl(audit_file(tmp_path))
    written = dt.datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs(written - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_settle_writes_what_a_stopped_run_had_done_and_leaves_out_what_is_still_to_do(tmp_path):
    pending = tmp_path / "ds" / "audit-pending"
    note_plan(pending, run_id="stopped", role="s3", plan=plan(["README.md", "data/a.parquet"], ["x", "y"]))
    # This run still had to upload the shard and delete y: the stopped run did the rest.
    now = SyncResult(plan(["data/a.parquet"], ["y"]), url=TARGET, commit_id=None)
    [line] = settle(tmp_path, pending, run_id="now", dataset="ds", role="s3", result=now)
    assert (line["run_id"], line["files_added"], line["files_deleted"]) == ("stopped", ["README.md"], ["x"])
    assert read_jsonl(audit_file(tmp_path)) == [{**line, "recovered": True}]
    assert not list(pending.iterdir())


def test_a_stopped_run_that_only_deleted_gets_its_line(tmp_path):
    pending = tmp_path / "ds" / "audit-pending"
    note_plan(pending, run_id="stopped", role="hub", plan=plan(deletes=["data/gone.parquet"]))
    [line] = settle(tmp_path, pending, run_id="now", dataset="ds", role="hub", result=SyncResult(plan(), TARGET))
    assert (line["files_added"], line["files_deleted"]) == ([], ["data/gone.parquet"])
