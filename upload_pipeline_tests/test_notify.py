"""Failure notifications: posted to Slack through SlackResource when configured, logged otherwise."""

from __future__ import annotations

import os

import dagster as dg
from dagster_slack import SlackResource

from upload_pipeline.definitions import build_definitions


class RecordingSlackClient:
    def __init__(self):
        self.posts = []

    def chat_postMessage(self, **kwargs):  # noqa: N802 - slack_sdk's name
        self.posts.append(kwargs)


class FakeSlack(SlackResource):
    """The real resource class with the client swapped at its boundary (no network)."""

    def get_client(self):
        return CLIENT


CLIENT = RecordingSlackClient()


def failed_run(workspace, instance):
    workspace.dataset(on_bad_file="fail")
    (workspace.landing / "train").mkdir(parents=True)
    (workspace.landing / "train" / "bad.parquet").write_bytes(b"nope")
    os.utime(workspace.landing / "train" / "bad.parquet", (0, 0))
    defs = build_definitions(workspace.config(), environ={"SLACK_BOT_TOKEN": "xoxb-test"})
    result = defs.resolve_job_def("publish_ds").execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return defs, result


def test_failure_is_posted_to_slack(workspace):
    workspace.config_file.write_text(workspace.config_file.read_text() + "automation: {slack_channel: '#data'}\n")
    instance = dg.DagsterInstance.ephemeral()
    defs, result = failed_run(workspace, instance)
    sensor = defs.resolve_sensor_def("notify_failures")
    context = dg.build_run_status_sensor_context(
        sensor_name="notify_failures", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(), resources={"slack": FakeSlack(token="xoxb-test")},
    ).for_run_failure()
    sensor(context)
    assert CLIENT.posts[-1]["channel"] == "#data"
    assert f"run {result.run_id[:8]} of job publish_ds failed" in CLIENT.posts[-1]["text"]
    assert "xoxb-test" not in CLIENT.posts[-1]["text"]


def test_without_slack_the_failure_is_logged(workspace, caplog):
    instance = dg.DagsterInstance.ephemeral()
    defs, result = failed_run(workspace, instance)
    sensor = defs.resolve_sensor_def("notify_failures")
    assert "Logs failed runs" in sensor.description
    context = dg.build_run_status_sensor_context(
        sensor_name="notify_failures", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event()).for_run_failure()
    sensor(context)
    assert "of job publish_ds failed" in caplog.text
