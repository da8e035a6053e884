"""Landing sensors: one per dataset, asking for one publish run per batch of new content.

The run key is a digest of the new files' content hashes, so a file dropped twice (or renamed, or copied) asks
for nothing new. Files still being written hold the batch back (they join it once settled), but never longer
than `max_batch_wait_seconds` after the oldest new file landed. A batch whose run failed is asked for again
up to `batch_retries` times (a run key alone would never run twice); after that it waits for new files.
"""

import time

import dagster as dg

from upload_pipeline import watch
from upload_pipeline.config import DatasetConfig, PipelineConfig
from upload_pipeline.steps import DatasetPaths

BATCH_TAG = "upload_pipeline/batch"
_FAILED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def landing_sensor(cfg: PipelineConfig, ds: DatasetConfig) -> dg.SensorDefinition:
    paths = DatasetPaths.of(cfg, ds)
    auto = cfg.automation
    status = dg.DefaultSensorStatus.RUNNING if auto.sensors else dg.DefaultSensorStatus.STOPPED

    @dg.sensor(name=f"landing_{ds.name}", job_name=f"publish_{ds.name}", default_status=status,
               minimum_interval_seconds=auto.sensor_interval_seconds,
               description=f"Starts publish_{ds.name} when new settled files land in {paths.landing}.")
    def sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return evaluate(context, cfg, ds, paths, time.time())

    return sensor


def evaluate(context: dg.SensorEvaluationContext, cfg: PipelineConfig, ds: DatasetConfig, paths: DatasetPaths,
             now: float) -> dg.SensorResult:
    seen = watch.look(ds, paths, now)
    key = seen.batch_key
    if key is None:
        return dg.SensorResult(skip_reason=f"nothing new in {paths.landing}", cursor=seen.fingerprint)
    waited = now - (seen.oldest_new_mtime or now)
    if seen.unsettled and waited < cfg.automation.max_batch_wait_seconds:
        return dg.SensorResult(
            skip_reason=f"{len(seen.new_files)} new file(s) wait for {len(seen.unsettled)} still being written",
            cursor=seen.fingerprint)
    runs = context.instance.get_runs(dg.RunsFilter(tags={BATCH_TAG: key}))
    if any(r.status not in _FAILED for r in runs):
        return dg.SensorResult(skip_reason=f"batch {key} already has a run", cursor=seen.fingerprint)
    if len(runs) > cfg.automation.batch_retries:
        return dg.SensorResult(skip_reason=f"batch {key} failed {len(runs)} times; waiting for new files",
                               cursor=seen.fingerprint)
    context.log.info(f"{ds.name}: {len(seen.new_files)} new file(s): {', '.join(seen.new_files[:10])}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"{key}-{len(runs)}", tags={BATCH_TAG: key})],
        cursor=seen.fingerprint)


def landing_sensors(cfg: PipelineConfig) -> list[dg.SensorDefinition]:
    return [landing_sensor(cfg, ds) for ds in cfg.datasets]


def automation_sensor(cfg: PipelineConfig) -> dg.AutomationConditionSensorDefinition:
    """Runs the downstream automation conditions; declared so it can default to running."""
    status = dg.DefaultSensorStatus.RUNNING if cfg.automation.sensors else dg.DefaultSensorStatus.STOPPED
    return dg.AutomationConditionSensorDefinition(
        "publish_automation", target=dg.AssetSelection.all(), default_status=status,
        minimum_interval_seconds=cfg.automation.sensor_interval_seconds,
        description="Materializes shards, card and copies after their upstream changes (eager, checks passed).")
