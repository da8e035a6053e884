"""Landing sensors: one per dataset, asking for one publish run per batch of new content.

The run key is a digest of the new files' content hashes, so a file dropped twice (or renamed, or copied) asks
for nothing new. While a publish run of the dataset is queued or running, new files wait for it. Files still
being written hold the batch back (they join it once settled), but never longer than `max_batch_wait_seconds`
after the oldest new file landed. A batch whose run failed is asked for again up to `batch_retries` times (a run
key alone would never run twice); after that it waits for new files.

The Hub limits commits per repo (about 128 an hour); one publish is one commit, but several datasets can publish
into one repo and files can land every minute. So a batch is also held back while the dataset's Hub repo had
`max_hub_commits_per_hour` commits in the last hour, counted from the event log (the `hub_copy` materializations
that made a commit, and the delete job's, of every dataset publishing into that repo). Held back, the batch
grows: later files join it.
"""

import time

import dagster as dg

from upload_pipeline import watch
from upload_pipeline.config import DatasetConfig, PipelineConfig
from upload_pipeline.steps import DatasetPaths

BATCH_TAG = "upload_pipeline/batch"
_FAILED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
_GOING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


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
    waited = 0.0 if seen.oldest_new_mtime is None else now - seen.oldest_new_mtime
    if seen.unsettled and waited < cfg.automation.max_batch_wait_seconds:
        return dg.SensorResult(
            skip_reason=f"{len(seen.new_files)} new file(s) wait for {len(seen.unsettled)} still being written",
            cursor=seen.fingerprint)
    job = f"publish_{ds.name}"
    going = context.instance.get_runs(dg.RunsFilter(job_name=job, statuses=_GOING), limit=1)
    if going:
        # Files that landed meanwhile go in one batch after it, rather than in a second run racing the first.
        return dg.SensorResult(skip_reason=f"{job} run {going[0].run_id[:8]} is not finished; "
                                           f"{len(seen.new_files)} new file(s) wait for it", cursor=seen.fingerprint)
    runs = context.instance.get_runs(dg.RunsFilter(job_name=job, tags={BATCH_TAG: key}))
    if any(r.status not in _FAILED for r in runs):
        return dg.SensorResult(skip_reason=f"batch {key} already has a run", cursor=seen.fingerprint)
    if len(runs) > cfg.automation.batch_retries:
        return dg.SensorResult(skip_reason=f"batch {key} failed {len(runs)} times; waiting for new files",
                               cursor=seen.fingerprint)
    budget = hub_commit_budget(context.instance, cfg, ds, now)
    if budget:
        return dg.SensorResult(skip_reason=budget, cursor=seen.fingerprint)
    context.log.info(f"{ds.name}: {len(seen.new_files)} new file(s): {', '.join(seen.new_files[:10])}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"{key}-{len(runs)}", tags={BATCH_TAG: key})],
        cursor=seen.fingerprint)


def hub_commit_budget(instance: dg.DagsterInstance, cfg: PipelineConfig, ds: DatasetConfig, now: float) -> str:
    """Why a publish of `ds` must wait for its Hub repo's hourly commit budget, or "" when it need not."""
    if ds.hub is None:
        return ""
    limit = cfg.automation.max_hub_commits_per_hour
    sharing = [other for other in cfg.datasets if other.hub is not None and other.hub.same_repo(ds.hub)]
    times = sorted(t for other in sharing
                   for t in _commit_times(instance, dg.AssetKey([other.name, "hub_copy"]), now - 3600))
    # A queued or running publish of another dataset in the repo that has not committed yet will: a slot each.
    going = sum(1 for other in sharing if other.name != ds.name and _to_commit(instance, other))
    over = len(times) + going - limit  # commits that must leave the hour before one more fits
    if over < 0:
        return ""
    pending = f" and {going} publish run(s) of it not finished" if going else ""
    # The oldest commits of the hour free the next slots; a run not finished frees none.
    wait = (f"about {max(0, round(times[over] + 3600 - now))} s" if over < len(times)
            else "until commits leave the hour")
    return (f"Hub repo {ds.hub.repo_id} had {len(times)} commits in the last hour{pending} "
            f"(max_hub_commits_per_hour: {limit}); the batch waits, {wait}")


def _to_commit(instance: dg.DagsterInstance, ds: DatasetConfig) -> bool:
    """Whether a publish run of `ds` is queued or running and its Hub copy not yet done (one that is, is on to
    the S3 copy or the archive, and its commit is counted already)."""
    going = instance.get_runs(dg.RunsFilter(job_name=f"publish_{ds.name}", statuses=_GOING), limit=1)
    if not going:
        return False
    done = instance.get_latest_materialization_event(dg.AssetKey([ds.name, "hub_copy"]))
    return done is None or done.run_id != going[0].run_id


def _commit_times(instance: dg.DagsterInstance, key: dg.AssetKey, since: float) -> list[float]:
    """When the events of `key` after `since` made Hub commits: its materializations (publishes) and the
    observations the delete_from_hub job records on it."""
    times = []
    for fetch, event in ((instance.fetch_materializations, "asset_materialization"),
                         (instance.fetch_observations, "asset_observation")):
        cursor = None
        while True:
            page = fetch(dg.AssetRecordsFilter(key, after_timestamp=since), limit=100, cursor=cursor)
            times += [r.timestamp for r in page.records
                      for _ in range(_commits_made(getattr(r, event)))]
            if not page.has_more:
                break
            cursor = page.cursor
    return times


def _commits_made(event: dg.AssetMaterialization | dg.AssetObservation | None) -> int:
    metadata = event.metadata if event else {}
    if "deleted" in metadata:  # the delete job's: a commit when it deleted something
        return 1 if metadata["deleted"].value else 0
    # A publish with nothing to change reports the commit the repo is at, with noop: true.
    if "commit_id" not in metadata or "noop" not in metadata or metadata["noop"].value:
        return 0
    # One too large a publish is committed in parts to a pull request, then merged: one more commit.
    parts = metadata["commits"].value if "commits" in metadata else 1
    return parts + 1 if parts > 1 else parts


def landing_sensors(cfg: PipelineConfig) -> list[dg.SensorDefinition]:
    return [landing_sensor(cfg, ds) for ds in cfg.datasets]


def automation_sensor(cfg: PipelineConfig) -> dg.AutomationConditionSensorDefinition:
    """Runs the downstream automation conditions; declared so it can default to running."""
    status = dg.DefaultSensorStatus.RUNNING if cfg.automation.sensors else dg.DefaultSensorStatus.STOPPED
    return dg.AutomationConditionSensorDefinition(
        "publish_automation", target=dg.AssetSelection.all(), default_status=status,
        minimum_interval_seconds=cfg.automation.sensor_interval_seconds,
        description="Materializes shards, card and copies after their upstream changes (eager, checks passed).")
