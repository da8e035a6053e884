"""Schedules: a nightly reconcile of every remote copy, and an optional periodic publish for cron lovers."""

import dagster as dg

from upload_pipeline.config import PipelineConfig

RECONCILE_JOB = "reconcile"


def reconcile_job(cfg: PipelineConfig):
    """Syncs every copy again (uploading what drifted, deleting what staging lacks) and runs the checks."""
    copies = [dg.AssetKey([ds.name, role]) for ds in cfg.datasets
              for role, target in (("hub_copy", ds.hub), ("s3_copy", ds.s3)) if target is not None]
    return dg.define_asset_job(
        RECONCILE_JOB, selection=dg.AssetSelection.assets(*copies),
        description="Verify every remote copy against the staged tree (paths and sha256) and repair drift.")


def schedules(cfg: PipelineConfig) -> list[dg.ScheduleDefinition]:
    auto = cfg.automation
    # automation.sensors switches all of the pipeline's own automation: sensors and schedules start as it says.
    status = dg.DefaultScheduleStatus.RUNNING if auto.sensors else dg.DefaultScheduleStatus.STOPPED
    out = []
    # The cron expressions were checked when the config loaded (AutomationConfig), naming the key.
    if auto.reconcile_cron:
        out.append(dg.ScheduleDefinition(
            name="nightly_reconcile", cron_schedule=auto.reconcile_cron, job_name=RECONCILE_JOB,
            default_status=status, description="Checks every remote copy against staging and repairs drift."))
    if auto.publish_cron:
        out += [dg.ScheduleDefinition(
            name=f"publish_{ds.name}_schedule", cron_schedule=auto.publish_cron, job_name=f"publish_{ds.name}",
            default_status=status, description=f"Publishes {ds.name} on a schedule (automation.publish_cron).")
            for ds in cfg.datasets]
    return out
