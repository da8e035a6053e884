"""`<dataset>/dataset_card`: the staged README.md with `configs` and `dataset_info`."""

import dagster as dg

from upload_pipeline import steps
from upload_pipeline.assets.automation import DOWNSTREAM, staging_pool
from upload_pipeline.config import DatasetConfig
from upload_pipeline.staging import CARD_NAME


def card_asset(ds: DatasetConfig, paths: steps.DatasetPaths) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([ds.name, "dataset_card"]), group_name=ds.name, kinds={"huggingface", "markdown"},
        deps=[dg.AssetKey([ds.name, "shards"])], automation_condition=DOWNSTREAM,
        pool=staging_pool(ds.name),
        description="The dataset card: config, features and split sizes generated; a person's prose kept.",
        metadata={"card_path": dg.MetadataValue.path(str(paths.staged / CARD_NAME))},
    )
    def dataset_card() -> dg.MaterializeResult:
        text = steps.write_card(ds, paths)
        # "" when no shards are staged: then there is no card (nothing landed yet, or the delete job took it all).
        return dg.MaterializeResult(metadata={"card": dg.MetadataValue.md(text or "_No shards staged: no card._")})

    return dataset_card
