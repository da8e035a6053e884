"""The Dagster graph: every asset and check of a dataset in one run, metadata, and failing checks."""

from __future__ import annotations

import os
import pwd
import shutil
import threading

import dagster as dg
import datasets
import pyarrow.parquet as pq

from upload_pipeline import steps
from upload_pipeline.definitions import build_definitions
from upload_pipeline.state import read_jsonl
from upload_pipeline_tests.test_validation import raw


def materialize_all(workspace, instance=None) -> dg.ExecuteInProcessResult:
    defs = build_definitions(workspace.config(), environ={})
    job = defs.resolve_job_def("publish_ds")
    return job.execute_in_process(instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False)


def checks(result) -> dict[str, tuple[bool, str]]:
    return {f"{e.asset_key.path[-1]}:{e.check_name}": (e.passed, e.severity.value)
            for e in result.get_asset_check_evaluations()}


def materialized(result) -> dict[str, dict]:
    return {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()}


def test_publish_job_runs_the_chain_and_the_copies_load(workspace):
    workspace.land("train/a.parquet", rows=80)
    workspace.land("test/a.parquet", rows=20, seed=1)
    result = materialize_all(workspace)
    assert result.success
    meta = materialized(result)
    assert set(meta) == {"landed_files", "shards", "dataset_card", "hub_copy", "s3_copy"}
    assert meta["landed_files"]["dagster/row_count"].value == 100
    assert meta["shards"]["shard_count"].value == 2
    assert [c.name for c in meta["shards"]["dagster/column_schema"].schema.columns][:2] == ["id", "text"]
    assert "dataset_info" in meta["dataset_card"]["card"].value
    assert meta["hub_copy"]["commit_id"].value and meta["hub_copy"]["noop"].value is False
    assert all(passed for passed, _ in checks(result).values()), checks(result)
    hub_repo = workspace.root / "remote" / "hub" / "tests" / "ds"
    for tree in (workspace.staged, hub_repo):
        assert {k: v.num_rows for k, v in datasets.load_dataset(str(tree)).items()} == {"train": 80, "test": 20}

    again = materialize_all(workspace)
    assert materialized(again)["hub_copy"]["noop"].value is True
    assert materialized(again)["s3_copy"]["upload_count"].value == 0


def test_bad_files_are_a_warning_under_skip_and_the_good_rows_publish(workspace):
    workspace.land("train/a.parquet", rows=80)
    raw(workspace, "train/broken.parquet", b"garbage")
    result = materialize_all(workspace)
    assert result.success
    assert checks(result)["landed_files:landed_files_valid"] == (False, "WARN")
    assert materialized(result)["shards"]["dagster/row_count"].value == 80
    assert "train/broken.parquet" in materialized(result)["landed_files"]["bad_files"].value


def test_fail_policy_blocks_everything_downstream(workspace):
    workspace.dataset(on_bad_file="fail")
    workspace.land("train/a.parquet", rows=80)
    raw(workspace, "train/broken.parquet", b"garbage")
    result = materialize_all(workspace)
    assert not result.success
    assert checks(result)["landed_files:landed_files_valid"] == (False, "ERROR")
    assert set(materialized(result)) == {"landed_files"}
    assert not (workspace.staged / "data").exists()


def test_row_check_fails_when_a_shard_loses_rows(workspace):
    workspace.land("train/a.parquet", rows=80)
    assert materialize_all(workspace).success
    shard = workspace.staged / "data" / "train-00000.parquet"
    meta = pq.read_metadata(shard).metadata
    table = pq.read_table(shard).slice(0, 10).replace_schema_metadata(meta)
    pq.write_table(table, shard)  # same footer record, ten rows instead of eighty
    result = materialize_all(workspace)
    assert checks(result)["shards:rows_conserved"] == (False, "ERROR")
    assert not result.success


def test_remote_check_fails_on_drift(workspace):
    workspace.land("train/a.parquet", rows=10)
    defs = build_definitions(workspace.config(), environ={})
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("publish_ds").execute_in_process(instance=instance).success
    (workspace.root / "remote/s3/test-bucket/datasets/ds/data/train-00000.parquet").write_bytes(b"x")
    check_key = dg.AssetCheckKey(dg.AssetKey(["ds", "s3_copy"]), "remote_matches_staged")
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_check_selection={check_key},
                                                                  asset_selection=set())
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert checks(result) == {"s3_copy:remote_matches_staged": (False, "ERROR")}


