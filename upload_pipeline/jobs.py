"""Jobs: `publish_<dataset>` runs every asset and check of one dataset."""

from __future__ import annotations

import dagster as dg

from upload_pipeline.config import PipelineConfig


def publish_jobs(cfg: PipelineConfig) -> list[dg.UnresolvedAssetJobDefinition]:
    return [
        dg.define_asset_job(
            f"publish_{ds.name}", selection=dg.AssetSelection.groups(ds.name),
            description=f"Publish dataset {ds.name}: landed files → shards → card → Hub and S3 copies.")
        for ds in cfg.datasets
    ]
