"""`copy_fitting_files`: a landed file that already fits a shard is staged byte for byte, the rest rewritten."""

from __future__ import annotations

import hashlib
import json
from unittest.mock import ANY

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from upload_pipeline import copying, journal, remote, staging, steps
from upload_pipeline.delete import DeleteRequest, delete_from_hub
from upload_pipeline.parquet_io import dataset_schema
from upload_pipeline.providers.hf_hub import HfHubResource
from upload_pipeline.staging import read_shards
from upload_pipeline.state import write_json_atomic
from upload_pipeline_tests import datagen
from upload_pipeline_tests.conftest import WRITE_TOKEN, settle


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def land(workspace, relpath, rows, seed=0, start_id=0, **write_options):
    path = workspace.landing / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(datagen.table(rows, seed, start_id), path, **write_options)
    settle(path)
    return path


@pytest.fixture
def copying_workspace(workspace):
    # snappy: the codec pyarrow (and so the landed files here) writes by default
    workspace.dataset(copy_fitting_files=True, compression="snappy")
    return workspace


def test_a_fitting_file_is_staged_byte_for_byte_and_recorded(copying_workspace):
    ws = copying_workspace
    a, b = land(ws, "train/a.parquet", 300), land(ws, "train/b.parquet", 200, seed=1, start_id=300)
    ds, paths = ws.config().datasets[0], ws.paths()
    landed = steps.land(ds, paths).validation.files
    run = steps.shard(ds, paths)
    assert run.copied == ["data/train-00000.parquet", "data/train-00001.parquet"]
    assert [sha(ws.staged / p) for p in run.copied] == [sha(a), sha(b)]
    shards = read_shards(ds, ws.staged)
    assert [s.sources for s in shards] == [(sha(a),), (sha(b),)]
    assert [s.arrow_bytes for s in shards] == [f.arrow_bytes for f in landed] and shards[0].arrow_bytes > 0
    assert run.hashes == {p: sha(ws.staged / p) for p in run.copied}
    # The record is hidden: never part of what the remote copies mirror.
    assert (ws.staged / "data" / copying.RECORD).is_file()
    steps.write_card(ds, paths)
    assert set(steps.staged_files(paths)) == {"README.md", *run.copied}
    assert steps.shard(ds, paths).written == []  # nothing new: nothing copied again


def test_files_that_do_not_fit_are_rewritten_between_the_copies_in_path_order(copying_workspace):
    ws = copying_workspace
    land(ws, "train/a.parquet", 100)
    land(ws, "train/b.parquet", 100, seed=1, start_id=100, compression="zstd")
    land(ws, "train/c.parquet", 100, seed=2, start_id=200, compression="zstd")
    land(ws, "train/d.parquet", 100, seed=3, start_id=300)
    ds, paths = ws.config().datasets[0], ws.paths()
    steps.land(ds, paths)
    run = steps.shard(ds, paths)
    assert [s.path for s in run.written] == [f"data/train-0000{i}.parquet" for i in range(3)]
    assert run.copied == ["data/train-00000.parquet", "data/train-00002.parquet"]
    assert run.not_copied == {f"train/{n}.parquet": "row group 0 is compressed with ZSTD, not snappy" for n in "bc"}
    middle = pq.read_metadata(ws.staged / "data/train-00001.parquet")
    assert middle.row_group(0).column(0).compression == "SNAPPY" and middle.num_rows == 200
    ids = [i for s in run.written for i in pq.read_table(ws.staged / s.path)["id"].to_pylist()]
    assert ids == list(range(400))


@pytest.mark.parametrize("overrides, write_options, reason", [
    ({"shard_size": "1KB"}, {}, "larger than shard_size"),
    ({"row_group_rows": 50}, {}, "has 100 rows, over row_group_rows (50)"),
    ({"row_group_bytes": "1KB"}, {}, "bytes uncompressed, over row_group_bytes (1000)"),
    ({}, {"compression": "gzip"}, "compressed with GZIP, not snappy"),
])
def test_why_a_file_does_not_fit(copying_workspace, overrides, write_options, reason):
    ds = copying_workspace.dataset(**overrides)
    path = land(copying_workspace, "train/a.parquet", 100, **write_options)
    schema = dataset_schema(pq.read_schema(path))
    assert reason in copying.misfit(path, ds, schema)


