"""moto's S3 server in a background thread of the test process, on 127.0.0.1 and an ephemeral port."""

from __future__ import annotations

import logging

from moto.server import ThreadedMotoServer

from .endpoint import S3Endpoint


class MotoServer:
    """Start/stop wrapper around ThreadedMotoServer.

    moto keeps all state in process memory and loses it on stop; it does not validate
    signatures, Content-MD5 or x-amz-checksum-* (see /work/shared/s3-servers.md).
    """

    def __init__(self) -> None:
        # The defaults are 0.0.0.0:5000; a busy fixed port makes start() wait forever for a
        # ready event that never comes, so always bind loopback with port 0.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._started = False
        self.endpoint: S3Endpoint | None = None

    def start(self) -> S3Endpoint:
        # werkzeug logs every request at INFO through its own stderr handler, even with verbose=False.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        self._started = True
        host, port = self._server.get_host_and_port()
        self.endpoint = S3Endpoint(url=f"http://{host}:{port}")
        return self.endpoint

    def client(self, **config):
        """A boto3 client for this server (path-style, us-east-1, test credentials)."""
        assert self.endpoint is not None, "call start() first"
        return self.endpoint.client(**config)

    def stop(self) -> None:
        if not self._started:
            return
        self._server.stop()
        # ThreadedMotoServer.stop() ends serve_forever but leaves the listening socket open.
        self._server._server.server_close()
        self._started = False

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
