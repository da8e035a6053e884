"""The tar.gz archive: deterministic build, verified upload to moto, temp kept on failure and reused, history."""

from __future__ import annotations

import hashlib
import io
import tarfile

import dagster as dg
import pytest

from upload_pipeline import archive, remote
from upload_pipeline.archive import LocalArchiveStore, build, publish_archive
from upload_pipeline.definitions import build_definitions
from upload_pipeline.providers.base import ProviderError
from upload_pipeline.providers.local_s3 import LocalS3Resource
from upload_pipeline.state import read_jsonl
from upload_pipeline_tests.test_assets import materialize_all, materialized
from upload_pipeline_tests.test_providers.conftest import MiB, add_blob, s3_provider, stage

pytestmark = pytest.mark.usefixtures("no_ambient_aws")

KEY = "datasets/ds/archives/ds-v1.tar.gz"


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getmembers()


def no_rebuild(*_, **__):
    raise AssertionError("the archive was built again")


@pytest.fixture
def staged_ds(workspace, bucket):
    workspace.land("train/a.parquet", rows=200)
    workspace.land("test/a.parquet", rows=40, seed=1)
    return stage(workspace, bucket)


def test_archive_is_uploaded_verified_and_matches_its_record(staged_ds, moto, bucket):
    ds, paths = staged_ds
    record = publish_archive(s3_provider(moto.endpoint), ds.s3, "ds", paths, "v1")
    body = moto.client().get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert record.status == "uploaded" and record.uri == f"s3://{bucket}/{KEY}"
    assert hashlib.sha256(body).hexdigest() == record.sha256 and len(body) == record.size
    assert record.compression_ratio == round(record.source_bytes / record.size, 4) and record.files == 3
    assert not paths.file(archive.TMP_DIR).exists()  # deleted once verified
    [line] = read_jsonl(paths.file(archive.HISTORY))
    assert line["id"] == record.id and line["sha256"] == record.sha256 and line["error"] is None
    assert line["started_at"] <= line["finished_at"]
    entries = members(body)
    assert [m.name for m in entries] == ["ds-v1/README.md", "ds-v1/data/test-00000.parquet",
                                         "ds-v1/data/train-00000.parquet"]
    assert {(m.mtime, m.uid, m.gid, m.mode) for m in entries} == {(0, 0, 0, 0o644)}
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        assert tar.extractfile("ds-v1/README.md").read() == (paths.staged / "README.md").read_bytes()


def test_the_build_is_byte_deterministic_and_skips_system_files(staged_ds, tmp_path):
    _, paths = staged_ds
    for junk in (".DS_Store", "Thumbs.db", "data/._train-00000.parquet", "data/desktop.ini", "notes.tmp"):
        (paths.staged / junk).write_bytes(b"junk")
    files = archive.archived_files(paths)
    assert sorted(files) == ["README.md", "data/test-00000.parquet", "data/train-00000.parquet"]
    build(paths.staged, files, "ds-x", tmp_path / "one.tar.gz")
    build(paths.staged, files, "ds-x", tmp_path / "two.tar.gz")
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()


def test_a_failed_upload_keeps_the_archive_for_the_retry(staged_ds, moto, bucket, proxied, proxy, monkeypatch):
    ds, paths = staged_ds
    proxy.fail_next(1, status=500, op="PutObject")
    with pytest.raises(ProviderError, match="kept failing"):
        publish_archive(s3_provider(proxied, attempts=1), ds.s3, "ds", paths, "v1")
    [failed] = read_jsonl(paths.file(archive.HISTORY))
    kept = paths.file(archive.TMP_DIR) / "ds-v1.tar.gz"
    assert failed["status"] == "failed" and "InternalError" in failed["error"] and kept.is_file()
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == failed["sha256"]

    monkeypatch.setattr(archive, "build", no_rebuild)
    record = publish_archive(s3_provider(proxied), ds.s3, "ds", paths, "v1")
    assert record.reused_temp and record.status == "uploaded" and record.sha256 == failed["sha256"]
    assert not kept.exists() and len(read_jsonl(paths.file(archive.HISTORY))) == 2
    body = moto.client().get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == record.sha256


