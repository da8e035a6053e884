"""Context managers that a conftest turns into pytest fixtures (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from upload_pipeline_tests.unavailable import skip_unless_ci

from .endpoint import S3Endpoint, create_bucket, delete_bucket, unique_bucket_name
from .fault_proxy import FaultProxy
from .moto import MotoServer
from .radosgw import RadosgwCluster, RadosgwUnavailable


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    """A started moto S3 server (meant for session scope: start-up costs about a second)."""
    with MotoServer() as server:
        yield server


@contextmanager
def s3_bucket(client, prefix: str = "test") -> Iterator[str]:
    """A fresh, uniquely named bucket, emptied and deleted afterwards (in-progress MPUs aborted)."""
    name = create_bucket(client, unique_bucket_name(prefix))
    try:
        yield name
    finally:
        delete_bucket(client, name)


@contextmanager
def fault_proxy(upstream: S3Endpoint) -> Iterator[FaultProxy]:
    """A FaultProxy in front of `upstream`; talk through it with upstream.with_url(proxy.endpoint_url)."""
    with FaultProxy(upstream.url) as proxy:
        yield proxy


@contextmanager
def radosgw_cluster(base_dir: Path) -> Iterator[RadosgwCluster]:
    """A running radosgw cluster in `base_dir`.

    If it cannot start, the requesting tests are skipped on a developer's machine (no root, no apt), but fail
    in CI (`CI` set): there the integrity and crash tests it carries must not pass silently.
    """
    cluster = RadosgwCluster(base_dir)
    try:
        cluster.start()
    except RadosgwUnavailable as exc:
        skip_unless_ci(f"radosgw cluster unavailable: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
