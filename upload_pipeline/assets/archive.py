"""`<dataset>/s3_archive`: a tar.gz of the staged tree per published version, next to the S3 copy."""

from dataclasses import asdict

import dagster as dg

from upload_pipeline import archive, steps
from upload_pipeline.assets.automation import DOWNSTREAM
from upload_pipeline.assets.remote import pool_for
from upload_pipeline.config import DatasetConfig


def archive_asset(ds: DatasetConfig, paths: steps.DatasetPaths) -> dg.AssetsDefinition:
    # After the Hub copy too, when there is one: its commit names the version (see `version`).
    deps = [dg.AssetKey([ds.name, "s3_copy"])] + ([dg.AssetKey([ds.name, "hub_copy"])] if ds.hub else [])

    @dg.asset(key=dg.AssetKey([ds.name, "s3_archive"]), group_name=ds.name, kinds={"s3"}, deps=deps,
              description=f"tar.gz of the staged tree per published version, under {archive.ARCHIVE_DIR}/ "
                          "next to the S3 copy; built once per version, verified after upload.",
              required_resource_keys={"s3"}, pool=pool_for("s3", ds.s3), automation_condition=DOWNSTREAM,
              metadata={"history": dg.MetadataValue.path(str(paths.file(archive.HISTORY)))})
    def s3_archive(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with steps.staging_lock(paths, shared=True):  # built from a tree no writer changes meanwhile
            if not archive.archived_files(paths):  # the delete job took the whole dataset out: no version to keep
                context.log.info(f"s3_archive: nothing staged in {paths.staged}; no archive")
                return dg.MaterializeResult(metadata={"status": "nothing staged"})
            record = archive.publish_archive(archive.store_for(context.resources.s3), ds.s3, ds.name, paths,
                                             version(context, ds, paths))
        context.log.info(f"s3_archive: {record.status} {record.uri} ({record.size} bytes, sha256 {record.sha256})")
        return dg.MaterializeResult(metadata={
            "uri": dg.MetadataValue.url(record.uri) if "://" in record.uri else dg.MetadataValue.path(record.uri),
            "status": record.status, "version": record.version, "sha256": record.sha256, "size": record.size,
            "compression_ratio": record.compression_ratio, "files": record.files,
            "reused_temp": record.reused_temp, "record": dg.MetadataValue.json(asdict(record))})

    return s3_archive


def version(context: dg.AssetExecutionContext, ds: DatasetConfig, paths: steps.DatasetPaths) -> str:
    """The Hub commit id of the staged tree, when the Hub copy was published after the staged tree last
    changed (newer than the latest shards and card); else the first 16 hex digits of the sha256 of the
    archived files' manifest (paths, sizes, sha256).

    The delete job changes the staged tree and the Hub in one step, recorded as an observation of hub_copy: its
    commit names the tree after it, and the commit of the publish before names the tree before it only.
    """
    if ds.hub is not None:
        instance = context.instance
        latest = {name: instance.get_latest_materialization_event(dg.AssetKey([ds.name, name]))
                  for name in ("hub_copy", "shards", "dataset_card")}
        publish = latest["hub_copy"]
        changes = [(publish.timestamp, publish.asset_materialization.metadata)] if publish else []
        # The newest delete that changed staging (pull-request deletes, which do not, may have come after it).
        deletes = instance.fetch_observations(dg.AssetKey([ds.name, "hub_copy"]), limit=50).records
        changes += [(r.timestamp, r.asset_observation.metadata) for r in deletes
                    if _withdrew(r.asset_observation.metadata)][:1]
        if changes:
            when, metadata = max(changes, key=lambda c: c[0])
            if "commit_id" in metadata and all(e is None or e.timestamp <= when for e in latest.values()):
                return str(metadata["commit_id"].value)
    return archive.manifest_sha256(archive.archived_files(paths))[:16]


def _withdrew(metadata: dict) -> bool:
    """Whether a delete job's observation changed the staged tree: it deleted files, not through a pull request
    (which leaves staging as it is)."""
    return bool(metadata.get("deleted") and metadata["deleted"].value) and not (
        "pull_request" in metadata and metadata["pull_request"].value)
