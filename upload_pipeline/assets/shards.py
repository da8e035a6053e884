"""`<dataset>/shards`: the append-only parquet shards of the staged tree, with their two checks."""

import dagster as dg
import pyarrow.parquet as pq

from upload_pipeline import steps
from upload_pipeline.assets.automation import DOWNSTREAM, staging_pool
from upload_pipeline.assets.metadata import column_schema, paths_md
from upload_pipeline.config import DatasetConfig
from upload_pipeline.parquet_io import describe
from upload_pipeline.staging import Shard, shards_schema
from upload_pipeline.state import read_json

ROWS_CHECK = "rows_conserved"
SCHEMA_CHECK = "schema_consistent"


def shards_asset(ds: DatasetConfig, paths: steps.DatasetPaths) -> dg.AssetsDefinition:
    key = dg.AssetKey([ds.name, "shards"])

    @dg.asset(
        key=key, group_name=ds.name, kinds={"parquet"}, deps=[dg.AssetKey([ds.name, "landed_files"])],
        pool=staging_pool(ds.name),
        automation_condition=DOWNSTREAM,
        description=f"Append-only parquet shards under {paths.staged}: new landed files go to new shards.",
        metadata={"staged_folder": dg.MetadataValue.path(str(paths.staged)),
                  "shard_size": ds.shard_size, "compression": ds.compression},
        check_specs=[
            dg.AssetCheckSpec(ROWS_CHECK, asset=key, blocking=True,
                              description="Shard rows = rows of the landed files they hold, and every valid "
                                          "landed file is in a shard."),
            dg.AssetCheckSpec(SCHEMA_CHECK, asset=key, blocking=True,
                              description="Every shard has the dataset's one schema."),
        ],
    )
    def shards(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        run = steps.shard(ds, paths)
        for s in run.written:
            how = "copied as landed" if s.path in run.copied else "wrote"
            context.log.info(f"{how} {s.path}: {s.rows} rows, {s.size} bytes")
        for relpath, reason in run.not_copied.items():
            context.log.info(f"rewrote {relpath} instead of copying it: {reason}")
        all_shards = run.all_shards
        per_split = {split: sum(s.rows for s in all_shards if s.split == split) for split in ds.splits}
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(per_split.values()),
                "dagster/column_schema": column_schema(shards_schema(paths.staged, all_shards)),
                "rows_per_split": dg.MetadataValue.json(per_split),
                "shard_count": len(all_shards),
                "new_shards": paths_md([s.path for s in run.written], "none (nothing new landed)"),
                "new_rows": sum(s.rows for s in run.written),
                # copy_fitting_files: the new shards that are landed files copied as they are
                "copied_as_is": paths_md(run.copied, "none"),
                "rewritten_not_copied": dg.MetadataValue.json(run.not_copied),
                "staged_bytes": sum(s.size for s in all_shards),
            },
            check_results=[rows_check(paths, all_shards), schema_check(paths, all_shards)],
        )

    return shards


def rows_check(paths: steps.DatasetPaths, shards: list[Shard]) -> dg.AssetCheckResult:
    known = read_json(paths.file("sources.json"), {"hashes": {}})["hashes"]
    in_shards = {sha for s in shards for sha in s.sources}
    expected = sum(known[sha]["rows"] for sha in in_shards if sha in known)
    actual = sum(s.rows for s in shards)
    unknown = sorted(in_shards - known.keys())
    valid = [f for f in steps.read_landed(paths).files if f.status in ("new", "published")]
    missing = sorted(f.relpath for f in valid if f.sha256 not in in_shards)
    return dg.AssetCheckResult(
        check_name=ROWS_CHECK, passed=expected == actual and not missing and not unknown,
        metadata={"shard_rows": actual, "landed_rows": expected, "landed_files_not_in_shards": paths_md(missing),
                  "shard_sources_unknown": len(unknown)})


def schema_check(paths: steps.DatasetPaths, shards: list[Shard]) -> dg.AssetCheckResult:
    reference = steps.read_landed(paths).schema
    odd = [s.path for s in shards
           if reference is not None and describe(pq.read_schema(paths.staged / s.path)) != describe(reference)]
    return dg.AssetCheckResult(check_name=SCHEMA_CHECK, passed=not odd,
                               metadata={"shards_with_another_schema": paths_md(odd)})