def test_every_publish_that_changes_a_copy_is_audited_and_the_log_only_grows(workspace):
    workspace.land("train/a.parquet", rows=10)
    first = materialize_all(workspace)
    log = workspace.root / "state" / "audit.jsonl"
    entries = read_jsonl(log)
    assert sorted((e["dataset"], e["role"]) for e in entries) == [("ds", "hub"), ("ds", "s3")]
    hub = next(e for e in entries if e["role"] == "hub")
    assert hub["run_id"] == first.run_id and hub["commit_id"] and "README.md" in hub["files_added"]
    before = log.read_bytes()
    materialize_all(workspace)  # nothing new: nothing audited
    assert log.read_bytes() == before
    workspace.land("train/b.parquet", rows=5, seed=1)
    materialize_all(workspace)
    assert log.read_bytes().startswith(before) and len(read_jsonl(log)) == 4


def test_a_publish_is_audited_when_the_account_has_no_name(workspace, monkeypatch):
    """A container uid with no passwd entry and no USER: getpass fails, and the audit line (written after the
    copies changed) must not be lost for it."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(f"uid not found: {uid}")))
    workspace.land("train/a.parquet", rows=10)
    assert materialize_all(workspace).success
    entries = read_jsonl(workspace.root / "state" / "audit.jsonl")
    assert len(entries) == 2 and all(e["who"].startswith(f"uid {os.getuid()}@") for e in entries)


def test_a_publish_stopped_before_its_audit_line_gets_it_from_the_next_run(workspace):
    workspace.land("train/a.parquet", rows=10)
    log = workspace.root / "state" / "audit.jsonl"
    log.mkdir(parents=True)  # no line can be written: as if the process died right after the copies changed
    instance = dg.DagsterInstance.ephemeral()
    first = materialize_all(workspace, instance)
    assert not first.success
    [commit] = read_jsonl(workspace.root / "remote" / "hub" / "tests" / "ds" / ".hub" / "commits.jsonl")
    log.rmdir()
    second = materialize_all(workspace, instance)
    assert second.success and materialized(second)["hub_copy"]["noop"].value  # nothing left to publish
    entries = {e["role"]: e for e in read_jsonl(log)}
    assert {(role, e["run_id"], e["recovered"]) for role, e in entries.items()} == {
        ("hub", first.run_id, True), ("s3", first.run_id, True)}
    assert entries["hub"]["commit_id"] == commit["id"] and "README.md" in entries["hub"]["files_added"]
    assert sorted(entries["s3"]["files_added"]) == ["README.md", "data/train-00000.parquet"]
    assert not list((workspace.root / "state" / "ds" / "audit-pending").iterdir())
    materialize_all(workspace, instance)
    assert len(read_jsonl(log)) == 2  # settled once


def test_the_copies_wait_while_the_staged_tree_is_being_written(workspace):
    """The delete job or another run's shards step holds the staging lock: a copy planned then would publish a
    tree that changes under it (a 412's re-plan would even put back what the delete just took out)."""
    workspace.land("train/a.parquet", rows=10)
    ds, paths = workspace.stage()
    defs = build_definitions(workspace.config(), environ={})
    copies = [dg.AssetKey(["ds", "hub_copy"]), dg.AssetKey(["ds", "s3_copy"])]
    done = []
    copying = threading.Thread(target=lambda: done.append(defs.resolve_implicit_global_asset_job_def()
                               .execute_in_process(asset_selection=copies, raise_on_error=False)))
    commits = workspace.root / "remote" / "hub" / ds.hub.repo_id / ".hub" / "commits.jsonl"
    with steps.staging_lock(paths):  # a writer holds the tree
        copying.start()
        copying.join(timeout=3)
        assert not commits.exists() and not done  # waiting, not publishing
    copying.join(timeout=120)
    assert done[0].success and len(read_jsonl(commits)) == 1


def test_files_copied_as_landed_pass_the_checks_and_load_from_every_copy(workspace):
    # snappy: pyarrow's default codec, as landed here; train's one 80-row row group is over row_group_rows
    workspace.dataset(copy_fitting_files=True, compression="snappy", row_group_rows=50)
    workspace.land("train/a.parquet", rows=80)
    workspace.land("test/a.parquet", rows=20, seed=1)
    result = materialize_all(workspace)
    assert result.success and all(passed for passed, _ in checks(result).values()), checks(result)
    shards = materialized(result)["shards"]
    assert shards["copied_as_is"].value.splitlines() == ["- `data/test-00000.parquet`"]
    assert shards["rewritten_not_copied"].value == {
        "train/a.parquet": "row group 0 has 80 rows, over row_group_rows (50)"}
    hub_repo = workspace.root / "remote" / "hub" / "tests" / "ds"
    assert not list(hub_repo.rglob("*.copied.json"))  # the record stays in staging
    for tree in (workspace.staged, hub_repo):
        assert {k: v.num_rows for k, v in datasets.load_dataset(str(tree)).items()} == {"train": 80, "test": 20}


def test_a_dataset_with_nothing_landed_yet_publishes_nothing_and_fails_nothing(workspace):
    """make run and the nightly reconcile with a dataset whose first files have not landed: nothing to do."""
    result = materialize_all(workspace)
    assert result.success and all(passed for passed, _ in checks(result).values()), checks(result)
    meta = materialized(result)
    assert meta["hub_copy"]["status"].value == meta["s3_copy"]["status"].value == "nothing landed yet"
    assert not (workspace.root / "remote").exists()


def test_staging_lost_while_the_copies_have_the_dataset_fails_the_publish_and_wipes_nothing(workspace):
    workspace.land("train/a.parquet", rows=10)
    assert materialize_all(workspace).success
    hub_repo = workspace.root / "remote" / "hub" / "tests" / "ds"
    published = sorted(p.name for p in hub_repo.rglob("*.parquet"))
    shutil.rmtree(workspace.staged)
    shutil.rmtree(workspace.root / "state")
    (workspace.landing / "train" / "a.parquet").unlink()  # the landed files are gone too: nothing to stage
    result = materialize_all(workspace)
    assert not result.success
    failures = [e.step_key for e in result.all_events if e.is_step_failure]
    assert sorted(failures) == ["ds__hub_copy", "ds__s3_copy"]
    assert sorted(p.name for p in hub_repo.rglob("*.parquet")) == published


def test_row_check_fails_when_a_valid_landed_file_is_in_no_shard(workspace):
    """A staged shard lost by hand: its landed file is valid and counted published, yet in no shard. The check
    blocks the copies, which would otherwise mirror the loss and delete its rows from the Hub and S3."""
    workspace.land("train/a.parquet", rows=80)
    workspace.land("test/a.parquet", rows=20, seed=1)
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_all(workspace, instance).success
    assert materialize_all(workspace, instance).success  # landed_files now lists both files as published
    (workspace.staged / "data" / "test-00000.parquet").unlink()
    defs = build_definitions(workspace.config(), environ={})
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, raise_on_error=False,
        asset_selection=[dg.AssetKey(["ds", name]) for name in ("shards", "dataset_card", "hub_copy", "s3_copy")])
    assert checks(result)["shards:rows_conserved"] == (False, "ERROR") and not result.success
    assert set(materialized(result)) == {"shards"}
    for copy in ("hub/tests/ds", "s3/test-bucket/datasets/ds"):
        assert (workspace.root / "remote" / copy / "data" / "test-00000.parquet").is_file()


