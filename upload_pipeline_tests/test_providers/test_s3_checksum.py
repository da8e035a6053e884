"""Which digest uploads carry: the probe's answer per server, and the headers boto3 really sends.

moto keeps a SHA256 it does not check and radosgw Pacific ignores flexible checksums; no server here checks
SHA256, so that answer is shown by the fault proxy refusing the probe's wrong-checksum part with the 400
BadDigest AWS sends, the way the other fault tests inject replies.
"""

from __future__ import annotations

import hashlib

import pytest

from upload_pipeline.providers.base import ProviderError

from .conftest import add_blob, s3_provider, stage
from .test_s3 import PREFIX, publish, read_back, staged


def record_headers(provider) -> list[dict[str, str]]:
    """The headers of every PutObject and UploadPart the provider's client sends, as sent."""
    sent: list[dict[str, str]] = []

    def keep(request, **_):
        sent.append({k.lower(): v for k, v in request.headers.items()})

    for op in ("PutObject", "UploadPart"):
        provider.client().meta.events.register(f"before-send.s3.{op}", keep)
    return sent


MD5, SHA256 = "content-md5", "x-amz-checksum-sha256"


def digests_sent(headers: list[dict[str, str]]) -> set[tuple[str, ...]]:
    """The digest headers of each request (Content-MD5 and any x-amz-checksum-*), over the requests."""
    return {tuple(sorted(k for k in h if k == MD5 or k.startswith("x-amz-checksum-"))) for h in headers}


def no_uploads_left(client, bucket: str) -> bool:
    return "Uploads" not in client.list_multipart_uploads(Bucket=bucket, Prefix=PREFIX)


def publish_recorded(workspace, endpoint, bucket: str, blob: bool = True, **knobs):
    """Land a file (and a three-part blob), publish through a new provider: (result, headers sent, paths)."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    if blob:
        add_blob(workspace)
    provider = s3_provider(endpoint, **knobs)
    sent = record_headers(provider)
    return publish(provider, ds, paths), sent, paths


def test_moto_keeps_sha256_unchecked_so_both_digests_go(workspace, moto, bucket):
    result, sent, paths = publish_recorded(workspace, moto.endpoint, bucket)
    assert result.metadata["upload_checksum"] == ("Content-MD5 + SHA256 (the server keeps SHA256 checksums "
                                                  "without checking them)")
    assert digests_sent(sent[2:]) == {(MD5, SHA256)}  # after the probe's two parts
    assert no_uploads_left(moto.client(), bucket) and read_back(moto.client(), bucket) == staged(paths)


@pytest.mark.radosgw
def test_radosgw_ignores_flexible_checksums_so_content_md5_alone_goes(workspace, radosgw, rgw_bucket):
    result, sent, paths = publish_recorded(workspace, radosgw.endpoint, rgw_bucket)
    assert result.metadata["upload_checksum"].startswith("Content-MD5 (the server ignores flexible checksums")
    assert len(sent) == 2 + 3 and digests_sent(sent) == {(MD5,)}  # 2 files and 3 parts: no probe part
    client = radosgw.endpoint.client()
    assert no_uploads_left(client, rgw_bucket) and read_back(client, rgw_bucket) == staged(paths)


def test_a_server_that_refuses_a_wrong_sha256_gets_sha256_alone(workspace, moto, bucket, proxied, proxy):
    proxy.fail_next(1, status=400, code="BadDigest", op="UploadPart", skip=1)  # the probe's wrong part
    result, sent, paths = publish_recorded(workspace, proxied, bucket)
    assert result.metadata["upload_checksum"] == "SHA256 (the server checks SHA256 checksums)"
    assert digests_sent(sent[2:]) == {(SHA256,)}
    assert no_uploads_left(moto.client(), bucket) and read_back(moto.client(), bucket) == staged(paths)


@pytest.mark.parametrize(("mode", "expected"), [("sha256", (SHA256,)), ("content_md5", (MD5,)),
                                                ("both", (MD5, SHA256))])
def test_a_fixed_mode_sends_its_digests_without_probing(workspace, moto, bucket, proxied, proxy, mode, expected):
    result, sent, paths = publish_recorded(workspace, proxied, bucket, upload_checksum=mode)
    assert proxy.counts["UploadPart"] == 3 and proxy.counts["AbortMultipartUpload"] == 0
    assert digests_sent(sent) == {expected} and result.metadata["upload_checksum"].endswith("(set by upload_checksum)")
    blob = moto.client().get_object(Bucket=bucket, Key=PREFIX + "extra/blob.bin")["Body"].read()
    assert hashlib.sha256(blob).hexdigest() == staged(paths)["extra/blob.bin"]


@pytest.mark.parametrize("skip", [0, 1])  # the part with the right SHA256, or the one with a wrong one
def test_a_probe_refused_for_another_reason_fails_the_sync_and_leaves_nothing(workspace, moto, bucket, proxied,
                                                                            proxy, skip):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    proxy.fail_next(1, status=403, code="AccessDenied", op="UploadPart", skip=skip)
    with pytest.raises(ProviderError, match="learn which checksums") as raised:
        publish(s3_provider(proxied), ds, paths)
    assert "access denied (403)" in str(raised.value)
    assert proxy.counts["PutObject"] == 0 and no_uploads_left(moto.client(), bucket)


def test_a_server_that_refuses_the_checksum_header_gets_content_md5(workspace, moto, bucket, proxied, proxy):
    proxy.fail_next(1, status=501, code="NotImplemented", op="CreateMultipartUpload")
    result, sent, paths = publish_recorded(workspace, proxied, bucket, blob=False)
    assert result.metadata["upload_checksum"].startswith("Content-MD5 (the server refuses flexible checksums")
    assert digests_sent(sent) == {(MD5,)} and read_back(moto.client(), bucket) == staged(paths)
