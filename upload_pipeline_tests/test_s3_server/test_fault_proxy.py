"""FaultProxy in front of moto: transparent relay, S3 fault injection, kill/revive and counters, with boto3."""

import http.client
import http.server
import socket
import threading
import time

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError, ConnectionClosedError

from upload_pipeline_tests.s3_server import FaultProxy, S3Endpoint, s3_operation

from .conftest import MiB

PARTS_OF_5MIB = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
RETRYING = {"retries": {"mode": "standard", "total_max_attempts": 4}}
NO_RETRY = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@pytest.mark.parametrize(
    ("method", "target", "headers", "op"),
    [
        ("PUT", "/b/k", {}, "PutObject"),
        ("PUT", "/b/k", {"X-Amz-Copy-Source": "/b/src"}, "CopyObject"),
        ("PUT", "/b/k?partNumber=2&uploadId=u", {}, "UploadPart"),
        ("POST", "/b/k?uploads", {}, "CreateMultipartUpload"),
        ("POST", "/b/k?uploadId=u", {}, "CompleteMultipartUpload"),
        ("DELETE", "/b/k?uploadId=u", {}, "AbortMultipartUpload"),
        ("GET", "/b/k?uploadId=u", {}, "ListParts"),
        ("GET", "/b?list-type=2&prefix=x", {}, "ListObjectsV2"),
        ("GET", "/b?uploads", {}, "ListMultipartUploads"),
        ("POST", "/b?delete", {}, "DeleteObjects"),
        ("HEAD", "/b/dir/k.parquet", {}, "HeadObject"),
        ("GET", "/b/k", {}, "GetObject"),
        ("DELETE", "/b/k", {}, "DeleteObject"),
        ("PUT", "/b", {}, "CreateBucket"),
        ("GET", "/b/k?tagging", {}, "GET ?tagging"),
        ("GET", "/", {}, "ListBuckets"),
    ],
)
def test_operation_names(method, target, headers, op):
    assert s3_operation(method, target, headers) == op


def test_relays_host_and_signature_headers_unchanged():
    seen = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_PUT(self):
            seen.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        with FaultProxy(f"http://127.0.0.1:{upstream.server_address[1]}") as proxy:
            S3Endpoint(proxy.endpoint_url).client().put_object(Bucket="b", Key="k", Body=b"payload")
            headers, body = seen[0]
            assert headers["Host"] == f"127.0.0.1:{proxy.port}"  # what the client signed
            assert "host" in headers["Authorization"].split("SignedHeaders=")[1]
            assert body == b"payload"
            assert proxy.bytes_forwarded == len(b"payload")
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_multipart_upload_counts_and_bytes(proxied, proxy, bucket, payload_12mib):
    client = proxied.client()
    client.upload_file(str(payload_12mib), bucket, "big.bin", Config=PARTS_OF_5MIB)

    size = payload_12mib.stat().st_size
    assert proxy.counts == {"CreateMultipartUpload": 1, "UploadPart": 3, "CompleteMultipartUpload": 1}
    assert proxy.bytes_by_op["UploadPart"] == size
    assert client.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-3"')
    assert client.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == payload_12mib.read_bytes()
    assert proxy.counts["HeadObject"] == proxy.counts["GetObject"] == 1


def test_slowdown_burst_on_upload_part_is_retried(proxied, proxy, bucket, payload_12mib):
    proxy.fail_next(2, status=503, op="UploadPart")
    client = proxied.client(**RETRYING)
    client.upload_file(str(payload_12mib), bucket, "big.bin", Config=PARTS_OF_5MIB)

    assert proxy.faults == {"error": 2}
    assert proxy.counts["UploadPart"] == 3 + 2
    assert proxy.bytes_by_op["UploadPart"] == payload_12mib.stat().st_size  # errored parts were not forwarded
    assert client.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == payload_12mib.read_bytes()


def test_injected_errors_are_s3_xml_errors(proxied, proxy, bucket):
    client = proxied.client(**NO_RETRY)
    proxy.fail_next(status=500, op="PutObject")
    proxy.fail_next(status=503, method="PUT", path=r"/slow$")
    proxy.fail_next(status=403, code="AccessDenied", op="HeadObject")
    for status, code, call in [
        (500, "InternalError", lambda: client.put_object(Bucket=bucket, Key="a", Body=b"x")),
        (503, "SlowDown", lambda: client.put_object(Bucket=bucket, Key="slow", Body=b"x")),
        (403, "403", lambda: client.head_object(Bucket=bucket, Key="a")),  # HEAD errors have no body
    ]:
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert raised.value.response["Error"]["Code"] == code
    client.put_object(Bucket=bucket, Key="a", Body=b"x")  # rules are used up: passes through
    assert proxy.faults == {"error": 3}


