"""Every dataset gets the same chain: landed_files → shards → dataset_card → hub_copy / s3_copy."""

import dagster as dg

from upload_pipeline.assets.archive import archive_asset
from upload_pipeline.assets.card import card_asset
from upload_pipeline.assets.landed import landed_files_asset
from upload_pipeline.assets.remote import remote_copy_assets
from upload_pipeline.assets.shards import shards_asset
from upload_pipeline.config import DatasetConfig, PipelineConfig
from upload_pipeline.steps import DatasetPaths


def dataset_assets(cfg: PipelineConfig, ds: DatasetConfig) -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    paths = DatasetPaths.of(cfg, ds)
    out: list = [landed_files_asset(ds, paths), shards_asset(ds, paths), card_asset(ds, paths)]
    if ds.hub is not None:
        out += remote_copy_assets(ds, paths, "hub", ds.hub)
    if ds.s3 is not None:
        out += remote_copy_assets(ds, paths, "s3", ds.s3)
        if ds.s3.archive:
            out.append(archive_asset(ds, paths))
    return out
