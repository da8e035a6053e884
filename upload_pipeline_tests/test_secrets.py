"""Secrets: a recognisable token used for a real publish (and a refused one) appears nowhere we write."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from upload_pipeline_tests.conftest import settle
from upload_pipeline_tests.hub_server import HubServer
from upload_pipeline_tests.hub_server.testing import subprocess_env
from upload_pipeline_tests.test_end_to_end import DAGSTER, sample_copy  # noqa: F401 - fixture

CANARY = "hf_CANARYsecret7f3a9c"


def grep_tree(root: Path, needle: bytes) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            hits.append(str(path))
    return hits


def run(cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([DAGSTER, "asset", "materialize", "-m", "upload_pipeline", "--select", "*"], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_hub_token_never_leaves_the_environment(sample_copy, tmp_path):  # noqa: F811
    with HubServer(tmp_path / "hub-root", write_tokens=[CANARY]) as hub:
        home = sample_copy / ".dagster_home"
        home.mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("UPLOAD_PIPELINE_", "HF_", "AWS_"))}
        env = {**base, **subprocess_env(hub.url, tmp_path / "hf-home", token=CANARY), "DAGSTER_HOME": str(home),
               "UPLOAD_PIPELINE_HUB": "hf", "HF_REPO_ID": "secret/sample"}
        ok = run(sample_copy, env)
        assert ok.returncode == 0, ok.stderr[-2000:]
        for path in (sample_copy / "data/process/sample").rglob("*.parquet"):
            settle(path)
        refused = run(sample_copy, {**env, "HF_TOKEN": CANARY + "-revoked"})
        assert refused.returncode != 0 and "set HF_TOKEN" in refused.stderr
        assert CANARY not in ok.stdout + ok.stderr + refused.stdout + refused.stderr
        # the event log (sqlite), compute logs, staging, state, the embedded remotes and what the server stored
        for root in (home, sample_copy / "data", tmp_path / "hub-root"):
            assert grep_tree(root, CANARY.encode()) == []