def test_a_file_that_needs_a_cast_does_not_fit(copying_workspace, tmp_path):
    ds = copying_workspace.dataset(schema_policy="promote")
    path = tmp_path / "narrow.parquet"
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int32())}), path)
    assert "differ from the dataset schema" in copying.misfit(path, ds, pa.schema([("id", pa.int64())]))
    assert copying.misfit(path, ds, pa.schema([("id", pa.int32())])) is None


def test_a_file_with_a_nested_not_null_does_not_fit(copying_workspace, tmp_path):
    """strict looks past it, but a copy would keep it; rewritten, the shard has the dataset's nullable field."""
    ds = copying_workspace.dataset()
    path = tmp_path / "nested.parquet"
    typ = pa.struct([pa.field("x", pa.int64(), nullable=False)])
    pq.write_table(pa.table({"s": pa.array([{"x": 1}], typ)}), path, compression="snappy")
    schema = dataset_schema(pq.read_schema(path))
    assert "differ from the dataset schema" in copying.misfit(path, ds, schema)


def test_a_crash_after_the_journal_moves_the_copy_and_its_record_in_together(copying_workspace, monkeypatch):
    ws = copying_workspace
    a = land(ws, "train/a.parquet", 100)
    ds, paths = ws.config().datasets[0], ws.paths()
    steps.land(ds, paths)
    real_recover = journal.recover

    def crash_with_journal_written(scratch, target):
        if (scratch / journal.JOURNAL).exists():
            raise KeyboardInterrupt("crash")
        return real_recover(scratch, target)

    monkeypatch.setattr(journal, "recover", crash_with_journal_written)
    with pytest.raises(KeyboardInterrupt):
        steps.shard(ds, paths)
    assert not (ws.staged / "data").exists()
    monkeypatch.undo()
    run = steps.shard(ds, paths)
    assert run.written == [] and [s.sources for s in run.all_shards] == [(sha(a),)]
    assert copying.read_records(ws.staged / "data")["train-00000.parquet"]["sha256"] == sha(a)


def test_a_lost_record_is_measured_again_from_the_shard(copying_workspace):
    ws = copying_workspace
    land(ws, "train/a.parquet", 300)
    ds, _ = ws.stage()
    before = read_shards(ds, ws.staged)
    (ws.staged / "data" / copying.RECORD).unlink()
    assert read_shards(ds, ws.staged) == before


def test_a_file_rewritten_in_place_since_validation_is_not_copied(copying_workspace):
    ws = copying_workspace
    a = land(ws, "train/a.parquet", 100)
    ds, paths = ws.config().datasets[0], ws.paths()
    steps.land(ds, paths)
    land(ws, "train/a.parquet", 100, seed=9)
    with pytest.raises(RuntimeError, match="train/a.parquet: changed since it was validated"):
        steps.shard(ds, paths)
    assert not (ws.staged / "data").exists() and a.exists()


def test_copied_and_rewritten_shards_publish_and_load_together(copying_workspace, hub_server):
    ws = copying_workspace
    land(ws, "train/a.parquet", 120)
    land(ws, "train/b.parquet", 80, seed=1, start_id=120, compression="zstd")
    land(ws, "test/a.parquet", 30, seed=2, start_id=1000)
    ds, paths = ws.stage()
    hub = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url)
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "publish"))
    loaded = datasets.load_dataset(ds.hub.repo_id)
    assert sorted(loaded["train"]["id"]) == list(range(200)) and loaded["test"]["id"] == list(range(1000, 1030))
    info = loaded["train"].info.splits["train"]
    assert info.num_examples == 200 and info.num_bytes == sum(s.arrow_bytes for s in read_shards(ds, ws.staged)
                                                              if s.split == "train")


def test_deleting_a_split_drops_its_copies_from_the_record(copying_workspace, hub_server):
    ws = copying_workspace
    train, test = land(ws, "train/a.parquet", 40), land(ws, "test/a.parquet", 10, seed=5)
    ds, paths = ws.stage()
    hub = HfHubResource(token=WRITE_TOKEN, endpoint=hub_server.url)
    remote.sync(hub, ds.hub, remote.sync_request(ds, paths, "hub", "publish"))
    delete_from_hub(ws.config(), hub, DeleteRequest("ds", "default", split="test", confirm=True))
    assert copying.read_records(ws.staged / "data") == {
        "train-00000.parquet": {"size": train.stat().st_size, "sha256": sha(train), "arrow_bytes": ANY}}
    assert list(datasets.load_dataset(ds.hub.repo_id)) == ["train"]
    # The withdrawn file stays withdrawn: the next publish does not copy it back.
    ws.stage()
    assert [s.sources for s in read_shards(ds, ws.staged)] == [(sha(train),)] and test.exists()


