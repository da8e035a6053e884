"""Jobs: `publish_<dataset>`, `delete_from_hub` (remove a config or split) and `dry_run` (what a publish would do)."""

import dagster as dg
from pydantic import Field

from upload_pipeline import delete, remote, steps
from upload_pipeline.config import PipelineConfig
from upload_pipeline.providers.base import StorageResource


class DeleteConfig(dg.Config):
    dataset: str = Field(description="a dataset name from the datasets file")
    config_name: str = Field(description="the config to delete, or the one holding the split")
    split: str | None = Field(default=None, description="delete only this split of the config")
    confirm: bool = Field(default=False, description="must be true: nothing is deleted otherwise")
    create_pr: bool = Field(default=False, description="open a pull request instead of committing")


def publish_jobs(cfg: PipelineConfig) -> list:
    return [
        dg.define_asset_job(
            f"publish_{ds.name}", selection=dg.AssetSelection.groups(ds.name),
            description=f"Publish dataset {ds.name}: landed files → shards → card → Hub and S3 copies.")
        for ds in cfg.datasets
    ]


def delete_job(cfg: PipelineConfig) -> dg.JobDefinition:
    @dg.op(name="delete_paths", description="Delete a config or split from a dataset's Hub repo in one commit.")
    def delete_op(context: dg.OpExecutionContext, config: DeleteConfig, hub: StorageResource) -> None:
        request = delete.DeleteRequest(config.dataset, config.config_name, config.split, config.confirm,
                                       config.create_pr, run_id=context.run.run_id)
        result = delete.delete_from_hub(cfg, hub, request)
        context.log.info(f"deleted {len(result.plan.deletes)} file(s); commit {result.commit_id}")
        context.log_event(dg.AssetObservation(
            asset_key=dg.AssetKey([config.dataset, "hub_copy"]),
            metadata={"deleted": dg.MetadataValue.json(result.plan.deletes), "commit_id": str(result.commit_id),
                      "pull_request": str(result.metadata.get("pull_request", "")),
                      "split": str(config.split or ""), "config_name": config.config_name}))

    @dg.job(name="delete_from_hub", description="Remove a config, or one split of it, from a dataset's Hub repo: "
                                                "files and card metadata in one commit (or one PR).")
    def job() -> None:
        delete_op()

    return job


class DryRunConfig(dg.Config):
    dataset: str | None = Field(default=None, description="one dataset; default every dataset")


def dry_run_job(cfg: PipelineConfig) -> dg.JobDefinition:
    @dg.op(name="plan_publish", description="Lists what the next publish would shard, upload and delete.")
    def plan_op(context: dg.OpExecutionContext, config: DryRunConfig, hub: StorageResource,
                s3: StorageResource) -> dict:
        if config.dataset is not None:
            cfg.dataset(config.dataset)  # a name not in the datasets file is an error, not an empty report
        report = {}
        for ds in cfg.datasets:
            if config.dataset not in (None, ds.name):
                continue
            paths = steps.DatasetPaths.of(cfg, ds)
            v = steps.preview(ds, paths).validation
            entry = {"new_files": [f.relpath for f in v.new_files()], "new_rows": sum(f.rows for f in v.new_files()),
                     "bad_files": {r.relpath: r.reason for r in v.rejected}}
            for role, provider, target in (("hub", hub, ds.hub), ("s3", s3, ds.s3)):
                if target is None:
                    continue
                try:
                    request = remote.sync_request(ds, paths, role, "dry run")
                except RuntimeError as exc:  # what the copy would refuse (nothing staged, no card): say why
                    entry[role] = {"not_published": str(exc)}
                    continue
                plan = remote.plan_sync(provider, target, request)
                entry[role] = {"target": plan.target, "upload": [u.path for u in plan.uploads],
                               "delete": plan.deletes, "unchanged": plan.unchanged}
                if getattr(plan, "reencrypted", None):  # S3: uploads that are only for the objects' encryption
                    entry[role]["reencrypt"] = plan.reencrypted
            context.log.info(f"{ds.name}: {entry}")
            report[ds.name] = entry
        return report

    @dg.job(name="dry_run", description="Plan only: new landed files to shard, and the uploads and deletions the "
                                        "staged tree would cause on each copy. Writes nothing.")
    def job() -> None:
        plan_op()

    return job
