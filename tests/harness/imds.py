"""An instance metadata service stand-in that speaks IMDSv2: a token from PUT /latest/api/token
(with its TTL header), then each item under /latest/meta-data/ only with that token."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

TOKEN = "imds-token"


@contextmanager
def imds(items: dict[str, str]) -> Iterator[str]:
    """Serve `items` (e.g. {"instance-id": "i-..."}); yields the endpoint for AWS_EC2_METADATA_SERVICE_ENDPOINT."""
    server = serve_imds(items)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def serve_imds(items: dict[str, str]) -> http.server.HTTPServer:
    """The stand-in on a daemon thread, until the caller shuts it down (or the process ends)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802
            ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            self.send_response(200 if ok else 400)
            self.end_headers()
            self.wfile.write(TOKEN.encode())

        def do_GET(self) -> None:  # noqa: N802
            item = self.path.removeprefix("/latest/meta-data/")
            ok = item in items and self.headers.get("X-aws-ec2-metadata-token") == TOKEN
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(items[item].encode() if ok else b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
