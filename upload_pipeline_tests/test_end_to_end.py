"""`make run`'s command on a copy of the sample: publish, append one file, publish again, then nothing new."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard

from upload_pipeline_tests import datagen
from upload_pipeline_tests.conftest import settle

REPO = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A folder laid out like the repository root: the config, and data/process/sample copied."""
    shutil.copytree(REPO / "data" / "process" / "sample", tmp_path / "data" / "process" / "sample")
    shutil.copy(REPO / "upload_pipeline.yaml", tmp_path / "upload_pipeline.yaml")
    for path in (tmp_path / "data").rglob("*.parquet"):
        settle(path)
    return tmp_path


def materialize(cwd: Path, extra_env: dict[str, str] | None = None) -> str:
    """Run the command `make run` runs, from `cwd` with nothing set but `extra_env`; returns its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UPLOAD_PIPELINE_", "HF_", "S3_", "AWS_"))}
    env.update(extra_env or {})
    env["DAGSTER_HOME"] = str(cwd / ".dagster_home")
    (cwd / ".dagster_home").mkdir(exist_ok=True)
    result = subprocess.run([DAGSTER, "asset", "materialize", "-m", "upload_pipeline", "--select", "*"], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RUN_SUCCESS" in result.stderr
    return result.stdout + result.stderr


def tree(root: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and ".hub" not in p.parts}


def counts(path: Path) -> dict[str, int]:
    return {k: v.num_rows for k, v in datasets.load_dataset(str(path)).items()}


def test_publish_append_and_rerun(sample_copy: Path):
    staged = sample_copy / "data" / "staging" / "sample"
    hub = sample_copy / "data" / "remote" / "hub" / "local" / "sample"
    log = hub / ".hub" / "commits.jsonl"

    materialize(sample_copy)
    assert counts(staged) == counts(hub) == {"train": 3000, "test": 600}
    DatasetCard(
        (staged / "README.md").read_text())  # parses; the YAML itself is checked against the Hub in test_hub_*
    first = tree(staged)
    assert len(log.read_text().splitlines()) == 1

    datagen.write(sample_copy / "data/process/sample/train/part-002.parquet", 400, seed=7, start_id=3600)
    settle(sample_copy / "data/process/sample/train/part-002.parquet")
    materialize(sample_copy)
    second = tree(staged)
    assert {k: second[k] for k in first if k != "README.md"} == {k: v for k, v in first.items() if k != "README.md"}
    assert sorted(set(second) - set(first)) == ["data/train-00001.parquet"]
    assert counts(staged) == counts(hub) == {"train": 3400, "test": 600}
    commits = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(commits) == 2
    assert commits[1]["added"] == ["data/train-00001.parquet", "README.md"]

    materialize(sample_copy)
    assert tree(staged) == second
    assert len(log.read_text().splitlines()) == 2
    s3 = sample_copy / "data" / "remote" / "s3" / "upload-pipeline-local" / "datasets" / "sample"
    assert {k: v[0] for k, v in tree(s3).items()} == {k: v[0] for k, v in second.items()}
