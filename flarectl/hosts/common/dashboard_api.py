"""The NVFlare dashboard's JSON API (nvflare/dashboard/application/*.py: /login, /project,
/clients, /clients/<id>/blob, /servers/<id>/blob), spoken one way by the hub (hubctl project,
through gunicorn's socket) and by flarectl (site-kit fetch, through the proxy). The caller makes
the connection: a socket on the hub, HTTPS with its own trust (a pinned certificate) elsewhere.
Standard library only: hosts have no flarectl; flarectl imports it as
flarectl.hosts.common.dashboard_api."""

from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Callable
from typing import Any

API = "/nvflare-dashboard/api/v1"
SERVER_ID = 1  # the dashboard has one FL server entry


class DashboardUnreachable(OSError):
    """No answer at all (refused, reset, timed out, or a certificate that does not verify)."""


class DashboardApi:
    def __init__(self, connect: Callable[[], http.client.HTTPConnection], where: str):
        """connect: a new connection per request (the dashboard's gunicorn closes idle ones).
        where: the address, for messages."""
        self.connect = connect
        self.where = where
        self.token = ""

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        """(HTTP status, body); DashboardUnreachable when nothing answered."""
        headers = {"Content-Type": "application/json", "Host": "localhost"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        connection = self.connect()
        try:
            connection.request(method, API + path, body=data, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except OSError as error:
            raise DashboardUnreachable(f"the dashboard does not answer at {self.where} ({error})") from error
        finally:
            connection.close()

    def login(self, email: str, password: str) -> int:
        """The login's status; with 200, later calls carry its token."""
        status, payload = self.call("POST", "/login", {"email": email, "password": password})
        if status == 200:
            self.token = json.loads(payload)["access_token"]
        return status

    def clients(self) -> tuple[int, list[dict[str, Any]]]:
        """(status, the registered sites) as this user may see them."""
        status, payload = self.call("GET", "/clients")
        return status, (json.loads(payload).get("client_list", []) if status == 200 else [])

    def client_kit(self, client_id: int) -> tuple[int, bytes, str]:
        """(status, the site's kit zip or the refusal, its PIN). The PIN is chosen here (random,
        alphanumeric as the dashboard requires), used once and never shown."""
        pin = secrets.token_hex(16)
        status, archive = self.call("POST", f"/clients/{client_id}/blob", {"pin": pin})
        return status, archive, pin

    def server_kit(self) -> tuple[int, bytes, str]:
        """(status, the FL server's kit zip or the refusal, its PIN), as client_kit."""
        pin = secrets.token_hex(16)
        status, archive = self.call("POST", f"/servers/{SERVER_ID}/blob", {"pin": pin})
        return status, archive, pin


def is_zip(archive: bytes) -> bool:
    return archive.startswith(b"PK")
