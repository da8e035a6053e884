"""`<dataset>/landed_files`: discovery and validation of the landing folder."""

import dagster as dg

from upload_pipeline import steps
from upload_pipeline.assets.automation import staging_pool
from upload_pipeline.assets.metadata import column_schema, paths_md, rejections_md
from upload_pipeline.config import DatasetConfig

CHECK = "landed_files_valid"


def landed_files_asset(ds: DatasetConfig, paths: steps.DatasetPaths) -> dg.AssetsDefinition:
    key = dg.AssetKey([ds.name, "landed_files"])
    severity = dg.AssetCheckSeverity.ERROR if ds.on_bad_file == "fail" else dg.AssetCheckSeverity.WARN

    @dg.asset(
        key=key, group_name=ds.name, kinds={"parquet", "file"},
        pool=staging_pool(ds.name),
        description=f"Settled parquet files in {paths.landing}, validated (readable, one schema, hashed).",
        metadata={"landing_folder": dg.MetadataValue.path(str(paths.landing)), "on_bad_file": ds.on_bad_file},
        # Blocking only under `fail`: Dagster's automation takes any failed blocking check as "not passed",
        # whatever its severity, so under `skip` one bad file would hold back every later step for good.
        check_specs=[dg.AssetCheckSpec(
            CHECK, asset=key, blocking=ds.on_bad_file == "fail",
            description=f"Every landed file is valid. Policy on_bad_file={ds.on_bad_file}: 'fail' blocks the "
                        "publish, 'skip' publishes the good files and reports the bad ones.")],
    )
    def landed_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        landing = steps.land(ds, paths)
        v = landing.validation
        for bad in v.rejected:
            log = context.log.error if ds.on_bad_file == "fail" else context.log.warning
            log(f"{paths.landing / bad.relpath}: {bad.reason}")
        by_status = {s: [f for f in v.files if f.status == s] for s in ("new", "published", "duplicate", "empty")}
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(f.rows for f in v.files if f.status in ("new", "published")),
                "dagster/column_schema": column_schema(v.schema),
                "new_files": len(by_status["new"]),
                "new_rows": sum(f.rows for f in by_status["new"]),
                "published_files": len(by_status["published"]),
                "duplicate_files": paths_md([f"{f.relpath} = {f.duplicate_of}" for f in by_status["duplicate"]]),
                "empty_files": len(by_status["empty"]),
                "bad_files": rejections_md(v.rejected),
                "unsettled_files": paths_md(landing.discovery.unsettled),
                "ignored_files": len(landing.discovery.ignored),
                "landed_bytes": sum(f.size for f in v.files),
            },
            check_results=[dg.AssetCheckResult(
                check_name=CHECK, passed=not v.rejected, severity=severity,
                metadata={"bad_files": rejections_md(v.rejected), "bad_file_count": len(v.rejected)})],
        )

    return landed_files
