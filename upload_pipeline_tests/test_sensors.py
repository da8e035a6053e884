"""Landing sensors: content-hash batches, settling, batching while files arrive, retries of failed batches."""

from __future__ import annotations

import os
import shutil
import time

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
import yaml

from upload_pipeline import sensors
from upload_pipeline.definitions import build_definitions
from upload_pipeline.staging import read_shards
from upload_pipeline_tests import datagen
from upload_pipeline_tests.conftest import settle


def tick(workspace, instance, now=None, cursor=None) -> dg.SensorResult:
    cfg = workspace.config()
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
    return sensors.evaluate(ctx, cfg, cfg.datasets[0], workspace.paths(), time.time() if now is None else now)


def reason(result: dg.SensorResult) -> str:
    return result.skip_reason.skip_message if result.skip_reason else ""


def publish(workspace, instance) -> dg.ExecuteInProcessResult:
    defs = build_definitions(workspace.config(), environ={})
    return defs.resolve_job_def("publish_ds").execute_in_process(instance=instance)


def test_new_files_make_one_run_request_keyed_by_content(workspace):
    instance = dg.DagsterInstance.ephemeral()
    assert reason(tick(workspace, instance))
    workspace.land("train/a.parquet", rows=10)
    workspace.land("train/b.parquet", rows=10, seed=1)
    result = tick(workspace, instance)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.tags[sensors.BATCH_TAG] and request.run_key.startswith(request.tags[sensors.BATCH_TAG])
    # renaming files changes the listing (and the cursor) and their order, but not the content: the same batch key
    os.rename(workspace.landing / "train/b.parquet", workspace.landing / "train/0.parquet")
    again = tick(workspace, instance)
    assert again.run_requests[0].run_key == request.run_key and again.cursor != result.cursor


def test_published_content_dropped_again_requests_nothing(workspace):
    instance = dg.DagsterInstance.ephemeral()
    a = workspace.land("train/a.parquet", rows=10)
    assert publish(workspace, instance).success
    assert "nothing new" in reason(tick(workspace, instance))
    shutil.copy(a, workspace.landing / "train/a-again.parquet")
    os.utime(workspace.landing / "train/a-again.parquet", (time.time() - 3600,) * 2)
    assert "nothing new" in reason(tick(workspace, instance))


def test_a_file_still_being_written_is_not_listed_and_holds_the_batch_back(workspace):
    instance = dg.DagsterInstance.ephemeral()
    a = workspace.land("train/a.parquet", rows=10)
    os.utime(a, (time.time() - 10,) * 2)  # settled (5 s), landed well within max_batch_wait (300 s)
    writing = workspace.landing / "train/b.parquet"
    writing.write_bytes(b"PAR1partial")  # being written right now
    held = tick(workspace, instance)
    assert "wait for 1 still being written" in reason(held)
    # past max_batch_wait the settled files go anyway
    workspace.config_file.write_text(workspace.config_file.read_text() + "automation: {max_batch_wait_seconds: 0}\n")
    assert len(tick(workspace, instance).run_requests) == 1


def test_the_batch_wait_counts_from_the_oldest_new_file(workspace):
    instance = dg.DagsterInstance.ephemeral()
    workspace.land("train/a.parquet", rows=10)  # landed an hour ago, past max_batch_wait (300 s)
    b = workspace.land("train/b.parquet", rows=10, seed=1)
    os.utime(b, (time.time() - 10,) * 2)
    (workspace.landing / "train/c.parquet").write_bytes(b"PAR1partial")
    assert len(tick(workspace, instance).run_requests) == 1


def test_a_file_dated_the_epoch_has_waited_past_the_batch_wait(workspace):
    # Reproducible-build tools date files 1970-01-01 (mtime 0): that is long ago, not "no new file yet".
    a = workspace.land("train/a.parquet", rows=10)
    os.utime(a, (0, 0))
    (workspace.landing / "train/b.parquet").write_bytes(b"PAR1partial")
    assert len(tick(workspace, dg.DagsterInstance.ephemeral()).run_requests) == 1


def add_run(instance, key: str, status: dg.DagsterRunStatus, job: str = "publish_ds") -> dg.DagsterRun:
    return instance.create_run_for_job(dg.GraphDefinition(job, node_defs=[]).to_job(), tags={sensors.BATCH_TAG: key},
                                status=status)


