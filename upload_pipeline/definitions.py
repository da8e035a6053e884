"""The code location: one set of assets per dataset in the datasets file, the jobs, the automation, and the
resources for the two roles.

Loading reads only the datasets file and which providers to use; nothing touches the landing or staging
folders until a run or a sensor tick.
"""

import os

import dagster as dg

from upload_pipeline.assets import dataset_assets
from upload_pipeline.config import PipelineConfig
from upload_pipeline.config_file import load_config
from upload_pipeline.jobs import delete_job, dry_run_job, publish_jobs
from upload_pipeline.notify import failure_sensor, slack_resources
from upload_pipeline.providers import build_resources
from upload_pipeline.schedules import reconcile_job, schedules
from upload_pipeline.sensors import automation_sensor, landing_sensors


def build_definitions(cfg: PipelineConfig, environ: dict[str, str] | None = None) -> dg.Definitions:
    environ = os.environ if environ is None else environ
    defs = [d for ds in cfg.datasets for d in dataset_assets(cfg, ds)]
    # AssetChecksDefinition subclasses AssetsDefinition, so test for checks first.
    checks = [d for d in defs if isinstance(d, dg.AssetChecksDefinition)]
    slack = slack_resources(environ)
    return dg.Definitions(
        assets=[d for d in defs if not isinstance(d, dg.AssetChecksDefinition)],
        asset_checks=checks,
        jobs=[*publish_jobs(cfg), reconcile_job(cfg), delete_job(cfg), dry_run_job(cfg)],
        sensors=[*landing_sensors(cfg), automation_sensor(cfg), failure_sensor(cfg, slack_enabled=bool(slack))],
        schedules=schedules(cfg),
        resources={**build_resources(cfg, environ), **slack},
        # The steps of a publish form a chain and wait on disk and network, not CPU; a process per step (the
        # multiprocess default) cost ~2 s of imports each and tripled the landing-to-published latency.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_config())
