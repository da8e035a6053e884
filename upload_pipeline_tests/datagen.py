"""Deterministic parquet data with a realistic mix of column types, for the sample, the tests and benchmarks."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

_WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
          "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()
_EPOCH = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1_000_000)


def table(rows: int, seed: int, start_id: int = 0, text_words: int = 12) -> pa.Table:
    """`rows` rows of ints, floats, strings of varied length, lists, structs, timestamps and some nulls."""
    rng = np.random.default_rng(seed)
    words = np.array(_WORDS)
    lengths = rng.integers(1, 2 * text_words, size=rows)
    text = [" ".join(words[rng.integers(0, len(words), size=n)]) for n in lengths]
    tags = [list(words[rng.integers(0, len(words), size=k)]) for k in rng.integers(0, 4, size=rows)]
    score = rng.normal(size=rows)
    score_mask = rng.random(rows) < 0.05
    return pa.table({
        "id": pa.array(np.arange(start_id, start_id + rows), pa.int64()),
        "text": pa.array(text, pa.string()),
        "label": pa.array(rng.integers(0, 5, size=rows), pa.int32()),
        "score": pa.array(score, pa.float64(), mask=score_mask),
        "tags": pa.array(tags, pa.list_(pa.string())),
        "meta": pa.array([{"source": str(words[i % len(words)]), "version": int(i % 3)} for i in range(rows)],
                         pa.struct([("source", pa.string()), ("version", pa.int64())])),
        "created": pa.array(_EPOCH + rng.integers(0, 10**12, size=rows), pa.timestamp("us", tz="UTC")),
    })


def write(path: Path, rows: int, seed: int, start_id: int = 0, row_group_size: int | None = None,
          text_words: int = 12) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table(rows, seed, start_id, text_words), path, row_group_size=row_group_size)
    return path
