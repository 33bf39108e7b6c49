"""The hub's proxy (flare-proxy.service: Debian's nginx with flarectl/hosts/hub/nginx.conf) in front of
the real dashboard (gunicorn on its local socket), run from their own units by the harness:
slow clients, login guessing, headers, and what the dashboard keeps private. The booted hub
(test_hub_booted.py) scans its TLS and checks the same proxy under the real systemd."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import needs
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.local import emulator_client, free_port

FIGURES: dict[str, str] = {}
API = "/nvflare-dashboard/api/v1"
SECURITY_HEADERS = {
    "strict-transport-security": "max-age=63072000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
}


def insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed: loopback only
    return context


def request(
    port: int, path: str, body: dict | None = None, timeout: float = 10, source: str = "127.0.0.1"
) -> tuple[int, dict[str, list[str]], bytes]:
    """One HTTPS request from `source` (any 127.x address: the proxy's limits count per address,
    so each test speaks from its own). Headers by lower-case name, every value."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=insecure(), source_address=(source, 0))
    try:
        connection.request("GET" if body is None else "POST", path, body=None if body is None else json.dumps(body),
                           headers={"Content-Type": "application/json"})  # fmt: skip
        response = connection.getresponse()
        headers: dict[str, list[str]] = {}
        for key, value in response.getheaders():
            headers.setdefault(key.lower(), []).append(value)
        return response.status, headers, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def admin(aws_emulator: dict[str, str]) -> dict[str, str]:
    credential = {"email": "it-admin@proxy.test", "password": secrets.token_urlsafe(18), "name": "proxytest/dashboard-admin"}
    emulator_client(aws_emulator, "secretsmanager").create_secret(
        Name=credential["name"], SecretString=json.dumps({"email": credential["email"], "password": credential["password"]})
    )
    return credential