def test_a_batch_with_a_run_is_not_requested_again_but_a_failed_one_is_retried(workspace):
    instance = dg.DagsterInstance.ephemeral()
    workspace.land("train/a.parquet", rows=10)
    request = tick(workspace, instance).run_requests[0]
    key = request.tags[sensors.BATCH_TAG]
    add_run(instance, key, dg.DagsterRunStatus.SUCCESS)
    assert "already has a run" in reason(tick(workspace, instance))
    instance.wipe()
    add_run(instance, key, dg.DagsterRunStatus.SUCCESS, job="publish_other")  # same content, another dataset
    assert len(tick(workspace, instance).run_requests) == 1
    for attempt in range(3):
        add_run(instance, key, dg.DagsterRunStatus.FAILURE)
        result = tick(workspace, instance)
        if attempt < 2:
            assert result.run_requests[0].run_key == f"{key}-{attempt + 1}"
        else:
            assert "failed 3 times" in reason(result)


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTED])
def test_new_files_wait_while_a_publish_run_of_the_dataset_is_not_finished(workspace, status):
    instance = dg.DagsterInstance.ephemeral()
    workspace.land("train/a.parquet", rows=10)
    add_run(instance, "an earlier batch", status)
    add_run(instance, "another dataset's batch", dg.DagsterRunStatus.STARTED, job="publish_other")
    held = tick(workspace, instance)
    assert not held.run_requests and "publish_ds run" in reason(held) and "1 new file(s) wait for it" in reason(held)
    instance.wipe()
    assert len(tick(workspace, instance).run_requests) == 1


def test_a_batch_waits_while_its_hub_repo_used_its_hourly_commit_budget(workspace):
    data = yaml.safe_load(workspace.config_file.read_text())
    # A second dataset publishing into the same repo (another config) spends the same budget.
    data["datasets"].append({**data["datasets"][0], "name": "other", "config_name": "other",
                             "hub": {"repo_id": "Tests/DS"},  # the Hub's names are not case-sensitive
                             "s3": {"bucket": "test-bucket", "prefix": "datasets/other"}})
    data["automation"] = {"max_hub_commits_per_hour": 2}
    workspace.config_file.write_text(yaml.safe_dump(data, sort_keys=False))
    instance = dg.DagsterInstance.ephemeral()
    defs = build_definitions(workspace.config(), environ={})
    workspace.land("train/a.parquet", rows=10)
    assert defs.resolve_job_def("publish_ds").execute_in_process(instance=instance).success
    assert defs.resolve_job_def("publish_ds").execute_in_process(instance=instance).success  # nothing new: no commit
    workspace.land("train/b.parquet", rows=10, seed=1)
    assert len(tick(workspace, instance).run_requests) == 1  # one commit of two
    # A publish of the other dataset, queued or running, is to take the second.
    going = add_run(instance, "the other's batch", dg.DagsterRunStatus.STARTED, job="publish_other")
    held = tick(workspace, instance)
    assert "had 1 commits in the last hour and 1 publish run(s) of it not finished" in reason(held)
    instance.delete_run(going.run_id)
    datagen.write(workspace.root / "process/other/train/a.parquet", 10, seed=2)
    settle(workspace.root / "process/other/train/a.parquet")
    assert defs.resolve_job_def("publish_other").execute_in_process(instance=instance).success
    held = tick(workspace, instance)
    assert not held.run_requests
    assert "tests/ds had 2 commits in the last hour (max_hub_commits_per_hour: 2)" in reason(held)
    # An hour after the first commit its slot is free again.
    assert len(tick(workspace, instance, now=time.time() + 3601).run_requests) == 1
    # A publish of the other dataset still running (on its S3 copy) whose Hub commit is made counts once.
    going = add_run(instance, "the other's next batch", dg.DagsterRunStatus.STARTED, job="publish_other")
    instance.report_dagster_event(DagsterEvent(
        DagsterEventType.ASSET_MATERIALIZATION.value, job_name="publish_other",
        event_specific_data=StepMaterializationData(dg.AssetMaterialization(
            ["other", "hub_copy"], metadata={"commit_id": "c" * 40, "noop": False}))), run_id=going.run_id)
    held = tick(workspace, instance)
    assert "had 3 commits in the last hour (max_hub_commits_per_hour: 2)" in reason(held)  # not a 4th for the run


def test_a_publish_committed_in_parts_and_the_delete_job_count_every_commit(workspace):
    workspace.config_file.write_text(workspace.config_file.read_text()
                                     + "automation: {max_hub_commits_per_hour: 5}\n")
    instance = dg.DagsterInstance.ephemeral()
    # What hub_copy reports after 3 part commits to a pull request and its merge
    instance.report_runless_asset_event(dg.AssetMaterialization(
        ["ds", "hub_copy"], metadata={"commit_id": "c" * 40, "noop": False, "commits": 3}))
    workspace.land("train/a.parquet", rows=10)
    assert len(tick(workspace, instance).run_requests) == 1
    # What the delete job records: a delete that found nothing makes no commit, one that deleted files does
    for deleted in ([], ["data/test-00000.parquet"]):
        instance.report_runless_asset_event(dg.AssetObservation(
            ["ds", "hub_copy"], metadata={"deleted": dg.MetadataValue.json(deleted), "commit_id": "d" * 40}))
    assert "had 5 commits in the last hour" in reason(tick(workspace, instance))


