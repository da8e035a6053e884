"""upload_pipeline: publish landed parquet files to Hugging Face Hub dataset repos and S3, with Dagster.

`defs` is lazy (`@dg.definitions`): importing the package reads no file; Dagster builds the definitions
when it loads the code location, so `dagster ... -m upload_pipeline` works.
"""

from upload_pipeline.definitions import defs

__all__ = ["defs"]
