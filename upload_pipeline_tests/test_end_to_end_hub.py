"""`make run`'s command with UPLOAD_PIPELINE_HUB=hf against the local Hub server, read back with `datasets`."""

from __future__ import annotations

import datasets
from huggingface_hub import DatasetCard

from upload_pipeline_tests import datagen
from upload_pipeline_tests.conftest import WRITE_TOKEN, settle
from upload_pipeline_tests.hub_server.testing import subprocess_env
from upload_pipeline_tests.test_end_to_end import materialize, sample_copy  # noqa: F401 - fixture

REPO = "pipeline/sample"


def test_make_run_publishes_to_the_hub_one_commit_per_change(sample_copy, hub_server, tmp_path):  # noqa: F811
    env = {**subprocess_env(hub_server.url, tmp_path / "hf-home-cli", token=WRITE_TOKEN),
           "UPLOAD_PIPELINE_HUB": "hf", "HF_REPO_ID": REPO}
    output = materialize(sample_copy, env)
    commits = lambda: [c for c in hub_server.list_commits(REPO) if c["title"] != "initial commit"]  # noqa: E731
    assert len(commits()) == 1
    assert {k: v.num_rows for k, v in datasets.load_dataset(REPO).items()} == {"train": 3000, "test": 600}
    card = DatasetCard.load(REPO, repo_type="dataset")
    card.validate(repo_type="dataset")  # the server's /api/validate-yaml
    assert WRITE_TOKEN not in output

    datagen.write(sample_copy / "data/process/sample/test/part-001.parquet", 100, seed=11, start_id=9000)
    settle(sample_copy / "data/process/sample/test/part-001.parquet")
    hub_server.counters.reset()
    materialize(sample_copy, env)
    shard = sample_copy / "data/staging/sample/data/test-00001.parquet"
    assert hub_server.counters.lfs_bytes == shard.stat().st_size
    assert len(commits()) == 2 and datasets.load_dataset(REPO)["test"].num_rows == 700

    materialize(sample_copy, env)
    assert len(commits()) == 2