def test_schema_check_fails_when_a_shard_has_another_schema(workspace):
    workspace.land("train/a.parquet", rows=80)
    workspace.land("test/a.parquet", rows=20, seed=1)
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_all(workspace, instance).success
    shard = workspace.staged / "data" / "train-00000.parquet"
    meta = pq.read_metadata(shard).metadata
    pq.write_table(pq.read_table(shard).drop_columns(["tags"]).replace_schema_metadata(meta), shard)
    result = materialize_all(workspace, instance)  # same rows, same footer record: only the schema tells
    assert checks(result)["shards:schema_consistent"] == (False, "ERROR")
    assert checks(result)["shards:rows_conserved"] == (True, "ERROR")
    assert not result.success and "hub_copy" not in materialized(result)


def test_a_copy_failing_halfway_through_its_changes_is_audited_by_the_next_run(workspace):
    """The S3 copy fails after it changed the copy (the shard uploaded, the card, which goes last, not): the plan it
    noted before applying anything gives the next run the line the failed one never wrote."""
    workspace.land("train/a.parquet", rows=10)
    s3_copy = workspace.root / "remote/s3/test-bucket/datasets/ds"
    (s3_copy / "README.md").mkdir(parents=True)  # a folder where the card goes: that upload fails
    instance = dg.DagsterInstance.ephemeral()
    first = materialize_all(workspace, instance)
    assert not first.success and (s3_copy / "data/train-00000.parquet").is_file()
    (s3_copy / "README.md").rmdir()
    second = materialize_all(workspace, instance)
    assert second.success
    entries = [e for e in read_jsonl(workspace.root / "state" / "audit.jsonl") if e["role"] == "s3"]
    assert sorted((e["run_id"], e.get("recovered", False)) for e in entries) == sorted(
        [(first.run_id, True), (second.run_id, False)])
    recovered = next(e for e in entries if e.get("recovered"))
    assert recovered["files_added"] == ["data/train-00000.parquet"]
