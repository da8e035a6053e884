"""Ceph radosgw cluster fixture: integrity checks, SigV4 through FaultProxy, multipart state surviving a crash."""

import base64
import dataclasses
import hashlib

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from upload_pipeline_tests.s3_server import fault_proxy

from .conftest import MiB

pytestmark = pytest.mark.radosgw
NO_RETRY = {"retries": {"mode": "standard", "total_max_attempts": 1}}


def test_content_md5_mismatch_is_bad_digest(radosgw, rgw_bucket):
    client = radosgw.endpoint.client()
    wrong_md5 = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as raised:
        client.put_object(Bucket=rgw_bucket, Key="k", Body=b"payload", ContentMD5=wrong_md5)
    assert raised.value.response["Error"]["Code"] == "BadDigest"


def test_signature_is_checked_and_stays_valid_through_the_proxy(radosgw, rgw_bucket):
    with fault_proxy(radosgw.endpoint) as proxy:
        client = radosgw.endpoint.with_url(proxy.endpoint_url).client()
        client.put_object(Bucket=rgw_bucket, Key="k", Body=b"payload")
        assert client.get_object(Bucket=rgw_bucket, Key="k")["Body"].read() == b"payload"
        assert proxy.counts == {"PutObject": 1, "GetObject": 1}
    forged = dataclasses.replace(radosgw.endpoint, secret_key="wrong-secret")
    with pytest.raises(ClientError) as raised:
        forged.client().get_object(Bucket=rgw_bucket, Key="k")
    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_multipart_upload(radosgw, rgw_bucket, payload_12mib):
    client = radosgw.endpoint.client()
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    client.upload_file(str(payload_12mib), rgw_bucket, "big.bin", Config=config)
    assert client.head_object(Bucket=rgw_bucket, Key="big.bin")["ETag"].endswith('-3"')
    assert client.get_object(Bucket=rgw_bucket, Key="big.bin")["Body"].read() == payload_12mib.read_bytes()


def _upload_two_parts_then_crash(radosgw, client, bucket, key, data):
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = [
        client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=part)["ETag"]
        for n, part in ((1, data[: 5 * MiB]), (2, data[5 * MiB : 10 * MiB]))
    ]
    radosgw.kill_rgw()
    with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
        client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=3, Body=data[10 * MiB :])
    radosgw.restart_rgw()
    return upload_id, etags


@pytest.mark.parametrize("finish", ["complete", "abort"])
def test_multipart_upload_survives_a_radosgw_crash(radosgw, rgw_bucket, payload_12mib, finish):
    client = radosgw.endpoint.client(**NO_RETRY)
    data = payload_12mib.read_bytes()
    upload_id, etags = _upload_two_parts_then_crash(radosgw, client, rgw_bucket, "big.bin", data)

    [upload] = client.list_multipart_uploads(Bucket=rgw_bucket)["Uploads"]
    assert (upload["Key"], upload["UploadId"]) == ("big.bin", upload_id)
    parts = client.list_parts(Bucket=rgw_bucket, Key="big.bin", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, etags[0], 5 * MiB), (2, etags[1], 5 * MiB)]

    if finish == "abort":
        client.abort_multipart_upload(Bucket=rgw_bucket, Key="big.bin", UploadId=upload_id)
        assert "Uploads" not in client.list_multipart_uploads(Bucket=rgw_bucket)
        return
    last = client.upload_part(Bucket=rgw_bucket, Key="big.bin", UploadId=upload_id, PartNumber=3, Body=data[10 * MiB :])
    client.complete_multipart_upload(
        Bucket=rgw_bucket, Key="big.bin", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate([*etags, last["ETag"]], 1)]},
    )
    assert client.get_object(Bucket=rgw_bucket, Key="big.bin")["Body"].read() == data
