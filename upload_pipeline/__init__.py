"""upload_pipeline: publish landed parquet files to Hugging Face Hub dataset repos and S3, with Dagster.

`defs` is lazy (`@dg.definitions`): importing the package reads no file; Dagster builds the definitions
when it loads the code location, so `dagster ... -m upload_pipeline` works.
"""

import os
import sys

# pyarrow picks its allocator once, when it is first imported. Validation and sharding free a row group's buffers
# at every step, from several threads; jemalloc hands that memory back sooner than pyarrow's default mimalloc
# (land + shard of 4 files of 126 MB: peak RSS 361-375 MB with mimalloc, 325 MB with jemalloc, in the same time).
# An operator's own ARROW_DEFAULT_MEMORY_POOL wins. Linux only: the wheels elsewhere may lack jemalloc.
if sys.platform == "linux":
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

from upload_pipeline.definitions import defs  # noqa: E402 - after the allocator choice, which must precede pyarrow

__all__ = ["defs"]
