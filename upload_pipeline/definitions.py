"""The code location: one set of assets per dataset in the datasets file, and the resources for the roles.

Loading reads only the datasets file (and the provider choice); nothing touches the landing or staging
folders until a run starts.
"""

from __future__ import annotations

import os

import dagster as dg

from upload_pipeline.assets import dataset_assets
from upload_pipeline.config import PipelineConfig, load_config
from upload_pipeline.jobs import delete_job, publish_jobs
from upload_pipeline.providers import build_resources


def build_definitions(cfg: PipelineConfig, environ: dict[str, str] | None = None) -> dg.Definitions:
    defs = [d for ds in cfg.datasets for d in dataset_assets(cfg, ds)]
    # AssetChecksDefinition subclasses AssetsDefinition, so test for checks first.
    checks = [d for d in defs if isinstance(d, dg.AssetChecksDefinition)]
    return dg.Definitions(
        assets=[d for d in defs if not isinstance(d, dg.AssetChecksDefinition)],
        asset_checks=checks,
        jobs=[*publish_jobs(cfg), delete_job(cfg)],
        resources=build_resources(cfg, os.environ if environ is None else environ),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_config())