def test_a_stripped_response_header_is_gone_from_matching_answers_only_until_cleared(proxied, proxy, bucket):
    client = proxied.client(**NO_RETRY)
    client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256")
    proxy.strip_response_header("X-Amz-Server-Side-Encryption", op="HeadObject")

    assert "ServerSideEncryption" not in client.head_object(Bucket=bucket, Key="k")  # the header, any case
    assert client.get_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"  # another operation
    assert "ServerSideEncryption" not in client.head_object(Bucket=bucket, Key="k")  # not used up
    assert proxy.faults == {"strip": 2}  # counted per answer it was taken from
    proxy.clear_faults()
    assert client.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"


def test_connection_reset_mid_part_is_retried(proxied, proxy, bucket, payload_12mib):
    proxy.reset_next(op="UploadPart", path=r"partNumber=2", after_bytes=1 * MiB)
    client = proxied.client(**RETRYING)
    client.upload_file(str(payload_12mib), bucket, "big.bin", Config=PARTS_OF_5MIB)

    assert proxy.faults == {"reset": 1}
    assert proxy.counts["UploadPart"] == 4
    assert proxy.bytes_by_op["UploadPart"] == payload_12mib.stat().st_size
    assert client.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == payload_12mib.read_bytes()


def test_killed_mid_multipart_then_revived_leaves_an_abortable_upload(proxied, proxy, bucket, payload_12mib):
    proxy.kill_on_next(op="UploadPart", skip=1)  # part 1 lands, the server dies as part 2 arrives
    client = proxied.client(**NO_RETRY)
    sequential = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, use_threads=False)
    with pytest.raises(ConnectionClosedError):  # not wrapped: S3UploadFailedError is for ClientError only
        client.upload_file(str(payload_12mib), bucket, "big.bin", Config=sequential)
    assert not proxy.alive
    # s3transfer's AbortMultipartUpload was refused too, so the upload is left behind.
    assert proxy.counts == {"CreateMultipartUpload": 1, "UploadPart": 2}

    proxy.revive()
    [upload] = client.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert upload["Key"] == "big.bin"
    parts = client.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload["UploadId"])["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 5 * MiB)]
    client.abort_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload["UploadId"])
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket)
    assert proxy.counts["AbortMultipartUpload"] == 1


def test_kill_refuses_connections_until_revived_on_the_same_port(proxied, proxy, bucket):
    client = proxied.client(**NO_RETRY)
    port = proxy.port
    proxy.kill()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    proxy.revive()
    assert proxy.port == port
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delay_past_the_read_timeout_is_retried(proxied, proxy, bucket):
    client = proxied.client(read_timeout=0.5, **RETRYING)
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    proxy.delay_next(seconds=1.5, op="HeadObject")
    started = time.monotonic()
    client.head_object(Bucket=bucket, Key="k")
    assert time.monotonic() - started >= 0.5
    assert proxy.counts["HeadObject"] == 2 and proxy.faults == {"delay": 1}


def test_keep_alive_survives_chunked_bodies_and_injected_errors(proxied, proxy, bucket):
    # Presigned URLs let a bare http.client connection talk S3 and show which socket is reused.
    client = proxied.client()
    put_url = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"})
    get_url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    target = lambda url: url.split(str(proxy.port), 1)[1]  # noqa: E731

    conn.request("PUT", target(put_url), body=iter([b"chunked ", b"body"]), encode_chunked=True)
    assert conn.getresponse().read() == b"" and conn.sock is not None
    sock = conn.sock
    proxy.fail_next(status=503, op="GetObject")
    conn.request("GET", target(get_url))
    error = conn.getresponse()
    assert error.status == 503 and b"<Code>SlowDown</Code>" in error.read()
    conn.request("GET", target(get_url))
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"chunked body")
    assert conn.sock is sock
    conn.close()
    assert proxy.bytes_by_op["PutObject"] == len(b"chunked body")
