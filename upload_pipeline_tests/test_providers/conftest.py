"""S3 fixtures for the provider tests: moto on loopback (one per session), a bucket per test, a fault proxy,
and the radosgw cluster for the `radosgw` suite (see upload_pipeline_tests.s3_server)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from dagster_aws.s3 import S3Resource

from upload_pipeline import steps
from upload_pipeline.providers.s3 import S3StorageResource
from upload_pipeline_tests.s3_server import S3Endpoint, fault_proxy, moto_server, radosgw_cluster, s3_bucket

MiB = 1024 * 1024
SECRET = "s3cr3t-SENTINEL-never-shown-0123456789"  # the proxy and moto accept any secret


def s3_provider(endpoint: S3Endpoint, state_dir: Path | None = None, attempts: int = 3,
                secret: str | None = None, **knobs) -> S3StorageResource:
    """The provider on `endpoint`, with 5 MiB parts (S3's minimum) so a 12 MiB file goes in three."""
    s3 = S3Resource(endpoint_url=endpoint.url, region_name=endpoint.region, aws_access_key_id=endpoint.access_key,
                    aws_secret_access_key=secret or endpoint.secret_key, max_attempts=attempts - 1)
    knobs = {"multipart_threshold_mib": 5, "multipart_chunksize_mib": 5, **knobs}
    return S3StorageResource(s3=s3, state_dir=str(state_dir) if state_dir else None, **knobs)


def stage(workspace, bucket: str, **s3):
    """Land-to-card on the workspace, its S3 target pointed at `bucket`; returns (dataset, paths)."""
    workspace.dataset(s3={"bucket": bucket, "prefix": "datasets/ds", **s3})
    ds, paths = workspace.config().datasets[0], workspace.paths()
    steps.land(ds, paths)
    steps.shard(ds, paths)
    steps.write_card(ds, paths)
    return ds, paths


def add_blob(workspace, relpath: str = "extra/blob.bin", size: int = 12 * MiB + 7, seed: int = 12) -> Path:
    """A random (incompressible) file in the staged tree: three 5 MiB parts at the default 12 MiB."""
    path = workspace.staged / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch, tmp_path):
    """Nothing from this machine's AWS setup leaks in: no keys, no profile, no instance metadata lookups."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto():
    with moto_server() as server:
        yield server


@pytest.fixture
def bucket(moto):
    with s3_bucket(moto.client()) as name:
        yield name


@pytest.fixture
def proxy(moto):
    with fault_proxy(moto.endpoint) as proxy:
        yield proxy


@pytest.fixture
def proxied(moto, proxy):
    """The moto endpoint as seen through the proxy (same credentials, proxy URL)."""
    return moto.endpoint.with_url(proxy.endpoint_url)


@pytest.fixture(scope="session")
def radosgw(tmp_path_factory):
    with radosgw_cluster(tmp_path_factory.mktemp("radosgw")) as cluster:
        yield cluster


@pytest.fixture
def rgw_bucket(radosgw):
    with s3_bucket(radosgw.endpoint.client()) as name:
        yield name
