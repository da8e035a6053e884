"""Fixtures for the s3_server tests, built from upload_pipeline_tests.s3_server.testing."""

import random

import pytest

from upload_pipeline_tests.s3_server import fault_proxy, moto_server, radosgw_cluster, s3_bucket

MiB = 1024 * 1024


def pytest_configure(config):
    # Registered here until pyproject's [tool.pytest.ini_options] markers list carries it.
    config.addinivalue_line("markers", "radosgw: needs the local Ceph radosgw cluster (scripts/radosgw.sh)")


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
def payload_12mib(tmp_path_factory):
    """A ~12 MiB file: three parts at a 5 MiB chunk size (5 + 5 + 2), each part distinct."""
    path = tmp_path_factory.mktemp("payload") / "12mib.bin"
    path.write_bytes(random.Random(12).randbytes(12 * MiB + 7))
    return path


@pytest.fixture(scope="session")
def radosgw(tmp_path_factory):
    with radosgw_cluster(tmp_path_factory.mktemp("radosgw")) as cluster:
        yield cluster


@pytest.fixture
def rgw_bucket(radosgw):
    with s3_bucket(radosgw.endpoint.client()) as name:
        yield name