def our_shard(workspace, relpath, rows, sources):
    """A parquet file carrying this pipeline's footer record, as a shard of another dataset does."""
    footer = json.dumps({"sources": sources, "arrow_bytes": 1}).encode()
    table = datagen.table(rows, 0).replace_schema_metadata({staging.FOOTER_KEY: footer})
    path = workspace.landing / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    settle(path)
    return path


def test_a_landed_shard_of_ours_is_rewritten_not_copied(copying_workspace):
    ws = copying_workspace
    our_shard(ws, "train/from-elsewhere.parquet", 50, ["0" * 64])
    ds, paths = ws.config().datasets[0], ws.paths()
    steps.land(ds, paths)
    run = steps.shard(ds, paths)
    assert run.copied == [] and "shard written by upload_pipeline" in run.not_copied["train/from-elsewhere.parquet"]
    # Its rows count as published under its own hash: the next run adds nothing.
    steps.land(ds, paths)
    again = steps.shard(ds, paths)
    assert again.written == [] and sum(s.rows for s in again.all_shards) == 50


def test_a_copy_with_our_footer_counts_as_its_own_bytes(copying_workspace):
    """A copy staged before such files were refused: its record, not the footer it carries, says its source."""
    ws = copying_workspace
    landed = our_shard(ws, "train/from-elsewhere.parquet", 50, ["0" * 64])
    ds, paths = ws.config().datasets[0], ws.paths()
    copying.copy_file(landed, ws.staged / "data/train-00000.parquet")
    write_json_atomic(ws.staged / "data" / copying.RECORD, {"train-00000.parquet": {
        "size": landed.stat().st_size, "sha256": sha(landed), "arrow_bytes": 1}})
    assert [s.sources for s in read_shards(ds, ws.staged)] == [(sha(landed),)]
    assert [f.status for f in steps.land(ds, paths).validation.files] == ["published"]
    assert steps.shard(ds, paths).written == []


def test_a_file_with_an_empty_row_group_is_rewritten_and_the_staged_tree_loads(copying_workspace):
    """`datasets` sizes its reads by the first row group: copied as it is, such a file made the dataset fail to
    load ("BatchSize must be greater than 0")."""
    ds, paths = copying_workspace.config().datasets[0], copying_workspace.paths()
    path = copying_workspace.landing / "train/a.parquet"
    path.parent.mkdir(parents=True)
    table = datagen.table(30, 0)
    with pq.ParquetWriter(path, table.schema) as writer:  # a job whose first chunk had no rows
        writer.write_table(table.slice(0, 0))
        writer.write_table(table)
    settle(path)
    assert copying.misfit(path, ds, dataset_schema(pq.read_schema(path))) == "row group 0 has no rows"
    steps.land(ds, paths)
    assert steps.shard(ds, paths).copied == []
    steps.write_card(ds, paths)
    loaded = datasets.load_dataset(str(copying_workspace.staged), cache_dir=str(copying_workspace.root / "cache"))
    assert loaded["train"]["id"] == list(range(30))


def test_a_file_rewritten_in_place_while_it_is_copied_is_refused(copying_workspace, monkeypatch):
    """A writer that rewrites the landed file while it is copied leaves a copy of bytes nobody validated, under the
    content hash of the old ones: the step refuses it and stages nothing."""
    ws = copying_workspace
    a = land(ws, "train/a.parquet", 100)
    ds, paths = ws.config().datasets[0], ws.paths()
    steps.land(ds, paths)
    real_copy = copying.copy_file

    def copy_while_rewritten(src, dst):
        land(ws, "train/a.parquet", 120, seed=9)  # the writer gets there first
        real_copy(src, dst)

    monkeypatch.setattr(copying, "copy_file", copy_while_rewritten)
    with pytest.raises(RuntimeError, match="train/a.parquet: changed since it was validated"):
        steps.shard(ds, paths)
    assert not (ws.staged / "data").exists() and a.exists()
