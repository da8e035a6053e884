"""Server-side encryption (`sse`) on the S3 provider, against moto through the fault proxy: objects encrypted
otherwise are sent again, and a store that does not apply (or report) the encryption fails the publish loudly."""

from __future__ import annotations

import hashlib

import dagster as dg
import pytest

from upload_pipeline import archive, remote
from upload_pipeline.definitions import build_definitions
from upload_pipeline.providers.base import ProviderError

from .conftest import MiB, add_blob, s3_provider, stage
from .test_s3 import PREFIX, PROBE_PARTS, publish, read_back, staged

SSE_HEADER = "x-amz-server-side-encryption"
NOT_APPLIED = "the server did not apply the server-side encryption the dataset asks for"


def test_an_object_of_ours_not_encrypted_as_the_dataset_asks_is_sent_again_then_left(workspace, moto, bucket,
                                                                                     proxied, proxy, tmp_path):
    """As a crash leaves it between a continued upload's completion and the deletion of the wrongly encrypted
    object (s3_resume): the staged bytes and our sha256, but no encryption. The plan does not take it as done."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket, sse="AES256")
    blob = add_blob(workspace).read_bytes()
    client, key = moto.client(), PREFIX + "extra/blob.bin"
    client.put_object(Bucket=bucket, Key=key, Body=blob, Metadata={"sha256": hashlib.sha256(blob).hexdigest()})
    result = publish(s3_provider(proxied, tmp_path / "state"), ds, paths)
    assert client.head_object(Bucket=bucket, Key=key).get("ServerSideEncryption") == "AES256"
    assert proxy.counts["UploadPart"] == 3 + PROBE_PARTS
    assert result.plan.reencrypted == ["extra/blob.bin"] and result.metadata["objects_reencrypted"] == 1
    assert read_back(client, bucket) == staged(paths)
    assert remote.differences(s3_provider(proxied), ds.s3, ds, paths, "s3") == []

    proxy.reset_counters()
    again = publish(s3_provider(proxied, tmp_path / "state"), ds, paths)
    assert again.plan.noop and again.metadata["objects_reencrypted"] == 0
    assert proxy.counts["PutObject"] + proxy.counts["UploadPart"] + proxy.counts["HeadObject"] == 0


def test_objects_written_before_sse_was_set_are_sent_again_encrypted(workspace, moto, bucket, tmp_path):
    workspace.land("train/a.parquet", rows=50)
    publish(s3_provider(moto.endpoint, tmp_path / "state"), *stage(workspace, bucket))
    ds, paths = stage(workspace, bucket, sse="AES256")
    result = publish(s3_provider(moto.endpoint, tmp_path / "state"), ds, paths)
    for path in staged(paths):
        assert moto.client().head_object(Bucket=bucket, Key=PREFIX + path).get("ServerSideEncryption") == "AES256"
    assert result.plan.reencrypted == sorted(staged(paths)) and result.plan.unchanged == 0


def test_without_sse_the_encryption_of_objects_is_not_compared(workspace, moto, bucket, proxied, proxy):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    publish(s3_provider(moto.endpoint), ds, paths)
    client, key = moto.client(), PREFIX + "data/train-00000.parquet"
    body = (paths.staged / "data/train-00000.parquet").read_bytes()
    client.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="AES256",
                      Metadata={"sha256": hashlib.sha256(body).hexdigest()})
    assert "ServerSideEncryption" not in client.head_object(Bucket=bucket, Key=PREFIX + "README.md")
    proxy.reset_counters()
    result = publish(s3_provider(proxied), ds, paths)  # no HEAD cache: every object is HEADed, none compared
    assert result.plan.noop and result.metadata["objects_reencrypted"] == 0 and proxy.counts["HeadObject"] == 2
    assert client.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"


def test_a_store_that_does_not_apply_sse_fails_every_publish_naming_the_object_and_keeps_it(
        workspace, moto, bucket, proxied, proxy, tmp_path):
    """The store takes the header but its HEAD does not show it: each publish sends the objects again and fails,
    instead of re-uploading them in silence while the user believes the data encrypted."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket, sse="AES256")
    add_blob(workspace)
    proxy.strip_response_header(SSE_HEADER, op="HeadObject")
    for _ in range(2):
        proxy.reset_counters()
        with pytest.raises(ProviderError, match=NOT_APPLIED) as raised:
            publish(s3_provider(proxied, tmp_path / "state"), ds, paths)
        message = str(raised.value)
        assert message.startswith(f"s3://{bucket}/{PREFIX}data/train-00000.parquet: ")
        assert "with server-side encryption none; the dataset asks for AES256" in message
        assert "supports sse: AES256" in message and "remove sse" in message and "(2 of 2 objects failed)" in message
        # Sent again every time (the single-part shard and the three parts of the blob), never taken as done.
        assert proxy.counts["PutObject"] == 1 and proxy.counts["UploadPart"] == 3 + PROBE_PARTS
        assert proxy.faults["strip"] == 2  # the verification HEADs: the plan's come from the HEAD cache
        # Kept, with the staged bytes; the card, which goes after the shards, was not published.
        assert read_back(moto.client(), bucket) == {p: s for p, s in staged(paths).items() if p != "README.md"}
    # moto did encrypt it: only what the client is told is missing, which is all a client can go by.
    head = moto.client().head_object(Bucket=bucket, Key=PREFIX + "extra/blob.bin")
    assert head["ServerSideEncryption"] == "AES256"


