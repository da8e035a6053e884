"""Schedules: the nightly reconcile repairs drift; the optional publish schedule; bad cron is a config error."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from upload_pipeline.config import ConfigError
from upload_pipeline.definitions import build_definitions


def test_nightly_reconcile_is_on_and_repairs_drift(workspace):
    workspace.land("train/a.parquet", rows=10)
    defs = build_definitions(workspace.config(), environ={})
    schedule = defs.resolve_schedule_def("nightly_reconcile")
    assert schedule.cron_schedule == "0 3 * * *" and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("publish_ds").execute_in_process(instance=instance).success
    shard = workspace.root / "remote/s3/test-bucket/datasets/ds/data/train-00000.parquet"
    good = shard.read_bytes()
    shard.write_bytes(b"drifted")
    (shard.parent / "stray.parquet").write_bytes(b"x")

    with dg.build_schedule_context(instance=instance) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    result = defs.resolve_job_def(schedule.job_name).execute_in_process(
        instance=instance, run_config=request.run_config, tags=request.tags)
    assert result.success
    assert shard.read_bytes() == good and not (shard.parent / "stray.parquet").exists()
    checks = {e.asset_key.path[-1]: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"hub_copy": True, "s3_copy": True}


def test_publish_schedule_only_when_asked(workspace):
    assert [s.name for s in build_definitions(workspace.config(), environ={}).schedules] == ["nightly_reconcile"]
    workspace.config_file.write_text(workspace.config_file.read_text() +
                                     "automation: {publish_cron: '*/15 * * * *', reconcile_cron: ''}\n")
    names = [s.name for s in build_definitions(workspace.config(), environ={}).schedules]
    assert names == ["publish_ds_schedule"]


def test_each_dataset_gets_a_publish_schedule_of_its_own_job_at_the_publish_cron(workspace):
    data = yaml.safe_load(workspace.config_file.read_text())
    other = {**data["datasets"][0], "name": "other", "hub": None, "s3": {"bucket": "test-bucket", "prefix": "o"}}
    data["datasets"].append(other)
    data["automation"] = {"publish_cron": "*/15 * * * *"}
    workspace.config_file.write_text(yaml.safe_dump(data, sort_keys=False))
    defs = build_definitions(workspace.config(), environ={})
    assert {s.name: (s.cron_schedule, s.job_name) for s in defs.schedules} == {
        "nightly_reconcile": ("0 3 * * *", "reconcile"), "publish_ds_schedule": ("*/15 * * * *", "publish_ds"),
        "publish_other_schedule": ("*/15 * * * *", "publish_other")}
    assert {s.default_status for s in defs.schedules} == {dg.DefaultScheduleStatus.RUNNING}
    # the reconcile job syncs the copies there are: `other` has no Hub copy
    assert defs.resolve_job_def("reconcile").asset_layer.executable_asset_keys == {
        dg.AssetKey(["ds", "hub_copy"]), dg.AssetKey(["ds", "s3_copy"]), dg.AssetKey(["other", "s3_copy"])}


def test_the_automation_switch_starts_every_schedule_stopped(workspace):
    workspace.config_file.write_text(workspace.config_file.read_text() +
                                     "automation: {sensors: false, publish_cron: '*/15 * * * *'}\n")
    schedules = build_definitions(workspace.config(), environ={}).schedules
    assert {s.name: s.default_status for s in schedules} == {
        "nightly_reconcile": dg.DefaultScheduleStatus.STOPPED, "publish_ds_schedule": dg.DefaultScheduleStatus.STOPPED}


def test_a_bad_cron_names_the_file_and_key(workspace):
    workspace.config_file.write_text(workspace.config_file.read_text() + "automation: {reconcile_cron: 'often'}\n")
    with pytest.raises(ConfigError, match=r"\.yaml: automation\.reconcile_cron: 'often' is not a cron expression"):
        build_definitions(workspace.config(), environ={})
