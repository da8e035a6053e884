"""Server lifecycle: persistence across stop/start on the same root, clean shutdown, and the CLI entry point."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from upload_pipeline_tests.hub_server import HubServer
from upload_pipeline_tests.hub_server.testing import DEFAULT_TOKEN, subprocess_env, use_local_hub

pytestmark = pytest.mark.timeout(60)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_state_survives_restart_on_the_same_root(hub_root, hf_home, monkeypatch):
    blob = b"\x00\x01" * 5000
    with HubServer(hub_root) as first:
        use_local_hub(monkeypatch, first.url, hf_home)
        api = HfApi(endpoint=first.url, token=DEFAULT_TOKEN)
        api.create_repo("tester/ds1", repo_type="dataset", private=True)
        api.upload_file(path_or_fileobj=blob, path_in_repo="blob.bin", repo_id="tester/ds1", repo_type="dataset")
        api.create_branch("tester/ds1", branch="dev", repo_type="dataset")
        commits_before = first.list_commits("tester/ds1")

    with HubServer(hub_root) as second:
        use_local_hub(monkeypatch, second.url, hf_home)
        api = HfApi(endpoint=second.url, token=DEFAULT_TOKEN)
        info = api.dataset_info("tester/ds1")
        assert info.private is True and info.sha == commits_before[0]["id"]
        assert second.list_commits("tester/ds1") == commits_before
        assert {b.name for b in api.list_repo_refs("tester/ds1", repo_type="dataset").branches} == {"main", "dev"}
        # The LFS object is still known to the repo: re-uploading it sends no bytes.
        api.upload_file(path_or_fileobj=blob, path_in_repo="copy.bin", repo_id="tester/ds1", repo_type="dataset")
        assert second.counters.lfs_bytes == 0
        assert second.read_file("tester/ds1", "copy.bin") == blob


def test_stop_closes_the_socket_and_joins_threads(hub_root):
    threads_before = set(threading.enumerate())
    server = HubServer(hub_root).start()
    port = server.port
    # Leave an idle keep-alive connection open: stop() must not wait for the client to hang up.
    idle = socket.create_connection(("127.0.0.1", port))
    idle.sendall(b"GET /api/agent-harnesses HTTP/1.1\r\nHost: x\r\n\r\n")
    idle.settimeout(5)
    reply = b""
    while not reply.endswith(b"}}"):
        reply += idle.recv(1024)
    assert reply.startswith(b"HTTP/1.1 200")

    server.stop()

    assert set(threading.enumerate()) <= threads_before
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    assert idle.recv(1024) == b""  # the server side of the idle connection was closed
    idle.close()


def test_only_loopback_addresses_are_accepted(hub_root):
    with pytest.raises(ValueError, match="loopback"):
        HubServer(hub_root, host="0.0.0.0")


def test_cli_prints_url_serves_and_exits_on_sigint(tmp_path):
    env = {**os.environ, "UPLOAD_PIPELINE_HUB_SERVER_WRITE_TOKENS": "cli-token"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "upload_pipeline_tests.hub_server",
            "--root",
            str(tmp_path / "root"),
            "--log-level",
            "WARNING",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Hub server listening on http://127.0.0.1:")
        url = line.split()[-1]
        whoami = subprocess.run(
            [sys.executable, "-c", "from huggingface_hub import HfApi; print(HfApi().whoami()['name'])"],
            env=subprocess_env(url, tmp_path / "hf-home", token="cli-token"),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert whoami.stdout.strip() == "tester", whoami.stderr

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