def test_an_archive_upload_cut_by_a_crash_is_continued_and_a_sync_in_between_leaves_it(
        workspace, bucket, moto, proxied, proxy):
    workspace.land("train/a.parquet", rows=50)
    add_blob(workspace)  # incompressible: the archive is about 12 MiB, three 5 MiB parts
    ds, paths = stage(workspace, bucket, archive=True)
    provider = s3_provider(proxied, attempts=1, max_concurrency=1)
    proxy.kill_on_next(op="UploadPart", path=r"archives/", skip=1)  # part 1 lands, the server dies at part 2
    with pytest.raises(ProviderError):
        publish_archive(provider, ds.s3, "ds", paths, "v1")
    proxy.revive()
    # The S3 copy runs before the archive in a run: it leaves the archive's unfinished upload alone.
    synced = remote.sync(provider, ds.s3, remote.sync_request(ds, paths, "s3", "publish"))
    assert synced.metadata["stale_uploads_aborted"] == 0
    proxy.reset_counters()
    record = publish_archive(provider, ds.s3, "ds", paths, "v1")
    assert record.status == "uploaded" and record.reused_temp
    assert proxy.counts["UploadPart"] == record.size // (5 * MiB) == 2  # parts 2 and 3
    body = moto.client().get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == record.sha256
    assert "Uploads" not in moto.client().list_multipart_uploads(Bucket=bucket)


def test_an_unchanged_tree_is_neither_rebuilt_nor_uploaded(workspace, staged_ds, bucket, moto, proxied, proxy,
                                                            monkeypatch):
    ds, paths = staged_ds
    first = publish_archive(s3_provider(proxied), ds.s3, "ds", paths, "v1")
    monkeypatch.setattr(archive, "build", no_rebuild)
    proxy.reset_counters()
    again = publish_archive(s3_provider(proxied), ds.s3, "ds", paths, "v2")  # another name, same tree
    assert again.status == "unchanged" and again.sha256 == first.sha256 and again.key == first.key
    assert proxy.counts["PutObject"] == 0 and len(read_jsonl(paths.file(archive.HISTORY))) == 1
    monkeypatch.undo()

    # An upload a crash cut short (of a tree since gone): an unchanged tree never continues it, so it is aborted.
    stale = moto.client().create_multipart_upload(Bucket=bucket, Key="datasets/ds/archives/ds-v0.tar.gz")
    assert publish_archive(s3_provider(proxied), ds.s3, "ds", paths, "v2").status == "unchanged"
    assert "Uploads" not in moto.client().list_multipart_uploads(Bucket=bucket), stale["UploadId"]

    workspace.land("train/b.parquet", rows=10, seed=2, start_id=200)
    stage(workspace, bucket)
    third = publish_archive(s3_provider(proxied), ds.s3, "ds", paths, "v3")
    assert third.status == "uploaded" and third.sha256 != first.sha256
    assert len(read_jsonl(paths.file(archive.HISTORY))) == 2


def test_the_embedded_default_keeps_archives_next_to_the_local_copy(workspace, staged_ds):
    ds, paths = staged_ds
    local = LocalS3Resource(root=str(workspace.root / "remote" / "s3"))
    record = publish_archive(archive.store_for(local), ds.s3, "ds", paths, "v1")
    assert isinstance(archive.store_for(local), LocalArchiveStore)
    path = local.folder(ds.s3) / "archives" / "ds-v1.tar.gz"
    assert record.uri == str(path) and hashlib.sha256(path.read_bytes()).hexdigest() == record.sha256


def test_the_archive_asset_names_the_version_after_the_hub_commit(workspace):
    workspace.dataset(s3={"bucket": "test-bucket", "prefix": "datasets/ds", "archive": True})
    workspace.land("train/a.parquet", rows=30)
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_all(workspace, instance)
    assert result.success
    meta = materialized(result)
    commit = meta["hub_copy"]["commit_id"].value
    assert meta["s3_archive"]["version"].value == commit and meta["s3_archive"]["status"].value == "uploaded"
    assert (workspace.root / f"remote/s3/test-bucket/datasets/ds/archives/ds-{commit}.tar.gz").is_file()
    assert materialized(materialize_all(workspace, instance))["s3_archive"]["status"].value == "unchanged"


def test_a_version_archived_with_another_tree_is_never_overwritten(workspace, staged_ds, bucket, moto):
    ds, paths = staged_ds
    first = publish_archive(s3_provider(moto.endpoint), ds.s3, "ds", paths, "v1")
    workspace.land("train/b.parquet", rows=10, seed=2, start_id=200)
    stage(workspace, bucket)
    second = publish_archive(s3_provider(moto.endpoint), ds.s3, "ds", paths, "v1")  # the same name, asked again
    manifest = archive.manifest_sha256(archive.archived_files(paths))
    assert second.key == f"archives/ds-{manifest[:16]}.tar.gz" and second.sha256 != first.sha256
    body = moto.client().get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == first.sha256


