"""Sizes as people write them in the datasets file: exact, whatever the float rounding of the decimal."""

from __future__ import annotations

import pytest

from upload_pipeline.sizes import parse_size


@pytest.mark.parametrize("text, size", [
    ("500MB", 500_000_000), ("64MiB", 64 * 2**20), ("64 mib", 64 * 2**20), (1_000_000, 1_000_000),
    ("4.1GB", 4_100_000_000), ("8.3MB", 8_300_000), ("8.2GB", 8_200_000_000), ("1.5MiB", 1_572_864),
    (500000.0, 500_000), ("1.1KiB", 1126),
    # every unit at its own factor: decimal ones powers of ten, binary ones powers of two
    ("1kb", 10**3), ("1GB", 10**9), ("2TB", 2 * 10**12), ("1KiB", 2**10), ("3GiB", 3 * 2**30), ("2TiB", 2 * 2**40),
])
def test_sizes_are_exact(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text, reason", [
    (1.5, "is not a whole number of bytes"), ("1.5", "is not a whole number of bytes"),
    ("lots", "is not a size"), ("5 parsecs", "is not a size"), (0, "greater than 0"), (True, "expected a size"),
    (-1, "greater than 0"), ("-5MB", "is not a size"),
    ("500MB/s", "is not a size"), ("5 MB of shards", "is not a size"),  # nothing is ignored after the unit
])
def test_what_is_not_a_size_says_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_size(text)
