"""Failure notifications: a run-failure sensor that posts to Slack when a token and channel are set.

Without `SLACK_BOT_TOKEN` (or without `automation.slack_channel`) the same sensor logs the failure instead, so
the sensor exists, and is visible in the UI, in every deployment.

A crashed run that Dagster is about to retry (`run_retries` in dagster.yaml) is not reported: only the last
failure of a chain is, naming the run it retried, so a crash that the retry heals pages nobody.
"""

import logging

import dagster as dg
from dagster_slack import SlackResource
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from upload_pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

# A sensor tick is cut off after 60 s (DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS) and then evaluated again, which
# could post the same failure twice: a rate-limited post waits at most this long, twice, else it is logged.
MAX_RETRY_AFTER_SECONDS = 10


class ShortRateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (it sleeps Retry-After), for short Retry-After values only."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        # Header values are lists in slack_sdk's responses.
        wait = next((v[0] for k, v in response.headers.items() if k.lower() == "retry-after"), "1")
        try:
            return float(wait) <= MAX_RETRY_AFTER_SECONDS
        except ValueError:
            return False


# Set by Dagster on a failed run when its failure is stored (since 1.9.5): "true" when the run-retry daemon will
# launch a retry of it.
WILL_RETRY_TAG = "dagster/will_retry"


def failure_message(context: dg.RunFailureSensorContext) -> str:
    run = context.dagster_run
    error = context.failure_event.message or "no message"
    # Dagster sets the root run on every re-execution: its automatic retries and a person's "Re-execute".
    retried = f" (a re-execution of run {run.root_run_id[:8]})" if run.root_run_id else ""
    return f"upload_pipeline: run {run.run_id[:8]} of job {run.job_name}{retried} failed: {error[:1500]}"


def will_be_retried(context: dg.RunFailureSensorContext) -> bool:
    """True, after logging why, for a run whose failure Dagster will retry: the retry's outcome is the news."""
    run = context.dagster_run
    if run.tags.get(WILL_RETRY_TAG) != "true":
        return False
    why = (f"run {run.run_id[:8]} of job {run.job_name} failed and will be retried (run_retries); "
           "not reported unless the retry fails too")
    log.info(why)
    context.log.info(why)
    return True


def failure_sensor(cfg: PipelineConfig, slack_enabled: bool) -> dg.SensorDefinition:
    status = dg.DefaultSensorStatus.RUNNING if cfg.automation.sensors else dg.DefaultSensorStatus.STOPPED
    channel = cfg.automation.slack_channel
    description = (f"Posts failed runs to Slack channel {channel}." if slack_enabled and channel
                   else "Logs failed runs (set SLACK_BOT_TOKEN and automation.slack_channel to post to Slack).")

    if slack_enabled and channel:
        @dg.run_failure_sensor(name="notify_failures", default_status=status, description=description,
                               monitor_all_code_locations=False)
        def notify(context: dg.RunFailureSensorContext, slack: SlackResource) -> None:
            if will_be_retried(context):
                return
            text = failure_message(context)
            client = slack.get_client()
            # slack_sdk retries dropped connections by itself, but not rate limits (429 with Retry-After).
            client.retry_handlers.append(ShortRateLimitRetry(max_retry_count=2))
            try:
                client.chat_postMessage(channel=channel, text=text)
            except Exception as exc:  # noqa: BLE001 - the sensor moves past this run anyway: keep the news
                # The tick's cursor moves past the run whatever happens here, so the failure goes to the logs.
                reason = f"could not post to Slack channel {channel} ({type(exc).__name__}: {exc}); {text}"
                log.warning(reason)
                context.log.warning(reason)
    else:
        @dg.run_failure_sensor(name="notify_failures", default_status=status, description=description,
                               monitor_all_code_locations=False)
        def notify(context: dg.RunFailureSensorContext) -> None:
            if will_be_retried(context):
                return
            # Also to the process log, which is where an operator without the UI (daemon output) looks.
            log.warning(failure_message(context))
            context.log.warning(failure_message(context))

    return notify


def slack_resources(environ) -> dict[str, SlackResource]:
    """The `slack` resource, only when a token is set (EnvVar keeps it out of the UI and event log)."""
    return {"slack": SlackResource(token=dg.EnvVar("SLACK_BOT_TOKEN"))} if environ.get("SLACK_BOT_TOKEN") else {}
