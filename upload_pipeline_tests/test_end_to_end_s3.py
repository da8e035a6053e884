"""`make run`'s command with UPLOAD_PIPELINE_S3=s3 against moto on loopback, read back with boto3."""

from __future__ import annotations

import hashlib
import json

import pytest

from upload_pipeline_tests import datagen
from upload_pipeline_tests.conftest import settle
from upload_pipeline_tests.s3_server import moto_server, s3_bucket
from upload_pipeline_tests.test_end_to_end import materialize, sample_copy  # noqa: F401 - fixture

PREFIX = "datasets/sample/"


@pytest.fixture(scope="module")
def moto():
    with moto_server() as server:
        yield server


def objects(client, bucket: str) -> dict[str, tuple[str, str]]:
    """key under the prefix → (sha256 of the bytes boto3 reads back, LastModified)."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len(PREFIX):]] = (hashlib.sha256(body).hexdigest(), str(obj["LastModified"]))
    return out


def staged(root) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_make_run_mirrors_the_staged_tree_to_s3_with_an_archive(sample_copy, moto):  # noqa: F811
    config = sample_copy / "upload_pipeline.yaml"
    config.write_text(config.read_text().replace("archive: false", "archive: true"))
    client = moto.client()
    with s3_bucket(client, "e2e") as bucket:
        secret = "e2e-SENTINEL-secret-0123456789"  # moto accepts any; this one must never be printed
        env = {**moto.endpoint.env(), "AWS_SECRET_ACCESS_KEY": secret, "UPLOAD_PIPELINE_S3": "s3", "S3_BUCKET": bucket}
        output = materialize(sample_copy, env)
        assert secret not in output
        root = sample_copy / "data" / "staging" / "sample"
        first = objects(client, bucket)
        archives = {k: v for k, v in first.items() if k.startswith("archives/")}
        assert {k: v[0] for k, v in first.items() if k not in archives} == staged(root)
        [record] = [json.loads(line) for line in (sample_copy / "data/state/sample/archives.jsonl").open()]
        assert archives == {record["key"]: (record["sha256"], archives[record["key"]][1])}
        assert not (sample_copy / "data/state/sample/archive-tmp").exists()

        materialize(sample_copy, env)  # nothing new: nothing uploaded, the archive not rebuilt
        assert objects(client, bucket) == first

        datagen.write(sample_copy / "data/process/sample/train/part-002.parquet", 400, seed=7, start_id=3600)
        settle(sample_copy / "data/process/sample/train/part-002.parquet")
        client.put_object(Bucket=bucket, Key=PREFIX + "data/train-00099.parquet", Body=b"stale")
        materialize(sample_copy, env)
        third = objects(client, bucket)
        changed = sorted(k for k in third if third[k] != first.get(k))
        [new_archive] = [k for k in changed if k.startswith("archives/sample-")]
        assert sorted(set(changed) - {new_archive}) == ["README.md", "data/train-00001.parquet"]
        assert "data/train-00099.parquet" not in third and set(archives) < set(third)  # the old archive stays
        assert {k: v[0] for k, v in third.items() if not k.startswith("archives/")} == staged(root)
