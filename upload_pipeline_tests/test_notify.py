"""Failure notifications: posted to Slack through SlackResource when configured, logged otherwise; the real
slack_sdk client talks to a stand-in Web API on loopback."""

from __future__ import annotations

import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
from dagster_slack import SlackResource
from slack_sdk import WebClient

from upload_pipeline.definitions import build_definitions


class SlackApiStub:
    """A stand-in Slack Web API on 127.0.0.1 for the real slack_sdk client: answers chat.postMessage with the
    queued (status, headers, body) replies in order, then with ok."""

    def __init__(self, replies):
        self.replies, self.posts = list(replies), []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                stub.posts.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
                status, headers, body = stub.replies.pop(0) if stub.replies else (200, {}, {"ok": True})
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def context(self, instance, result, run=None) -> dg.RunFailureSensorContext:
        """The failure sensor's context for `result`'s failed run (or `run`), with the Slack resource pointed
        here."""
        return dg.build_run_status_sensor_context(
            sensor_name="notify_failures", dagster_instance=instance, dagster_run=run or result.dagster_run,
            dagster_event=result.get_run_failure_event(),
            resources={"slack": StubbedSlack(token="xoxb-test", base_url=self.url)}).for_run_failure()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class StubbedSlack(SlackResource):
    """The real resource and client, pointed at the stub."""

    base_url: str

    def get_client(self):
        return WebClient(token=self.token, base_url=self.base_url)


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
    stub = SlackApiStub([])
    try:
        defs.resolve_sensor_def("notify_failures")(stub.context(instance, result))
    finally:
        stub.close()
    [post] = [json.loads(body) for body in stub.posts]
    assert post["channel"] == "#data"
    assert f"run {result.run_id[:8]} of job publish_ds failed" in post["text"] and "xoxb-test" not in post["text"]


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


def test_a_slack_channel_without_a_token_loads_and_logs_failures(workspace):
    workspace.config_file.write_text(workspace.config_file.read_text() + "automation: {slack_channel: '#data'}\n")
    defs = build_definitions(workspace.config(), environ={})
    dg.Definitions.validate_loadable(defs)
    assert "Logs failed runs" in defs.resolve_sensor_def("notify_failures").description


@pytest.mark.parametrize("replies, posted", [
    ([(429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})], True),  # retried, then posted
    # Too long to wait within a sensor tick: logged instead.
    ([(429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"})], False),
    ([(200, {}, {"ok": False, "error": "channel_not_found"})], False),  # refused for good: logged instead
])
def test_a_failure_slack_cannot_take_is_retried_or_logged_never_dropped(workspace, caplog, replies, posted):
    workspace.config_file.write_text(workspace.config_file.read_text() + "automation: {slack_channel: '#data'}\n")
    instance = dg.DagsterInstance.ephemeral()
    defs, result = failed_run(workspace, instance)
    stub = SlackApiStub(replies)
    try:
        defs.resolve_sensor_def("notify_failures")(stub.context(instance, result))
    finally:
        stub.close()
    assert len(stub.posts) == (2 if posted else 1)
    logged = [r.getMessage() for r in caplog.records if "could not post to Slack" in r.getMessage()]
    assert bool(logged) is not posted
    if not posted:
        assert replies[0][2]["error"] in logged[0] and f"run {result.run_id[:8]} of job publish_ds failed" in logged[0]
        assert "xoxb-test" not in caplog.text


def test_a_failure_dagster_will_retry_is_not_reported_but_the_retrys_is(workspace, caplog):
    caplog.set_level(logging.INFO, logger="upload_pipeline.notify")
    workspace.config_file.write_text(workspace.config_file.read_text() + "automation: {slack_channel: '#data'}\n")
    # The instance retries failed runs, so storing this failure tags the run `dagster/will_retry: true`.
    instance = dg.DagsterInstance.ephemeral(settings={"run_retries": {"enabled": True, "max_retries": 1}})
    defs, result = failed_run(workspace, instance)
    run = instance.get_run_by_id(result.run_id)
    assert run.tags.get("dagster/will_retry") == "true"
    sensor = defs.resolve_sensor_def("notify_failures")
    stub = SlackApiStub([])
    try:
        sensor(stub.context(instance, result, run))
        assert stub.posts == [] and "will be retried" in caplog.text
        # The retry (its root is the first run) fails too and will not be retried again: that one is reported.
        retry = run.with_tags({"dagster/will_retry": "false"})._replace(run_id="f" * 36, root_run_id=run.run_id,
                                                                        parent_run_id=run.run_id)
        sensor(stub.context(instance, result, retry))
    finally:
        stub.close()
    [post] = [json.loads(body)["text"] for body in stub.posts]
    assert f"run ffffffff of job publish_ds (a re-execution of run {run.run_id[:8]}) failed" in post
