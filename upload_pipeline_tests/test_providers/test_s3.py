"""The S3 provider against moto over HTTP, through the fault proxy: sync, mirror/keep, multipart, faults, auth."""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from upload_pipeline import remote, steps
from upload_pipeline.providers import build_resources
from upload_pipeline.providers.base import MissingCredentials, ProviderError
from upload_pipeline.providers.s3 import S3StorageResource

from .conftest import SECRET, MiB, add_blob, s3_provider, stage

PREFIX = "datasets/ds/"
PROBE_PARTS = 2  # UploadParts of the checksum probe, once per provider and bucket (s3_checksum)


def publish(provider, ds, paths):
    return remote.sync(provider, ds.s3, remote.sync_request(ds, paths, "s3", "publish"))


def read_back(client, bucket: str) -> dict[str, str]:
    """path under the prefix → sha256 of the bytes boto3 downloads."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len(PREFIX):]] = hashlib.sha256(body).hexdigest()
    return out


def staged(paths) -> dict[str, str]:
    return {p: f.sha256 for p, f in steps.staged_files(paths).items()}


def flip_first_byte(params, **_):
    body = params["body"]
    data = body.read() if hasattr(body, "read") else bytes(body)
    params["body"] = bytes([data[0] ^ 0xFF]) + data[1:]


def test_sync_uploads_everything_then_nothing_and_reads_back_identical(workspace, moto, bucket, proxied, proxy,
                                                                       tmp_path):
    workspace.land("train/a.parquet", rows=200)
    workspace.land("test/a.parquet", rows=50, seed=1)
    ds, paths = stage(workspace, bucket)
    result = publish(s3_provider(proxied, tmp_path / "state"), ds, paths)
    assert read_back(moto.client(), bucket) == staged(paths)
    head = moto.client().head_object(Bucket=bucket, Key=PREFIX + "data/train-00000.parquet")
    assert head["Metadata"]["sha256"] == staged(paths)["data/train-00000.parquet"]
    assert head["ContentType"] == "application/vnd.apache.parquet"
    meta = result.metadata
    assert (meta["objects_uploaded"], meta["objects_skipped"], meta["checksums_compared"]) == (3, 0, 3)
    assert meta["s3_uris"][0] == f"s3://{bucket}/{PREFIX}README.md" and meta["throughput_mb_s"] > 0
    assert result.url == f"s3://{bucket}/{PREFIX}"

    proxy.reset_counters()  # a new provider: the HEAD cache comes from the state folder
    again = publish(s3_provider(proxied, tmp_path / "state"), ds, paths)
    assert again.plan.noop and again.metadata["objects_skipped"] == 3
    assert proxy.counts["PutObject"] + proxy.counts["UploadPart"] + proxy.counts["HeadObject"] == 0
    proxy.reset_counters()
    assert publish(s3_provider(proxied), ds, paths).plan.noop  # no cache: one HEAD per object
    assert proxy.counts["HeadObject"] == 3 and proxy.counts["PutObject"] == 0


def test_an_append_uploads_only_the_new_shard_and_the_card(workspace, moto, bucket, proxied, proxy, tmp_path):
    workspace.land("train/a.parquet", rows=200)
    ds, paths = stage(workspace, bucket)
    provider = s3_provider(proxied, tmp_path / "state")
    publish(provider, ds, paths)
    workspace.land("train/b.parquet", rows=50, seed=2, start_id=200)
    stage(workspace, bucket)
    proxy.reset_counters()
    result = publish(provider, ds, paths)
    assert [u.path for u in result.plan.uploads] == ["README.md", "data/train-00001.parquet"]
    sizes = sum((paths.staged / p).stat().st_size for p in ("README.md", "data/train-00001.parquet"))
    assert proxy.counts["PutObject"] == 2 and proxy.bytes_by_op["PutObject"] == sizes
    assert proxy.counts["DeleteObjects"] == 0
    assert read_back(moto.client(), bucket) == staged(paths)
    assert remote.differences(provider, ds.s3, ds, paths, "s3") == []


def test_mirror_deletes_what_staging_lacks_under_the_prefix_but_not_archives(workspace, moto, bucket):
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    ds, paths = stage(workspace, bucket)
    provider = s3_provider(moto.endpoint)
    publish(provider, ds, paths)
    client = moto.client()
    for key in (PREFIX + "data/train-00042.parquet", PREFIX + "old_config/x.parquet",
                PREFIX + "archives/ds-abc.tar.gz", "datasets/other/keep.parquet"):
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    (paths.staged / "data" / "test-00000.parquet").unlink()
    result = publish(provider, ds, paths)
    assert result.plan.deletes == ["data/test-00000.parquet", "data/train-00042.parquet", "old_config/x.parquet"]
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {PREFIX + "archives/ds-abc.tar.gz", "datasets/other/keep.parquet"} <= keys
    assert {k: v for k, v in read_back(client, bucket).items() if not k.startswith("archives/")} == staged(paths)


def test_keep_policy_deletes_nothing(workspace, moto, bucket):
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    ds, paths = stage(workspace, bucket, delete_policy="keep")
    provider = s3_provider(moto.endpoint)
    publish(provider, ds, paths)
    moto.client().put_object(Bucket=bucket, Key=PREFIX + "data/train-00042.parquet", Body=b"x")
    (paths.staged / "data" / "test-00000.parquet").unlink()
    result = publish(provider, ds, paths)
    assert result.plan.deletes == [] and result.plan.noop
    assert {"data/test-00000.parquet", "data/train-00042.parquet"} <= set(read_back(moto.client(), bucket))


def test_a_multipart_object_is_verified_against_the_staged_sha256(workspace, moto, bucket, proxied, proxy):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    blob = add_blob(workspace)
    result = publish(s3_provider(proxied), ds, paths)
    head = moto.client().head_object(Bucket=bucket, Key=PREFIX + "extra/blob.bin", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"') and head["ChecksumSHA256"]
    # 3 parts, and the checksum probe's 2 (moto keeps a SHA256 without checking it: both digests are sent)
    assert proxy.counts["UploadPart"] == 3 + PROBE_PARTS and proxy.counts["CompleteMultipartUpload"] == 1
    assert result.metadata["upload_checksum"].startswith("Content-MD5 + SHA256 (the server keeps")
    assert result.metadata["multipart_objects"] == 1 and result.metadata["checksums_compared"] == 3
    assert read_back(moto.client(), bucket)["extra/blob.bin"] == hashlib.sha256(blob.read_bytes()).hexdigest()


@pytest.mark.parametrize("op", ["UploadPart", "PutObject"])
def test_bytes_changed_before_sending_fail_the_verification_and_are_not_left(workspace, moto, bucket, op):
    """moto stores any body and checksum it is sent; the HEAD after the upload is what catches the change."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    add_blob(workspace)
    provider = s3_provider(moto.endpoint)
    provider.client().meta.events.register_last(f"before-call.s3.{op}", flip_first_byte)
    with pytest.raises(ProviderError, match="integrity check failed after upload") as raised:
        publish(provider, ds, paths)
    assert "SHA256 checksum" in str(raised.value)
    provider.client().meta.events.unregister(f"before-call.s3.{op}", flip_first_byte)
    publish(provider, ds, paths)  # the bad object was deleted, so the rerun uploads it again
    assert {k: v for k, v in read_back(moto.client(), bucket).items()} == staged(paths)


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_a_slowdown_burst_on_upload_part_is_retried(workspace, moto, bucket, proxied, proxy, mode):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    blob = add_blob(workspace)
    proxy.fail_next(2, status=503, op="UploadPart", path=r"blob\.bin")
    publish(s3_provider(proxied, attempts=4, retry_mode=mode), ds, paths)
    assert proxy.faults == {"error": 2} and proxy.counts["UploadPart"] == 3 + 2 + PROBE_PARTS
    assert read_back(moto.client(), bucket)["extra/blob.bin"] == hashlib.sha256(blob.read_bytes()).hexdigest()