def test_a_continued_upload_on_such_a_store_fails_the_same_way(workspace, moto, bucket, proxied, proxy, tmp_path):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket, sse="AES256")
    # The rest is there, encrypted (as the HEAD cache remembers): the continued upload is all there is to send.
    publish(s3_provider(proxied, tmp_path / "state"), ds, paths)
    blob = add_blob(workspace).read_bytes()
    client, key = moto.client(), PREFIX + "extra/blob.bin"
    up = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
                                        ServerSideEncryption="AES256",
                                        Metadata={"sha256": hashlib.sha256(blob).hexdigest()})
    client.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=blob[:5 * MiB],
                       ChecksumAlgorithm="SHA256")  # as a crash after the first part leaves it
    proxy.strip_response_header(SSE_HEADER, op="HeadObject")
    proxy.reset_counters()
    with pytest.raises(ProviderError, match=NOT_APPLIED) as raised:
        publish(s3_provider(proxied, tmp_path / "state"), ds, paths)
    assert str(raised.value).startswith(f"s3://{bucket}/{key}: ")
    # Continued (parts 2 and 3 only) and completed, not deleted and sent whole: the failure is the HEAD's.
    assert proxy.counts["UploadPart"] == 2 + PROBE_PARTS and proxy.counts["CompleteMultipartUpload"] == 1
    assert read_back(client, bucket)["extra/blob.bin"] == hashlib.sha256(blob).hexdigest()


def test_an_archive_on_such_a_store_fails_the_same_way_and_stays(workspace, moto, bucket, proxied, proxy):
    workspace.land("train/a.parquet", rows=50)
    ds, _ = stage(workspace, bucket, sse="AES256")
    blob = add_blob(workspace, "archive.bin", size=MiB)
    sha256 = hashlib.sha256(blob.read_bytes()).hexdigest()
    proxy.strip_response_header(SSE_HEADER, op="HeadObject")
    with pytest.raises(ProviderError, match=NOT_APPLIED) as raised:
        s3_provider(proxied).put_file(ds.s3, "archives/ds-1.tar.gz", blob, sha256)
    assert str(raised.value).startswith(f"s3://{bucket}/{PREFIX}archives/ds-1.tar.gz: ")
    assert read_back(moto.client(), bucket)["archives/ds-1.tar.gz"] == sha256
    proxy.clear_faults()  # a store that reports it: the same call succeeds
    assert s3_provider(proxied).put_file(ds.s3, "archives/ds-1.tar.gz", blob, sha256).endswith("ds-1.tar.gz")


def test_an_archive_written_before_sse_was_set_is_sent_again_encrypted_under_its_name(workspace, moto, bucket,
                                                                                      tmp_path):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket, archive=True)
    publish(s3_provider(moto.endpoint, tmp_path / "state"), ds, paths)
    first = archive.publish_archive(s3_provider(moto.endpoint, tmp_path / "state"), ds.s3, ds.name, paths, "v1")
    ds, paths = stage(workspace, bucket, archive=True, sse="AES256")  # encryption turned on
    s3 = s3_provider(moto.endpoint, tmp_path / "state")
    publish(s3, ds, paths)
    again = archive.publish_archive(s3, ds.s3, ds.name, paths, "v1")
    assert (again.status, again.key, again.sha256) == ("uploaded", first.key, first.sha256)  # same name and bytes
    assert moto.client().head_object(Bucket=bucket, Key=PREFIX + again.key)["ServerSideEncryption"] == "AES256"
    assert archive.publish_archive(s3, ds.s3, ds.name, paths, "v1").status == "unchanged"


def test_the_dry_run_says_which_uploads_are_only_for_their_encryption(workspace, moto, bucket, tmp_path,
                                                                     monkeypatch):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    publish(s3_provider(moto.endpoint, tmp_path / "state"), ds, paths)
    ds, paths = stage(workspace, bucket, sse="AES256")
    for name, value in moto.endpoint.env().items():
        monkeypatch.setenv(name, value)
    defs = build_definitions(workspace.config(), environ={"UPLOAD_PIPELINE_S3": "s3", **moto.endpoint.env()})
    result = defs.resolve_job_def("dry_run").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    report = result.output_for_node("plan_publish")["ds"]["s3"]
    assert sorted(report["reencrypt"]) == sorted(report["upload"]) == sorted(staged(paths))


def test_objects_encrypted_with_another_kms_key_are_sent_again_with_the_datasets(workspace, moto, bucket, tmp_path):
    """The dataset's sse_kms_key_id changed (a key rotated out, a key per environment): the objects, same bytes
    and same algorithm, are encrypted with the old key, so they are sent again under the new one."""
    workspace.land("train/a.parquet", rows=50)
    publish(s3_provider(moto.endpoint, tmp_path / "state"),
            *stage(workspace, bucket, sse="aws:kms", sse_kms_key_id="old-key"))
    ds, paths = stage(workspace, bucket, sse="aws:kms", sse_kms_key_id="new-key")
    result = publish(s3_provider(moto.endpoint, tmp_path / "state"), ds, paths)
    assert result.plan.reencrypted == sorted(staged(paths)) and result.plan.unchanged == 0
    for path in staged(paths):
        assert moto.client().head_object(Bucket=bucket, Key=PREFIX + path)["SSEKMSKeyId"].endswith("new-key")
