"""Byte sizes written the way people write them in a config file ("500MB", "64 MiB", 1000000)."""

from __future__ import annotations

import re
from decimal import Decimal

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: object) -> int:
    """Return a positive number of bytes; raise ValueError saying what is accepted."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 500MB, 64MiB or a number of bytes")
    if isinstance(value, int):
        number = value
    else:
        match = _SIZE.match(str(value))
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ValueError(f"{value!r} is not a size; use e.g. 500MB, 64MiB or a number of bytes")
        amount = Decimal(match.group(1))  # not float: 4.1 GB is 4100000000 bytes exactly
        if _UNITS[unit] == 1 and amount != amount.to_integral_value():
            # "1.5" bytes is a unit forgotten, and truncating it made 1-byte shards.
            raise ValueError(f"{value!r} is not a whole number of bytes; use e.g. 1.5MB, 64MiB or 1500000")
        number = int(amount * _UNITS[unit])
    if number <= 0:
        raise ValueError("a size must be greater than 0")
    return number

