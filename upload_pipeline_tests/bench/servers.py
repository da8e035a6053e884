"""The servers of a benchmark run, each in its own process, on 127.0.0.1 and an ephemeral port.

The local Hub server and moto are Python servers meant to run inside a test process. Here they get a process
of their own: in ours their request threads would share the GIL with the client being measured, and whichever
client does more Python work at the same time (push_to_hub encoding parquet, say) would slow the server down
for itself. The child answers a few commands over a pipe (the Hub server's counters, stop).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Self

from upload_pipeline_tests.s3_server import MotoServer, RadosgwCluster, RadosgwUnavailable, S3Endpoint


class ServerProcess:
    """A server started by `_serve(kind, arg, pipe)` in a spawned child; `info` is what the child sent back."""

    def __init__(self, kind: str, arg: Any = None) -> None:
        ctx = get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(kind, arg, child), daemon=True, name=f"bench-{kind}")
        self._proc.start()
        child.close()
        self.info = self._ask(None)

    def _ask(self, command: str | None) -> Any:
        if command is not None:
            self._conn.send(command)
        try:
            if not self._conn.poll(60):
                raise RuntimeError(f"{self._proc.name}: no answer to {command or 'start'} within 60 s")
            answer = self._conn.recv()
        except EOFError:
            raise RuntimeError(f"{self._proc.name}: the server process died (exit code "
                               f"{self._proc.exitcode}); its traceback is on stderr") from None
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def counters(self) -> dict[str, int]:
        return self._ask("counters")

    def stop(self) -> None:
        if self._proc.is_alive():
            with contextlib.suppress(Exception):
                self._ask("stop")
            self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(kind: str, arg: Any, conn) -> None:
    try:
        if kind == "hub":
            from upload_pipeline_tests.hub_server import HubServer

            server = HubServer(arg).start()
            conn.send(server.url)
        else:
            server = MotoServer()
            conn.send(server.start())
    except BaseException as exc:  # noqa: BLE001 - the parent re-raises it
        conn.send(exc)
        return
    while conn.recv() != "stop":  # the only other command is "counters"
        c = server.counters
        conn.send({"lfs_bytes": c.lfs_bytes, "commits": c.commits, "request_bytes": sum(c.bytes_received.values())})
    server.stop()
    conn.send(None)


def hub_server(root: Path) -> ServerProcess:
    """The local Hub server (`info` is its URL) on disk under `root`."""
    return ServerProcess("hub", str(root))


@contextlib.contextmanager
def s3_server(kind: str, workdir: Path) -> Iterator[tuple[S3Endpoint, str]]:
    """An S3 server: "radosgw" (Ceph, disk-backed; falls back to moto when it cannot start here) or "moto"
    (RAM-backed). Yields the endpoint and a description of the server used."""
    if kind == "radosgw":
        cluster = RadosgwCluster(workdir / "radosgw")
        try:
            endpoint = cluster.start()
        except RadosgwUnavailable as exc:
            print(f"radosgw unavailable ({exc}); using moto")
        else:
            try:
                yield endpoint, "Ceph radosgw 16.2 (single node, bluestore on a file)"
            finally:
                cluster.stop()
            return
    with ServerProcess("moto") as moto:
        yield moto.info, "moto_server 5 (in RAM, own process)"