def test_after_the_delete_job_the_archive_is_named_after_its_commit(workspace):
    workspace.dataset(s3={"bucket": "test-bucket", "prefix": "datasets/ds", "archive": True})
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    instance = dg.DagsterInstance.ephemeral()
    first = materialized(materialize_all(workspace, instance))
    archives = workspace.root / "remote/s3/test-bucket/datasets/ds/archives"
    before = {p.name: p.read_bytes() for p in archives.iterdir()}
    defs = build_definitions(workspace.config(), environ={})
    rc = {"ops": {"delete_paths": {"config": {"dataset": "ds", "config_name": "default", "split": "test",
                                              "confirm": True}}}}
    deleted = defs.resolve_job_def("delete_from_hub").execute_in_process(run_config=rc, instance=instance)
    [observed] = [e.event_specific_data.asset_observation for e in deleted.all_events
                  if e.event_type_value == "ASSET_OBSERVATION"]
    # The S3 copy and its archive again (as "Re-execute from failure" of the S3 steps would)
    again = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(["ds", "s3_copy"]), dg.AssetKey(["ds", "s3_archive"])])
    assert materialized(again)["s3_archive"]["version"].value == observed.metadata["commit_id"].value
    assert first["s3_archive"]["version"].value != observed.metadata["commit_id"].value
    assert all((archives / name).read_bytes() == data for name, data in before.items())


def test_after_the_whole_dataset_is_deleted_no_empty_archive_is_made(workspace):
    workspace.dataset(s3={"bucket": "test-bucket", "prefix": "datasets/ds", "archive": True})
    workspace.land("train/a.parquet", rows=20)
    instance = dg.DagsterInstance.ephemeral()
    materialize_all(workspace, instance)
    archives = workspace.root / "remote/s3/test-bucket/datasets/ds/archives"
    before = sorted(p.name for p in archives.iterdir())
    defs = build_definitions(workspace.config(), environ={})
    rc = {"ops": {"delete_paths": {"config": {"dataset": "ds", "config_name": "default", "confirm": True}}}}
    assert defs.resolve_job_def("delete_from_hub").execute_in_process(run_config=rc, instance=instance).success
    meta = materialized(materialize_all(workspace, instance))
    assert meta["s3_archive"]["status"].value == "nothing staged"
    assert sorted(p.name for p in archives.iterdir()) == before
    assert not [p for p in (workspace.root / "remote/s3/test-bucket/datasets/ds").rglob("*.parquet")]


def test_an_archive_gone_from_the_bucket_is_uploaded_again(staged_ds, moto, bucket):
    """The history says the tree was archived; the bucket has the last word (a lifecycle rule or a person may
    have removed the object): a tree whose archive is gone is archived again, not reported unchanged."""
    ds, paths = staged_ds
    first = publish_archive(s3_provider(moto.endpoint), ds.s3, "ds", paths, "v1")
    moto.client().delete_object(Bucket=bucket, Key=KEY)
    again = publish_archive(s3_provider(moto.endpoint), ds.s3, "ds", paths, "v1")
    assert again.status == "uploaded" and again.sha256 == first.sha256
    body = moto.client().get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == first.sha256


def test_a_kept_archive_damaged_since_is_built_again_not_reused(staged_ds, moto, bucket, proxied, proxy):
    """The archive a failed upload kept is reused only while its bytes are the ones its sidecar names: a damaged
    one would fail its upload's checksum on every retry, and the dataset would never be archived again."""
    ds, paths = staged_ds
    proxy.fail_next(1, status=500, op="PutObject")
    with pytest.raises(ProviderError):
        publish_archive(s3_provider(proxied, attempts=1), ds.s3, "ds", paths, "v1")
    kept = paths.file(archive.TMP_DIR) / "ds-v1.tar.gz"
    built = kept.read_bytes()
    kept.write_bytes(built[:-100] + bytes(100))  # e.g. a disk error, or a tool that touched the state folder
    record = publish_archive(s3_provider(proxied), ds.s3, "ds", paths, "v1")
    assert record.status == "uploaded" and not record.reused_temp
    assert record.sha256 == hashlib.sha256(built).hexdigest()
    assert moto.client().get_object(Bucket=bucket, Key=KEY)["Body"].read() == built
