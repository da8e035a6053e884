"""`<dataset>/hub_copy` and `<dataset>/s3_copy`: the remote copies, each with a remote = staged check."""

from typing import Any

import dagster as dg

from upload_pipeline import audit, remote, steps
from upload_pipeline.assets.automation import DOWNSTREAM
from upload_pipeline.assets.metadata import paths_md
from upload_pipeline.config import DatasetConfig
from upload_pipeline.providers.base import StorageResource
from upload_pipeline.providers.hf_pr import Publication

MATCH_CHECK = "remote_matches_staged"
_ROLES = {
    "hub": ("hub_copy", {"huggingface"}, "Hub copy: the staged tree published as one commit per publish."),
    "s3": ("s3_copy", {"s3"}, "S3 copy: the staged tree mirrored under the prefix, checksums verified."),
}


def pool_for(role: str, target: Any) -> str:
    """Hub commits to one repo run one at a time (a concurrent commit only earns a 412); S3 uploads share one
    pool. Limits are set in dagster.yaml (`concurrency.pools.default_limit`). Repo ids are case-insensitive on the
    Hub (and in the datasets file's checks): `Org/Repo` and `org/repo` are one repo, so one pool."""
    return f"hub_commit/{target.repo_id.lower()}" if role == "hub" else "s3_upload"


def remote_copy_assets(ds: DatasetConfig, paths: steps.DatasetPaths, role: str,
                       target: Any) -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    name, kinds, description = _ROLES[role]
    key = dg.AssetKey([ds.name, name])

    @dg.asset(key=key, group_name=ds.name, kinds=kinds, deps=[dg.AssetKey([ds.name, "dataset_card"])],
              description=description, required_resource_keys={role}, pool=pool_for(role, target),
              automation_condition=DOWNSTREAM, metadata={"target": dg.MetadataValue.json(target.model_dump())})
    def copy(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        provider: StorageResource = getattr(context.resources, role)
        message = Publication(ds.name, ds.config_name).message(context.run.run_id)
        run_id, pending = context.run.run_id, paths.file("audit-pending")
        # The tree is read at the plan and again by the upload (and a 412's re-plan): no writer in between.
        with steps.staging_lock(paths, shared=True):
            try:
                request = remote.sync_request(ds, paths, role, message)
            except remote.NothingStaged:
                if not remote.nothing_published(provider, target, ds, paths, role):
                    raise  # staging lost while the copy has the dataset: never wiped, said loudly
                # Nothing landed yet and nothing published: a normal state, not a failure (make run, reconcile).
                context.log.info(f"{name}: nothing staged and nothing of {ds.name} in the copy: nothing to do")
                return dg.MaterializeResult(metadata={"noop": True, "status": "nothing landed yet"})
            result = remote.sync(provider, target, request,
                                 before_apply=lambda p: audit.note_plan(pending, run_id=run_id, role=role, plan=p))
        plan = result.plan
        audited = dict(state_root=paths.state.parent, run_id=run_id, dataset=ds.name, role=role, result=result)
        if not plan.noop:
            audit.record_publish(**audited)
        for line in audit.settle(pending=pending, **audited):
            context.log.warning(f"{name}: run {line['run_id'][:8]} changed the copy but was stopped before its "
                                f"audit line; written now, marked recovered")
        context.log.info(f"{name}: {len(plan.uploads)} uploaded, {len(plan.deletes)} deleted, "
                         f"{plan.unchanged} unchanged" + (f", commit {result.commit_id}" if result.commit_id else ""))
        metadata = {
            "url": dg.MetadataValue.url(result.url) if "://" in result.url else dg.MetadataValue.path(result.url),
            "noop": plan.noop, "files_uploaded": paths_md([u.path for u in plan.uploads]),
            "files_deleted": paths_md(plan.deletes), "upload_count": len(plan.uploads),
            "delete_count": len(plan.deletes), "unchanged_count": plan.unchanged, "bytes_sent": result.bytes_sent,
            **result.metadata,
        }
        if result.commit_id:
            metadata["commit_id"] = result.commit_id
        if result.commit_url:
            metadata["commit_url"] = dg.MetadataValue.url(result.commit_url)
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset_check(asset=key, name=MATCH_CHECK, required_resource_keys={role},
                    description=f"The {role} copy equals the staged tree (paths and sha256).")
    def matches(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        provider: StorageResource = getattr(context.resources, role)
        problems = remote.differences(provider, target, ds, paths, role)
        return dg.AssetCheckResult(passed=not problems, metadata={
            "differences": paths_md(problems, "none: the remote copy equals the staged tree")})

    return [copy, matches]
