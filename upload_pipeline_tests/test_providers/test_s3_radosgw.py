"""The S3 provider against Ceph radosgw (Pacific): Content-MD5 rejection, signatures, a real crash and resume.

radosgw validates Content-MD5 but ignores flexible checksums, and keeps multipart uploads across a crash, so
it shows what moto cannot: a corrupted body rejected by the server, and an orphan upload that survives the
crash and is cleaned up by the next sync.
"""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from upload_pipeline.providers.base import ProviderError

from .conftest import MiB, add_blob, s3_provider, stage
from .test_s3 import PREFIX, flip_first_byte, publish, read_back, staged

pytestmark = pytest.mark.radosgw


def test_sync_multipart_and_rerun_on_radosgw(workspace, radosgw, rgw_bucket, tmp_path):
    workspace.land("train/a.parquet", rows=200)
    ds, paths = stage(workspace, rgw_bucket)
    add_blob(workspace)
    provider = s3_provider(radosgw.endpoint, tmp_path / "state")
    result = publish(provider, ds, paths)
    client = radosgw.endpoint.client()
    assert read_back(client, rgw_bucket) == staged(paths)
    assert client.head_object(Bucket=rgw_bucket, Key=PREFIX + "extra/blob.bin")["ETag"].endswith('-3"')
    # Pacific keeps no flexible checksums: size and sha256 metadata are compared, Content-MD5 did the rest.
    assert result.metadata["checksums_compared"] == 0 and result.metadata["multipart_objects"] == 1
    assert result.metadata["upload_checksum"].startswith("Content-MD5 (")  # the digest it checks, alone
    assert publish(provider, ds, paths).plan.noop


@pytest.mark.parametrize(("op", "key"), [("PutObject", "data/train-00000.parquet"),
                                         ("UploadPart", "extra/blob.bin")])
def test_a_body_changed_after_its_md5_is_rejected_and_reported(workspace, radosgw, rgw_bucket, op, key):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, rgw_bucket)
    add_blob(workspace)
    provider = s3_provider(radosgw.endpoint)
    # Runs after our Content-MD5 hook and before signing: only the MD5 still describes the original bytes.
    provider.client().meta.events.register_last(f"before-call.s3.{op}", flip_first_byte)
    with pytest.raises(ProviderError, match=r"rejected the bytes it received \(BadDigest") as raised:
        publish(provider, ds, paths)
    assert key in str(raised.value)
    client = radosgw.endpoint.client()
    assert PREFIX + key not in {o["Key"] for o in client.list_objects_v2(Bucket=rgw_bucket).get("Contents", [])}
    assert "Uploads" not in client.list_multipart_uploads(Bucket=rgw_bucket, Prefix=PREFIX)  # aborted


def test_a_radosgw_crash_mid_multipart_is_continued_by_the_next_sync(workspace, radosgw, rgw_bucket):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, rgw_bucket)
    blob = add_blob(workspace)
    provider = s3_provider(radosgw.endpoint, attempts=1, max_concurrency=1)
    parts = []

    def crash_before_part_two(params, **_):
        parts.append(1)
        if len(parts) == 2:
            radosgw.kill_rgw()

    provider.client().meta.events.register("before-call.s3.UploadPart", crash_before_part_two)
    with pytest.raises(ProviderError, match="check that the S3 endpoint is up"):
        publish(provider, ds, paths)
    radosgw.restart_rgw()
    client = radosgw.endpoint.client()
    [orphan] = client.list_multipart_uploads(Bucket=rgw_bucket, Prefix=PREFIX)["Uploads"]  # survived the crash
    assert len(client.list_parts(Bucket=rgw_bucket, Key=orphan["Key"], UploadId=orphan["UploadId"])["Parts"]) == 1

    provider.client().meta.events.unregister("before-call.s3.UploadPart", crash_before_part_two)
    sent = []
    provider.client().meta.events.register("before-parameter-build.s3.UploadPart",
                                           lambda params, **_: sent.append(params["PartNumber"]))
    result = publish(provider, ds, paths)
    # The part that survived the crash is the file's first 5 MiB (its ETag is its MD5): only 2 and 3 travel.
    assert (result.metadata["uploads_continued"], result.metadata["stale_uploads_aborted"]) == (1, 0)
    assert result.metadata["bytes_already_uploaded"] == 5 * MiB
    assert sorted(sent) == [2, 3]
    assert "Uploads" not in client.list_multipart_uploads(Bucket=rgw_bucket, Prefix=PREFIX)
    assert read_back(client, rgw_bucket)["extra/blob.bin"] == hashlib.sha256(blob.read_bytes()).hexdigest()
    assert read_back(client, rgw_bucket) == staged(paths)


def test_a_wrong_secret_is_refused_before_any_upload_without_showing_it(workspace, radosgw, rgw_bucket):
    workspace.land("train/a.parquet", rows=20)
    ds, paths = stage(workspace, rgw_bucket)
    wrong = dataclasses.replace(radosgw.endpoint, secret_key="wrong-secret-0123456789")
    with pytest.raises(ProviderError, match="credentials are wrong.*set AWS_ACCESS_KEY_ID") as raised:
        publish(s3_provider(wrong), ds, paths)
    assert "wrong-secret-0123456789" not in str(raised.value)
    assert "Contents" not in radosgw.endpoint.client().list_objects_v2(Bucket=rgw_bucket)