def test_a_connection_reset_mid_part_is_retried(workspace, moto, bucket, proxied, proxy):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    add_blob(workspace)
    proxy.reset_next(op="UploadPart", path=r"partNumber=2", after_bytes=1 * MiB)
    publish(s3_provider(proxied, attempts=3), ds, paths)
    assert proxy.faults == {"reset": 1} and proxy.counts["UploadPart"] == 4 + PROBE_PARTS
    assert read_back(moto.client(), bucket) == staged(paths)


def test_errors_past_the_attempt_budget_say_how_many_attempts(workspace, bucket, proxied, proxy):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    proxy.fail_next(3, status=500, op="PutObject")
    with pytest.raises(ProviderError, match="for 3 attempts"):
        publish(s3_provider(proxied, attempts=3), ds, paths)
    assert proxy.counts["PutObject"] == 3  # total_max_attempts, not retries


def test_missing_credentials_fail_before_any_request_and_name_the_variables(workspace, bucket, proxied, proxy):
    workspace.land("train/a.parquet", rows=20)
    ds, paths = stage(workspace, bucket)
    provider = S3StorageResource(s3=S3Resource(endpoint_url=proxied.url, region_name="us-east-1"))
    with pytest.raises(MissingCredentials, match="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        publish(provider, ds, paths)
    half = S3StorageResource(s3=S3Resource(endpoint_url=proxied.url, aws_access_key_id="AKIAEXAMPLE"))
    with pytest.raises(MissingCredentials, match="must be set together"):
        publish(half, ds, paths)
    assert sum(proxy.counts.values()) == 0


def test_a_missing_bucket_fails_before_any_upload_and_says_to_create_it(workspace, proxied, proxy):
    workspace.land("train/a.parquet", rows=20)
    ds, paths = stage(workspace, "no-such-bucket-here")
    with pytest.raises(ProviderError, match=r"bucket 'no-such-bucket-here' does not exist.*create it"):
        publish(s3_provider(proxied), ds, paths)
    assert set(proxy.counts) == {"HeadBucket"}


def test_secrets_never_appear_in_messages_metadata_or_logs(workspace, bucket, proxied, proxy, caplog):
    caplog.set_level(logging.DEBUG, logger="upload_pipeline")
    workspace.land("train/a.parquet", rows=20)
    ds, paths = stage(workspace, bucket)
    provider = s3_provider(proxied, secret=SECRET, attempts=1)
    result = publish(provider, ds, paths)
    assert "(explicit)" in provider.check_auth() and proxied.access_key not in provider.check_auth()
    proxy.kill()
    with pytest.raises(ProviderError) as raised:
        publish(s3_provider(proxied, secret=SECRET, attempts=1), ds, paths)
    for text in (str(raised.value), repr(result.metadata), caplog.text):
        assert SECRET not in text


def test_the_provider_is_chosen_by_environment_with_boto3s_own_variables(workspace):
    env = {"UPLOAD_PIPELINE_S3": "s3", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "eu-west-1",
           "AWS_MAX_ATTEMPTS": "7", "AWS_RETRY_MODE": "adaptive"}
    provider = build_resources(workspace.config(), env)["s3"]
    assert isinstance(provider, S3StorageResource) and provider.retry_mode == "adaptive"
    assert provider.s3.max_attempts == 6  # S3Resource counts retries; AWS_MAX_ATTEMPTS counts attempts
    assert provider.s3.endpoint_url == dg.EnvVar("AWS_ENDPOINT_URL")
    assert provider.s3.region_name == dg.EnvVar("AWS_DEFAULT_REGION")
    assert provider.s3.aws_access_key_id is None and provider.s3.profile_name is None  # boto3's chain decides
    assert provider.state_dir == str(workspace.root / "state")
    with pytest.raises(ProviderError, match="AWS_RETRY_MODE='legacy'"):
        build_resources(workspace.config(), {**env, "AWS_RETRY_MODE": "legacy"})


def test_a_failed_upload_deletes_nothing(workspace, moto, bucket, proxied, proxy):
    """Uploads first, deletions after: a sync whose upload fails leaves the objects it would have deleted, so the
    copy under the prefix stays the last whole one."""
    workspace.land("train/a.parquet", rows=20)
    workspace.land("test/a.parquet", rows=20, seed=4)
    ds, paths = stage(workspace, bucket)
    publish(s3_provider(proxied, attempts=1), ds, paths)
    published = read_back(moto.client(), bucket)
    (paths.staged / "data" / "test-00000.parquet").unlink()
    add_blob(workspace, size=MiB)
    proxy.reset_counters()
    proxy.fail_next(1, status=500, op="PutObject")
    with pytest.raises(ProviderError, match="the server kept failing"):
        publish(s3_provider(proxied, attempts=1), ds, paths)
    assert proxy.counts["DeleteObjects"] == 0 and read_back(moto.client(), bucket) == published


def test_a_multipart_file_changed_after_the_plan_fails_the_verification(workspace, moto, bucket):
    """The bytes sent are not the staged ones (changed in place, same size, between the plan and the upload): the
    parts' checksums agree with what was read, so only the staged sha256, recomputed in the same read, tells."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    blob = add_blob(workspace)

    def change_in_place(plan):
        data = bytearray(blob.read_bytes())
        data[-1] ^= 0xFF
        blob.write_bytes(bytes(data))

    request = remote.sync_request(ds, paths, "s3", "publish")
    with pytest.raises(ProviderError, match="integrity check failed after upload: the server's SHA256 checksum"):
        remote.sync(s3_provider(moto.endpoint), ds.s3, request, before_apply=change_in_place)
    assert "extra/blob.bin" not in read_back(moto.client(), bucket)  # not left with our sha256 on other bytes


def test_without_server_checksums_a_file_grown_after_the_plan_fails_on_its_size(workspace, moto, bucket):
    """With Content-MD5 alone (radosgw Pacific) the HEAD has no checksum to compare: the size is what tells."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    shard = paths.staged / "data" / "train-00000.parquet"
    request = remote.sync_request(ds, paths, "s3", "publish")
    with pytest.raises(ProviderError, match=r"integrity check failed after upload: size \d+ remotely"):
        remote.sync(s3_provider(moto.endpoint, upload_checksum="content_md5"), ds.s3, request,
                    before_apply=lambda plan: shard.write_bytes(shard.read_bytes() + b"appended"))
    assert "data/train-00000.parquet" not in read_back(moto.client(), bucket)


def test_a_folder_of_more_than_a_thousand_objects_is_deleted_whole(workspace, moto, bucket):
    """A listing comes in pages of 1000 keys and DeleteObjects takes 1000 at most: both are paged."""
    ds = workspace.dataset(s3={"bucket": bucket, "prefix": "datasets/ds"})
    client = moto.client()
    keys = [f"{PREFIX}old/{i:04d}.bin" for i in range(1001)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=b"x"), keys))
    client.put_object(Bucket=bucket, Key=PREFIX + "kept.bin", Body=b"x")
    result = s3_provider(moto.endpoint).delete_paths(ds.s3, ["old"], "drop old")
    assert result.plan.deletes == [key[len(PREFIX):] for key in keys]
    assert list(read_back(client, bucket)) == ["kept.bin"]
