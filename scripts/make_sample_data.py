"""Regenerate the committed sample dataset in data/process/sample (two splits, a few thousand rows).

Run from the repo root: `.venv/bin/python -m scripts.make_sample_data`.
"""

from pathlib import Path

from upload_pipeline_tests import datagen

ROOT = Path(__file__).resolve().parent.parent / "data" / "process" / "sample"

if __name__ == "__main__":
    datagen.write(ROOT / "train" / "part-000.parquet", 1500, seed=1, start_id=0)
    datagen.write(ROOT / "train" / "part-001.parquet", 1500, seed=2, start_id=1500)
    datagen.write(ROOT / "test" / "part-000.parquet", 600, seed=3, start_id=3000)
    print(f"wrote the sample dataset under {ROOT}")
