"""S3 uploads cut by a crash are continued by the next sync (providers/s3_resume), against moto through the fault
proxy: only the missing parts travel; anything that is not the file's is aborted and the file sent whole."""

from __future__ import annotations

import hashlib

import pytest

from upload_pipeline.providers.base import ProviderError

from .conftest import MiB, add_blob, s3_provider, stage
from .test_s3 import PREFIX, PROBE_PARTS, publish, read_back, staged


def test_a_server_killed_mid_multipart_then_a_rerun_continues_the_upload_and_leaves_none(workspace, moto, bucket,
                                                                                        proxied, proxy):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    add_blob(workspace)
    proxy.kill_on_next(op="UploadPart", path=r"blob\.bin", skip=1)  # part 1 lands, the server dies at part 2
    provider = s3_provider(proxied, attempts=1, max_concurrency=1)
    with pytest.raises(ProviderError, match="check that the S3 endpoint is up"):
        publish(provider, ds, paths)
    proxy.revive()
    client = moto.client()
    [orphan] = client.list_multipart_uploads(Bucket=bucket, Prefix=PREFIX)["Uploads"]  # its abort failed too
    assert orphan["Key"] == PREFIX + "extra/blob.bin"

    proxy.reset_counters()
    result = publish(provider, ds, paths)
    # Part 1 is on the server and is the file's first 5 MiB: only parts 2 and 3 travel.
    meta = result.metadata
    assert (meta["uploads_continued"], meta["stale_uploads_aborted"]) == (1, 0)
    assert meta["bytes_already_uploaded"] == 5 * MiB and result.bytes_sent == meta["bytes_uploaded"] - 5 * MiB
    assert proxy.counts["UploadPart"] == 2 and proxy.counts["CompleteMultipartUpload"] == 1
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket, Prefix=PREFIX)
    assert read_back(client, bucket) == staged(paths)
    head = client.head_object(Bucket=bucket, Key=PREFIX + "extra/blob.bin", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"') and head["Metadata"]["sha256"] == staged(paths)["extra/blob.bin"]


def test_an_unfinished_upload_whose_parts_are_not_the_file_is_aborted_and_the_file_sent_whole(
        workspace, moto, bucket, proxied, proxy):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    add_blob(workspace)
    client = moto.client()
    key = PREFIX + "extra/blob.bin"
    for body in (bytes(5 * MiB), b"x" * (6 * MiB)):  # a part's size but other bytes; a part of another size
        up = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")
        client.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=body,
                           ChecksumAlgorithm="SHA256")
    client.create_multipart_upload(Bucket=bucket, Key=PREFIX + "data/gone.parquet")  # a file no longer staged
    result = publish(s3_provider(proxied), ds, paths)
    assert (result.metadata["uploads_continued"], result.metadata["stale_uploads_aborted"]) == (0, 3)
    assert proxy.counts["UploadPart"] == 3 + PROBE_PARTS
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket, Prefix=PREFIX)
    assert read_back(client, bucket) == staged(paths)


@pytest.mark.parametrize("algorithm, continued", [(None, 1), ("CRC32", 0)])
def test_an_unfinished_upload_is_continued_only_if_started_with_the_digest_this_sync_sends(
        workspace, moto, bucket, algorithm, continued):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    blob = add_blob(workspace).read_bytes()
    client, key = moto.client(), PREFIX + "extra/blob.bin"
    digest = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    metadata = {"sha256": hashlib.sha256(blob).hexdigest()}
    up = client.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata, **digest)
    client.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=blob[:5 * MiB], **digest)
    # content_md5: this sync sends no flexible checksum, so it can complete only an upload started without one
    result = publish(s3_provider(moto.endpoint, upload_checksum="content_md5"), ds, paths)
    meta = result.metadata
    assert (meta["uploads_continued"], meta["stale_uploads_aborted"]) == (continued, 1 - continued)
    assert read_back(client, bucket) == staged(paths)


def test_a_continued_upload_of_a_file_changed_since_is_caught_and_the_file_sent_whole(workspace, moto, bucket,
                                                                                       proxied, proxy):
    """The crashed run's upload holds the file's first part, but its object metadata names another sha256 (the
    file at that key changed since, keeping its first bytes): the verification catches it in the same sync."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    blob = add_blob(workspace).read_bytes()
    client, key = moto.client(), PREFIX + "extra/blob.bin"
    up = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
                                        Metadata={"sha256": hashlib.sha256(b"the file before").hexdigest()})
    client.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=blob[:5 * MiB],
                       ChecksumAlgorithm="SHA256")
    result = publish(s3_provider(proxied), ds, paths)
    assert result.metadata["uploads_continued"] == 1
    # 2 parts to complete the continued upload, then 3 to send the file whole
    assert proxy.counts["UploadPart"] == 2 + 3 + PROBE_PARTS and proxy.counts["CompleteMultipartUpload"] == 2
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"]["sha256"] == hashlib.sha256(blob).hexdigest()
    assert read_back(client, bucket) == staged(paths)
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket, Prefix=PREFIX)


@pytest.mark.parametrize("started_with, continued_as_is", [({}, False), ({"ServerSideEncryption": "AES256"}, True)])
def test_a_continued_upload_ends_encrypted_as_the_dataset_asks(workspace, moto, bucket, proxied, proxy,
                                                               started_with, continued_as_is):
    """S3 lists no upload's encryption, so one a crashed run started before `sse` was set is continued; the
    completion's answer shows it unencrypted, and the object is deleted and the file sent whole, encrypted."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket, sse="AES256")
    blob = add_blob(workspace).read_bytes()
    client, key = moto.client(), PREFIX + "extra/blob.bin"
    up = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
                                        Metadata={"sha256": hashlib.sha256(blob).hexdigest()}, **started_with)
    client.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=blob[:5 * MiB],
                       ChecksumAlgorithm="SHA256")
    result = publish(s3_provider(proxied), ds, paths)
    assert result.metadata["uploads_continued"] == 1
    resent = 0 if continued_as_is else 3
    assert proxy.counts["UploadPart"] == 2 + resent + PROBE_PARTS
    assert client.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"
    assert read_back(client, bucket) == staged(paths)
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket, Prefix=PREFIX)


def test_an_unfinished_upload_started_with_another_storage_class_is_aborted(workspace, moto, bucket):
    """The object of a continued upload gets the storage class its upload was started with: one started otherwise
    than the dataset's `storage_class` asks is aborted and the file sent whole, in the class asked for."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket, storage_class="STANDARD_IA")
    blob = add_blob(workspace).read_bytes()
    client, key = moto.client(), PREFIX + "extra/blob.bin"
    up = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
                                        Metadata={"sha256": hashlib.sha256(blob).hexdigest()})  # STANDARD
    client.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=blob[:5 * MiB],
                       ChecksumAlgorithm="SHA256")
    result = publish(s3_provider(moto.endpoint), ds, paths)
    assert (result.metadata["uploads_continued"], result.metadata["stale_uploads_aborted"]) == (0, 1)
    assert client.head_object(Bucket=bucket, Key=key).get("StorageClass") == "STANDARD_IA"
    assert read_back(client, bucket) == staged(paths)
