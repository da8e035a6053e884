"""moto S3 server fixture: loopback binding, basic object API through boto3, clean stop."""

import socket

import pytest

from upload_pipeline_tests.s3_server import MotoServer


def test_binds_loopback_on_an_ephemeral_port(moto):
    assert moto.endpoint.url.startswith("http://127.0.0.1:")
    assert not moto.endpoint.url.endswith(":5000")


def test_put_get_list_paginated_delete(moto, bucket):
    client = moto.client()
    keys = [f"data/part-{i:02d}.parquet" for i in range(7)]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())

    assert client.get_object(Bucket=bucket, Key=keys[3])["Body"].read() == keys[3].encode()
    paginator = client.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=bucket, Prefix="data/", PaginationConfig={"PageSize": 3}))
    assert [len(page["Contents"]) for page in pages] == [3, 3, 1]
    assert [obj["Key"] for page in pages for obj in page["Contents"]] == keys

    client.delete_object(Bucket=bucket, Key=keys[0])
    client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[1:]]})
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_stop_releases_the_port():
    server = MotoServer()
    endpoint = server.start()
    client = server.client()
    client.create_bucket(Bucket="stop-check")
    client.delete_bucket(Bucket="stop-check")  # moto's backends are process-wide: leave none behind
    server.stop()
    port = int(endpoint.url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