@pytest.fixture(scope="module")
def hub(aws_emulator: dict[str, str], admin: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    needs(os.path.exists("/usr/sbin/nginx"), "nginx (Debian package nginx)")
    settings = {**aws_emulator, "PROJECT": "proxytest", "ADMIN_SECRET_NAME": admin["name"], "ADMIN_EMAIL": admin["email"],
                "DASHBOARD_NAME": "localhost", "DASHBOARD_PORT": str(free_port())}  # fmt: skip
    hub = Hub(tmp_path_factory.mktemp("hub"), settings)
    hub.start_dashboard()
    try:  # the units stop even when the dashboard never answered
        hub.wait_for_dashboard()
        yield hub
    finally:
        hub.stop_all()
    if FIGURES:
        print("\nhub proxy figures: " + ", ".join(f"{k}: {v}" for k, v in FIGURES.items()))


@pytest.fixture(scope="module")
def port(hub: Hub) -> int:
    return int(hub.settings["DASHBOARD_PORT"])


def test_every_answer_carries_the_security_headers_and_api_answers_are_never_cached(port: int, admin: dict[str, str]) -> None:
    answers = {
        "page": request(port, "/"),
        "missing page": request(port, "/no-such-page"),
        "project": request(port, f"{API}/project"),
        "login refused": request(port, f"{API}/login", {"email": admin["email"], "password": "wrong"}),
        "login": request(port, f"{API}/login", {"email": admin["email"], "password": admin["password"]}),
        "users without a token": request(port, f"{API}/users"),
    }
    assert {name: status for name, (status, _, _) in answers.items()} == {
        "page": 200, "missing page": 404, "project": 200, "login refused": 401, "login": 200, "users without a token": 401,
    }  # fmt: skip
    for name, (_, headers, _) in answers.items():
        assert {key: headers.get(key) for key in SECURITY_HEADERS} == {key: [value] for key, value in SECURITY_HEADERS.items()}, name
        assert headers["server"] == ["nginx"], name  # no version
        if "page" not in name:  # the dashboard's pages say no-cache themselves
            assert headers["cache-control"] == ["no-store"], name


def test_guessed_logins_get_429_and_the_right_password_works_afterwards(hub: Hub, port: int, admin: dict[str, str]) -> None:
    """nginx.conf: 10 logins a minute per address, 10 more at once. Guessing at full speed gets
    401 for the first 11 (12 if a minute's tenth passed meanwhile), then 429 until the rate allows."""
    guesser = "127.0.0.2"
    statuses = [request(port, f"{API}/login", {"email": admin["email"], "password": f"guess-{n}"}, source=guesser)[0] for n in range(30)]
    allowed = statuses.count(401)
    assert allowed in (11, 12) and statuses == [401] * allowed + [429] * (30 - allowed), statuses
    right = {"email": admin["email"], "password": admin["password"]}
    assert request(port, f"{API}/login", right, source=guesser)[0] == 429
    assert request(port, f"{API}/login", right, source="127.0.0.3")[0] == 200  # others are not locked out
    waited = wait_for(lambda: request(port, f"{API}/login", right, source=guesser)[0] == 200, timeout=20, interval=1)
    FIGURES["right password accepted again after a burst of guesses"] = f"{waited:.0f} s"
    refused = [line for line in (hub.root / "proxy-access.log").read_text().splitlines() if line.startswith("refused login from")]
    from_guesser = [line for line in refused if line.startswith(f"refused login from {guesser}:")]
    assert set(from_guesser) == {f"refused login from {guesser}: HTTP 401", f"refused login from {guesser}: HTTP 429"}
    assert len(from_guesser) >= 31


def test_sign_ups_are_throttled_per_address(port: int) -> None:
    """nginx.conf: 5 sign-ups at once, then one a minute, per address."""
    statuses = [
        request(
            port,
            f"{API}/users",
            {"email": f"someone{n}@proxy.test", "password": "p" * 12, "name": "x", "organization": "o", "role": "member"},
            source="127.0.0.4",
        )[0]  # fmt: skip
        for n in range(8)
    ]
    assert statuses[6:] == [429, 429] and 429 not in statuses[:6], statuses


def test_slow_clients_do_not_keep_others_waiting(port: int) -> None:
    """32 connections that send half a request and nothing more, held for 60 s (the issue's
    slowloris): every normal request meanwhile answers within 2 s."""
    held: list[socket.socket] = []
    for _ in range(32):
        connection = insecure().wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
        connection.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        held.append(connection)
    slowest, answered, deadline = 0.0, 0, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            for connection in held:  # keep them slow, not dead: a header line now and then
                try:
                    connection.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass  # nginx dropped it (client_header_timeout): that is the point
            start = time.monotonic()
            assert request(port, "/", timeout=5)[0] == 200
            slowest, answered = max(slowest, time.monotonic() - start), answered + 1
            time.sleep(2)
    finally:
        for connection in held:
            connection.close()
    FIGURES["slowest normal answer beside 32 slow clients (60 s)"] = f"{slowest * 1000:.0f} ms over {answered} requests"
    assert answered >= 20 and slowest < 2.0


def test_many_concurrent_clients_are_all_answered(port: int) -> None:
    """50 clients, each from its own address, 5 API calls each at once: none refused, none lost."""
    results: list[float] = []
    failures: list[str] = []

    def client(source: str) -> None:
        for _ in range(5):
            start = time.monotonic()
            try:
                status = request(port, f"{API}/project", timeout=30, source=source)[0]
            except OSError as error:
                failures.append(str(error))
                continue
            (results.append(time.monotonic() - start) if status == 200 else failures.append(str(status)))

    threads = [threading.Thread(target=client, args=(f"127.0.1.{n}",)) for n in range(1, 51)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(results) == 250
    FIGURES["250 API calls from 50 concurrent clients, slowest"] = f"{max(results):.1f} s"


def test_the_database_key_and_socket_are_private(hub: Hub) -> None:
    """The database holds the project's root CA key; the token-signing key is a systemd credential
    that only the app reads: it is in no process environment."""
    web_root = hub.data / "dashboard"
    assert {path.name: oct(path.stat().st_mode & 0o777) for path in web_root.iterdir() if path.name.startswith("db.sqlite")} == {
        "db.sqlite": "0o600"
    }
    assert oct(web_root.stat().st_mode & 0o777) == "0o700"
    pid = hub.pid("flare-dashboard.service")
    assert pid is not None
    for process in [pid, *(int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split())]:
        environment = open(f"/proc/{process}/environ", "rb").read().split(b"\0")
        assert not [item for item in environment if item.startswith(b"SECRET_KEY=")], process
