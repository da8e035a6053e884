"""Python side of scripts/radosgw.sh: a single-node Ceph radosgw cluster that tests can crash and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from .endpoint import S3Endpoint

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "radosgw.sh"


class RadosgwUnavailable(RuntimeError):
    """The cluster could not be started here (packages not installable, not root, timeout...)."""


class RadosgwCluster:
    """mon + OSD + radosgw under one supervisor process (`radosgw.sh run DIR`), child of this one.

    State lives in `base_dir` (bluestore on a sparse file), so objects and in-progress multipart
    uploads survive kill_rgw()/restart_rgw(). First start installs the Debian packages if needed.
    """

    def __init__(self, base_dir: Path, *, start_timeout: float = 300.0) -> None:
        self.base_dir = Path(base_dir)
        self.start_timeout = start_timeout
        self.endpoint: S3Endpoint | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def log_dir(self) -> Path:
        return self.base_dir / "log"

    def start(self) -> S3Endpoint:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env_file = self.base_dir / "env"
        env_file.unlink(missing_ok=True)  # left by an earlier run in this dir: not a ready signal
        with open(self.log_dir / "run.out", "ab") as out:
            # Own session: stop() can take the whole process group down if the script hangs.
            self._proc = subprocess.Popen(
                ["bash", str(SCRIPT), "run", str(self.base_dir)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        try:
            self._wait_until_ready(env_file)
        except BaseException:  # also Ctrl-C: never leave a half-started cluster behind
            self.stop()
            raise
        env = dict(
            line.removeprefix("export ").split("=", 1)
            for line in env_file.read_text().splitlines()
            if line.startswith("export ")
        )
        self.endpoint = S3Endpoint(
            url=env["AWS_ENDPOINT_URL"],
            access_key=env["AWS_ACCESS_KEY_ID"],
            secret_key=env["AWS_SECRET_ACCESS_KEY"],
            region=env["AWS_DEFAULT_REGION"],
        )
        return self.endpoint

    def _wait_until_ready(self, env_file: Path) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not env_file.exists():  # the script writes it atomically once S3 answers
            if self._proc.poll() is not None:
                raise RadosgwUnavailable(f"radosgw.sh exited with {self._proc.returncode}: {self._tail()}")
            if time.monotonic() > deadline:
                raise RadosgwUnavailable(f"not ready after {self.start_timeout:.0f} s: {self._tail()}")
            time.sleep(0.3)

    def kill_rgw(self) -> None:
        """SIGKILL radosgw only (a crash: no clean shutdown); mon and OSD keep running."""
        self._script("kill-rgw")

    def restart_rgw(self) -> None:
        """Start radosgw again (SIGKILLing it first if alive) and wait until S3 answers."""
        self._script("restart-rgw")

    def stop(self) -> None:
        if self._proc is None:
            return
        try:
            self._script("stop", timeout=120)
            self._proc.wait(timeout=30)
        except (subprocess.SubprocessError, OSError):
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> RadosgwCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _script(self, command: str, timeout: float = 180) -> None:
        subprocess.run(
            ["bash", str(SCRIPT), command, str(self.base_dir)],
            check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def _tail(self, lines: int = 15) -> str:
        text = (self.log_dir / "run.out").read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "no output"
