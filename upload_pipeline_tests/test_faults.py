"""Fault matrix, Hub and Dagster side: after each fault and a re-run the Hub equals staging, no row is lost or
doubled, and `main` never showed half a publish. (S3 faults: test_providers/test_s3*.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import datasets

from upload_pipeline import remote
from upload_pipeline.providers.base import ProviderError
from upload_pipeline.providers.hf_hub import HfHubResource
from upload_pipeline_tests.conftest import WRITE_TOKEN
from upload_pipeline_tests.hub_server import HubServer
from upload_pipeline_tests.hub_server.testing import subprocess_env, use_local_hub
from upload_pipeline_tests.test_end_to_end import DAGSTER, materialize, sample_copy  # noqa: F401 - fixture

REPO = "faults/sample"


def user_commits(server, repo=REPO):
    return [c for c in server.list_commits(repo) if c["title"] != "initial commit"]


def test_run_process_killed_mid_upload_then_rerun(sample_copy, tmp_path):  # noqa: F811
    with HubServer(tmp_path / "hub-root") as hub:
        env = {**subprocess_env(hub.url, tmp_path / "hf-home", token=WRITE_TOKEN), "UPLOAD_PIPELINE_HUB": "hf",
               "HF_REPO_ID": REPO}
        hub.faults.delay(30, kind="lfs_upload")  # hold the upload long enough to kill the run in the middle
        home = sample_copy / ".dagster_home"
        home.mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("UPLOAD_PIPELINE_", "HF_", "AWS_"))}
        proc = subprocess.Popen([DAGSTER, "asset", "materialize", "-m", "upload_pipeline", "--select", "*"],
                                cwd=sample_copy, env={**base, **env, "DAGSTER_HOME": str(home)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        # the LFS batch call has been answered, so the upload itself is now held by the server
        while hub.counters.count(kind="lfs_batch") == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert hub.counters.count(kind="lfs_batch") > 0
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        hub.faults.reset()
        assert user_commits(hub) == []  # nothing half-published on main

        materialize(sample_copy, env)
        assert len(user_commits(hub)) == 1
        with_local = {k: v.num_rows for k, v in datasets.load_dataset(
            str(sample_copy / "data/staging/sample")).items()}
        assert with_local == {"train": 3000, "test": 600}
        tree = hub.tree(REPO)
        staged = {p.relative_to(sample_copy / "data/staging/sample").as_posix()
                  for p in (sample_copy / "data/staging/sample").rglob("*.parquet")}
        assert {p for p in tree if p.endswith(".parquet")} == staged


def test_hub_killed_between_upload_and_commit_then_restarted(workspace, tmp_path, monkeypatch):
    workspace.land("train/a.parquet", rows=3000)
    ds, paths = workspace.stage()
    root = tmp_path / "hub-root"
    with HubServer(root) as hub:
        use_local_hub(monkeypatch, hub.url, tmp_path / "hf-home", token=WRITE_TOKEN)
        port = hub.port
        hub.faults.cut_connection(kind="commit", count=10)  # the server "dies" on every commit
        provider = HfHubResource(token=WRITE_TOKEN, endpoint=hub.url, http_attempts=2)
        try:
            remote.sync(provider, ds.hub, remote.sync_request(ds, paths, "hub", "publish"))
        except ProviderError:
            pass
        else:
            raise AssertionError("the commit should not have gone through")
        uploaded = hub.counters.lfs_bytes
        assert uploaded > 0 and user_commits(hub, "tests/ds") == []
    with HubServer(root, port=port) as hub:  # restarted on the same disk
        provider = HfHubResource(token=WRITE_TOKEN, endpoint=hub.url)
        remote.sync(provider, ds.hub, remote.sync_request(ds, paths, "hub", "publish"))
        assert hub.counters.lfs_bytes == 0  # finished uploads were not sent again
        assert len(user_commits(hub, "tests/ds")) == 1
        assert datasets.load_dataset("tests/ds")["train"].num_rows == 3000
