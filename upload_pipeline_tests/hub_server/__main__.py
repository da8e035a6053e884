"""Run the local Hub server: `python -m upload_pipeline_tests.hub_server --port 8080 --root /tmp/hub`.

Prints `Hub server listening on <url>` on one line once the socket is bound, then serves until SIGINT or SIGTERM
and exits 0. Tokens come from `--write-token`/`--read-token` (repeatable) or the comma-separated env vars
UPLOAD_PIPELINE_HUB_SERVER_WRITE_TOKENS / UPLOAD_PIPELINE_HUB_SERVER_READ_TOKENS; none at all accepts any token.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .server import HubServer

WRITE_TOKENS_ENV = "UPLOAD_PIPELINE_HUB_SERVER_WRITE_TOKENS"
READ_TOKENS_ENV = "UPLOAD_PIPELINE_HUB_SERVER_READ_TOKENS"


def _tokens(flag_values: list[str] | None, env_name: str) -> list[str] | None:
    if flag_values:
        return flag_values
    raw = os.environ.get(env_name)
    return [token.strip() for token in raw.split(",") if token.strip()] if raw else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m upload_pipeline_tests.hub_server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="IPv4 loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    parser.add_argument("--root", required=True, help="directory holding the repos; reused across restarts")
    parser.add_argument(
        "--write-token", action="append", help=f"valid write token (repeatable; env {WRITE_TOKENS_ENV})"
    )
    parser.add_argument(
        "--read-token", action="append", help=f"valid read-only token (repeatable; env {READ_TOKENS_ENV})"
    )
    parser.add_argument("--log-level", default="INFO", help="access log level (default INFO)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)

    server = HubServer(
        args.root,
        host=args.host,
        port=args.port,
        write_tokens=_tokens(args.write_token, WRITE_TOKENS_ENV),
        read_tokens=_tokens(args.read_token, READ_TOKENS_ENV),
    )
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    server.start()
    print(f"Hub server listening on {server.url}", flush=True)
    stop_requested.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
