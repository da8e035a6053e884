"""Secrets: a recognisable token used for a real publish (and a refused one) appears nowhere we write."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from upload_pipeline.definitions import build_definitions
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


@pytest.mark.filterwarnings("ignore:Property `ScheduleDefinition.environment_vars` is deprecated:DeprecationWarning")
def test_no_credential_is_in_the_definitions_the_ui_shows(workspace):
    """What the webserver loads and shows of the code location (resources and their config included) names the
    variables holding credentials, never their values: the Slack token as much as the Hub's and S3's."""
    secrets = {"HF_TOKEN": CANARY, "AWS_ACCESS_KEY_ID": "AKIACANARY7F3A9C",
               "AWS_SECRET_ACCESS_KEY": "canary/aws/secret", "AWS_SESSION_TOKEN": "canary-aws-session",
               "SLACK_BOT_TOKEN": "xoxb-canary-slack"}
    defs = build_definitions(workspace.config(), environ={**secrets, "UPLOAD_PIPELINE_HUB": "hf",
                                                          "UPLOAD_PIPELINE_S3": "s3"})
    shown = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    assert all(name in shown for name in secrets)  # the resources are in it, naming their variables
    assert [name for name, value in secrets.items() if value in shown] == []
