"""Fixtures for the s3_server tests; the servers themselves come from the suite's top-level conftest."""

import random

import pytest

MiB = 1024 * 1024


@pytest.fixture(scope="session")
def payload_12mib(tmp_path_factory):
    """A ~12 MiB file: three parts at a 5 MiB chunk size (5 + 5 + 2), each part distinct."""
    path = tmp_path_factory.mktemp("payload") / "12mib.bin"
    path.write_bytes(random.Random(12).randbytes(12 * MiB + 7))
    return path
