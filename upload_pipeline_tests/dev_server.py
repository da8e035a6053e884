"""A real `dagster dev` (webserver + daemon) on 127.0.0.1 for end-to-end tests and the latency benchmark.

Started in its own session with SIGINT/SIGTERM reset to their defaults (a background `dagster dev` otherwise
inherits SIG_IGN and ignores both: dagster-notes §3), and stopped by signalling the whole process group, so the
webserver, daemon and code server all go with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")

RUNS_QUERY = """{ runsOrError(limit: 50) { ... on Runs { results {
  runId rootRunId status jobName startTime endTime tags { key value } } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_project(root: Path, sensor_interval: int = 2, settle_seconds: float = 1) -> Path:
    """A working folder with the sample dataset and a datasets file tuned for quick ticks; returns the config."""
    shutil.copytree(REPO / "data" / "process" / "sample", root / "data" / "process" / "sample")
    config = yaml.safe_load((REPO / "upload_pipeline.yaml").read_text())
    config["automation"] = {"sensor_interval_seconds": sensor_interval, "max_batch_wait_seconds": 30,
                            "reconcile_cron": ""}
    config["datasets"][0]["settle_seconds"] = settle_seconds
    path = root / "upload_pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class DagsterDev:
    def __init__(self, cwd: Path, env: dict[str, str] | None = None):
        self.cwd, self.port = cwd, free_port()
        self.home = cwd / ".dagster_home"
        self.env = {**os.environ, **(env or {}), "DAGSTER_HOME": str(self.home),
                    "UPLOAD_PIPELINE_CONFIG": str(cwd / "upload_pipeline.yaml")}
        self.proc: subprocess.Popen | None = None
        self.log = cwd / "dagster-dev.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> DagsterDev:
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "dagster.yaml", self.home / "dagster.yaml")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [DAGSTER, "dev", "-m", "upload_pipeline", "-h", "127.0.0.1", "-p", str(self.port)], cwd=self.cwd,
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited: {self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/server_info", timeout=2).read()
                return self
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"dagster dev did not answer within {timeout} s")

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        # children that outlived the parent (the code server) belong to the same group
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> DagsterDev:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def listening_addresses(self) -> set[str]:
        """IP addresses the webserver, daemon and code server listen on (all of the process group)."""
        import psutil

        ips = set()
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(proc.pid) != self.proc.pid:
                    continue
                ips |= {c.laddr.ip for c in proc.net_connections("inet") if c.status == psutil.CONN_LISTEN}
            except (psutil.Error, ProcessLookupError):
                continue
        return ips

    def graphql(self, query: str) -> dict:
        request = urllib.request.Request(f"{self.url}/graphql", data=json.dumps({"query": query}).encode(),
                                         headers={"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(request, timeout=30).read())["data"]

    def runs(self) -> list[dict]:
        return self.graphql(RUNS_QUERY)["runsOrError"]["results"]

    def wait_for_run(self, known: set[str], timeout: float = 240) -> dict:
        """The first run not in `known` to finish; raises if it failed or nothing finished in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in self.runs():
                if run["runId"] not in known and run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                    if run["status"] != "SUCCESS":
                        raise AssertionError(f"run {run['runId']} ended {run['status']}")
                    return run
            time.sleep(1)
        raise TimeoutError(f"no new run finished in {timeout} s; log tail: {self.log.read_text()[-2000:]}")
