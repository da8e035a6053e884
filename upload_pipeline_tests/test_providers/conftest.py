"""Helpers for the S3 provider tests; the S3 servers and buckets are fixtures of the suite's top-level conftest."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from dagster_aws.s3 import S3Resource

from upload_pipeline.providers.s3 import S3StorageResource
from upload_pipeline_tests.s3_server import S3Endpoint

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
    return workspace.stage()


def add_blob(workspace, relpath: str = "extra/blob.bin", size: int = 12 * MiB + 7, seed: int = 12) -> Path:
    """A random (incompressible) file in the staged tree: three 5 MiB parts at the default 12 MiB."""
    path = workspace.staged / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


@pytest.fixture(autouse=True)
def _isolated_from_ambient_aws(no_ambient_aws):
    """Every provider test runs without this machine's AWS setup (see the top-level conftest)."""