def test_files_the_last_run_found_nothing_to_publish_in_ask_for_no_run_until_rewritten(workspace):
    instance = dg.DagsterInstance.ephemeral()
    workspace.land("train/a.parquet", rows=10)
    workspace.land("train/empty.parquet", rows=0, seed=1)
    bad = workspace.landing / "train/bad.parquet"
    bad.write_bytes(b"not parquet at all")
    settle(bad)
    assert len(tick(workspace, instance).run_requests) == 1
    assert publish(workspace, instance).success
    assert "nothing new" in reason(tick(workspace, instance))
    # A new file goes alone: the bad file's old mtime does not let its batch skip the wait for a file being written.
    workspace.land("train/b.parquet", rows=10, seed=2)
    os.utime(workspace.landing / "train/b.parquet", (time.time() - 10,) * 2)
    (workspace.landing / "train/c.parquet").write_bytes(b"PAR1partial")
    held = tick(workspace, instance)
    assert "1 new file(s) wait for 1 still being written" in reason(held)
    (workspace.landing / "train/c.parquet").unlink()
    # Rewritten (its old mtime kept, as copying tools do), the bad file is looked at again.
    bad.write_bytes(b"PAR1 still not parquet")
    settle(bad)
    assert tick(workspace, instance).run_requests


def test_the_sensor_is_on_by_default_and_a_switch_turns_it_off(workspace):
    defs = build_definitions(workspace.config(), environ={})
    sensor = defs.resolve_sensor_def("landing_ds")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 30
    workspace.config_file.write_text(workspace.config_file.read_text() + "automation: {sensors: false}\n")
    defs = build_definitions(workspace.config(), environ={})
    assert defs.resolve_sensor_def("landing_ds").default_status == dg.DefaultSensorStatus.STOPPED
    assert defs.resolve_sensor_def("publish_automation").default_status == dg.DefaultSensorStatus.STOPPED


def test_sensor_run_publishes_everything_in_one_run(workspace):
    instance = dg.DagsterInstance.ephemeral()
    workspace.land("train/a.parquet", rows=10)
    workspace.land("test/a.parquet", rows=5, seed=2)
    tick(workspace, instance)
    assert publish(workspace, instance).success
    log = (workspace.root / "remote/hub/tests/ds/.hub/commits.jsonl").read_text().splitlines()
    assert len(log) == 1  # both files, both splits: one commit
    assert sum(s.rows for s in read_shards(workspace.config().datasets[0], workspace.staged)) == 15


def test_a_rejected_file_fixed_in_place_asks_for_a_run_of_its_own(workspace):
    """A file the last run rejected, rewritten where it lies, is looked at again by itself: not left out until some
    other file happens to land."""
    instance = dg.DagsterInstance.ephemeral()
    workspace.land("train/a.parquet", rows=10)
    bad = workspace.landing / "train/b.parquet"
    bad.write_bytes(b"not parquet at all")
    settle(bad)
    assert publish(workspace, instance).success
    assert "nothing new" in reason(tick(workspace, instance))
    datagen.write(bad, 10, seed=1, start_id=10)
    settle(bad)
    assert len(tick(workspace, instance).run_requests) == 1


def test_files_the_delete_job_withdrew_ask_for_no_run(workspace):
    """Their rows were taken out on purpose and are never published again: no run is asked for them, and they do
    not join (or date) later batches."""
    instance = dg.DagsterInstance.ephemeral()
    workspace.land("train/a.parquet", rows=10)
    workspace.land("test/a.parquet", rows=5, seed=2)
    assert publish(workspace, instance).success
    defs = build_definitions(workspace.config(), environ={})
    rc = {"ops": {"delete_paths": {"config": {"dataset": "ds", "config_name": "default", "split": "test",
                                              "confirm": True}}}}
    assert defs.resolve_job_def("delete_from_hub").execute_in_process(run_config=rc, instance=instance).success
    assert "nothing new" in reason(tick(workspace, instance))


def test_a_batch_whose_run_was_canceled_is_asked_for_again(workspace):
    """A run someone canceled (a stuck upload, say) did not publish its batch: like a failed one it is retried,
    not taken for a batch that has its run, which would leave the files waiting until others land."""
    instance = dg.DagsterInstance.ephemeral()
    workspace.land("train/a.parquet", rows=10)
    key = tick(workspace, instance).run_requests[0].tags[sensors.BATCH_TAG]
    add_run(instance, key, dg.DagsterRunStatus.CANCELED)
    assert [r.run_key for r in tick(workspace, instance).run_requests] == [f"{key}-1"]
