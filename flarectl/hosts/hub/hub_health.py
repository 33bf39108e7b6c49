"""What `hubctl.py health` checks (flare-health.timer, every 2 minutes), and when it restarts.

A service is restarted only after two failed checks in a row, and never while it is starting:
within GRACE_SECONDS of systemd starting it, a failed check is not counted. A cold dashboard
needs 15-20 s to answer and a busy one may take seconds per request; a restart then would turn
load into an outage. Each probe asks the service itself, not a queue in front of it: gunicorn
through its local socket, nginx through a path it answers alone, the FL server by a TLS handshake.
Standard library only.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

GRACE_SECONDS = 90
FAILURES_BEFORE_RESTART = 2
PROBE_TIMEOUT = 30  # a busy dashboard's slowest answers took ~11 s under 400 concurrent requests


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def dashboard_answers(socket_path: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """gunicorn answers its start page on its own socket."""
    connection = UnixHTTPConnection(socket_path, timeout)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status == 200 and b'name="viewport"' in response.read()
    except OSError:
        return False
    finally:
        connection.close()


def proxy_answers(port: int, timeout: float = 10) -> bool:
    """nginx answers /proxy-health itself (nginx.conf), whatever the dashboard is doing."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # liveness, not identity
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    try:
        connection.request("GET", "/proxy-health")
        return connection.getresponse().status == 204
    except OSError:
        return False
    finally:
        connection.close()


def fl_server_answers(port: int, kit: Path, timeout: float = 10) -> bool:
    """The FL server process itself must answer a TLS handshake: a frozen or hung server still has
    its port accepting connections (the kernel does that), but says nothing. The probe presents
    the kit's own server certificate, which the server accepts: a probe without one would be
    refused and logged like an outsider's ("Handshake failed"), which the RefusedFlHandshakes
    alarm counts."""
    startup = kit / "startup"
    context = ssl.create_default_context(cafile=str(startup / "rootCA.pem"))
    context.check_hostname = False  # the kit's CA vouches for the server; its name is the DNS name
    context.load_cert_chain(str(startup / "server.crt"), str(startup / "server.key"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            with context.wrap_socket(connection, server_hostname="localhost"):
                return True
    except ssl.SSLError:  # an answer all the same
        return True
    except OSError:  # refused, or no answer in time
        return False


def unit_property(unit: str, name: str) -> str:
    result = subprocess.run(["systemctl", "show", "--property", name, "--value", unit], capture_output=True, text=True, check=False)
    return result.stdout.strip()


def seconds_since_start(unit: str) -> float | None:
    """Since systemd last started the unit (None: not active, or no systemd to ask)."""
    if unit_property(unit, "ActiveState") != "active":
        return None
    entered = unit_property(unit, "ActiveEnterTimestampMonotonic")
    if not entered.isdigit() or entered == "0":
        return None
    return time.clock_gettime(time.CLOCK_MONOTONIC) - int(entered) / 1e6


class Checks:
    """Failures in a row per unit, kept in STATE between runs (flare-health.service's RuntimeDirectory)."""

    def __init__(self, state: Path, log: Callable[[str], None], restart: Callable[[str], bool]):
        self.state, self.log, self.restart = state, log, restart
        self.failures: dict[str, int] = json.loads(state.read_text()) if state.exists() else {}
        self.failed = False  # any check failed this run (the metric the alarm watches)
        self.unrepaired = False

    def judge(self, unit: str, answers: bool, what: str) -> None:
        if answers:
            self.log(f"OK: {what}")
            self.failures[unit] = 0
            return
        since = seconds_since_start(unit)
        if since is not None and since < GRACE_SECONDS:
            self.log(f"{what} does not answer yet; {unit} started {since:.0f} s ago (grace {GRACE_SECONDS} s)")
            self.failures[unit] = 0
            return
        self.failed = True
        self.failures[unit] = self.failures.get(unit, 0) + 1
        if self.failures[unit] < FAILURES_BEFORE_RESTART:
            self.log(f"{what} did not answer ({self.failures[unit]} of {FAILURES_BEFORE_RESTART} failed checks before a restart)")
            return
        self.log(f"{what} did not answer {self.failures[unit]} times in a row")
        self.failures[unit] = 0
        self.unrepaired |= not self.restart(unit)

    def save(self) -> None:
        self.state.parent.mkdir(parents=True, exist_ok=True)
        self.state.write_text(json.dumps(self.failures))
