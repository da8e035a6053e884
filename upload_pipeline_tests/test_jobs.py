"""The jobs besides the publish jobs: dry_run (the delete job has test_delete.py)."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from upload_pipeline.definitions import build_definitions
from upload_pipeline_tests.conftest import settle
from upload_pipeline_tests.test_assets import materialize_all
from upload_pipeline_tests.test_definitions import run_dagster


def dry_run(workspace, **config) -> dict:
    defs = build_definitions(workspace.config(), environ={})
    result = defs.resolve_job_def("dry_run").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), run_config={"ops": {"plan_publish": {"config": config}}})
    return result.output_for_node("plan_publish")


# Hash caches are derived from the files they describe: the dry run may refresh them (README: Using it from Dagster).
CACHES = ("staged-hashes.json", "/.hashes/", "/s3-heads/")


def files(root) -> dict:
    """Every file under `root` but the hash caches, with its modification time."""
    found = {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    return {p: t for p, t in found.items() if not any(c in "/" + p for c in CACHES)}


def test_dry_run_lists_the_plan_and_writes_nothing(workspace):
    workspace.land("train/a.parquet", rows=10)
    assert materialize_all(workspace).success
    workspace.land("train/b.parquet", rows=5, seed=1)
    (workspace.root / "remote/s3/test-bucket/datasets/ds/data/extra.parquet").write_bytes(b"x")
    before = files(workspace.root)
    report = dry_run(workspace)["ds"]
    assert report["new_files"] == ["train/b.parquet"] and report["new_rows"] == 5
    assert report["s3"]["delete"] == ["data/extra.parquet"] and report["hub"]["upload"] == []
    assert report["hub"]["unchanged"] == 2  # the card and the shard
    assert files(workspace.root) == before


def test_dry_run_before_anything_was_published_writes_nothing_either(workspace):
    """Staged (as from the UI: landed_files, shards, dataset_card) but never copied: planning the local Hub made
    its repo folder (a lock file)."""
    workspace.land("train/a.parquet", rows=10)
    workspace.stage()
    before = files(workspace.root)
    report = dry_run(workspace)["ds"]
    assert sorted(report["hub"]["upload"]) == sorted(report["s3"]["upload"]) == ["README.md",
                                                                                "data/train-00000.parquet"]
    assert files(workspace.root) == before and not (workspace.root / "remote").exists()


def with_other_dataset(workspace) -> None:
    """A second dataset, `other`, with an S3 copy only."""
    data = yaml.safe_load(workspace.config_file.read_text())
    data["datasets"].append({**data["datasets"][0], "name": "other", "hub": None,
                             "s3": {"bucket": "test-bucket", "prefix": "other"}})
    workspace.config_file.write_text(yaml.safe_dump(data, sort_keys=False))


def test_dry_run_of_one_dataset_reports_it_alone_with_the_copies_it_has_and_its_bad_files(workspace):
    with_other_dataset(workspace)
    bad = workspace.landing / "train/bad.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet")
    settle(bad)
    assert list(dry_run(workspace, dataset="other")) == ["other"]
    report = dry_run(workspace)
    assert sorted(report) == ["ds", "other"] and sorted(report["other"]) == ["bad_files", "new_files", "new_rows",
                                                                           "s3"]
    assert list(report["ds"]["bad_files"]) == ["train/bad.parquet"] and report["other"]["bad_files"] == {}


def test_a_publish_job_publishes_its_own_dataset_only(workspace):
    with_other_dataset(workspace)
    defs = build_definitions(workspace.config(), environ={})
    assert {k.path[0] for k in defs.resolve_job_def("publish_other").asset_layer.executable_asset_keys} == {"other"}


def test_dry_run_says_why_a_copy_would_publish_nothing(workspace):
    workspace.land("train/a.parquet", rows=10)
    report = dry_run(workspace)["ds"]
    assert report["new_files"] == ["train/a.parquet"]
    assert "nothing staged, so nothing to publish" in report["hub"]["not_published"]
    assert "nothing staged, so nothing to publish" in report["s3"]["not_published"]


def test_dry_run_refuses_a_dataset_that_is_not_in_the_datasets_file(workspace):
    defs = build_definitions(workspace.config(), environ={})
    with pytest.raises(KeyError, match="no dataset named 'dss'"):
        defs.resolve_job_def("dry_run").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), run_config={"ops": {"plan_publish": {"config": {
                "dataset": "dss"}}}})


def test_after_the_delete_job_emptied_the_dataset_dry_run_lists_what_the_copies_will_delete(workspace):
    workspace.land("train/a.parquet", rows=10)
    defs = build_definitions(workspace.config(), environ={})
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_all(workspace, instance).success
    assert defs.resolve_job_def("delete_from_hub").execute_in_process(instance=instance, run_config={
        "ops": {"delete_paths": {"config": {"dataset": "ds", "config_name": "default", "confirm": True}}}}).success
    report = dry_run(workspace)["ds"]
    assert report["s3"]["delete"] == ["data/train-00000.parquet", "README.md"]
    result = materialize_all(workspace, instance)
    assert result.success
    s3 = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == "s3_copy"]
    assert s3[0].materialization.metadata["delete_count"].value == len(report["s3"]["delete"])
    assert not list((workspace.root / "remote/s3/test-bucket/datasets/ds").rglob("*.*"))


def test_the_readmes_job_commands_run_as_written(workspace, tmp_path):
    """`dagster job execute` takes run config as a YAML file (`-c`), in the README's form."""
    workspace.land("train/a.parquet", rows=10)
    workspace.land("test/a.parquet", rows=5, seed=1)
    assert materialize_all(workspace).success
    dry = tmp_path / "dry_run.yaml"
    dry.write_text("ops: {plan_publish: {config: {dataset: ds}}}\n")
    result = run_dagster(["job", "execute", "-m", "upload_pipeline", "-j", "dry_run", "-c", str(dry)], tmp_path,
                         UPLOAD_PIPELINE_CONFIG=str(workspace.config_file))
    assert result.returncode == 0 and "RUN_SUCCESS" in result.stdout + result.stderr, result.stderr[-2000:]
    delete = tmp_path / "delete.yaml"
    delete.write_text("ops: {delete_paths: {config: {dataset: ds, config_name: default, split: test, "
                      "confirm: true}}}\n")
    result = run_dagster(["job", "execute", "-m", "upload_pipeline", "-j", "delete_from_hub", "-c", str(delete)],
                         tmp_path, UPLOAD_PIPELINE_CONFIG=str(workspace.config_file))
    assert result.returncode == 0, result.stderr[-2000:]
    hub_repo = workspace.root / "remote" / "hub" / "tests" / "ds"
    assert sorted(p.name for p in (hub_repo / "data").glob("*.parquet")) == ["train-00000.parquet"]
