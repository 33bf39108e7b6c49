"""Zero-touch hub: the dashboard's project from the federation file, and the hub's own server
kit from the dashboard (`hubctl project`, run by flare-project.service after the dashboard).

As the project admin (the credential from Secrets Manager) it sets the project's short name,
title, description, the FL server's name and port, and freezes it; then it asks the dashboard
for the server kit with a random PIN that never leaves this host, checks the kit names that
server and port, and installs it beside any earlier kit (kept for rollback). A second run
with the same settings changes nothing.

Exit status: 0 done or nothing to do; 1 try again later (dashboard not up, login refused:
systemd retries); 2 the Project Admin must act (a frozen project with other settings).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import startup_kit
from dashboard_api import DashboardApi, DashboardUnreachable, is_zip

STATE_FILE = "dashboard-kit.json"  # in the kits folder: which settings the current dashboard kit was made for


class DashboardError(Exception):
    pass


class Dashboard(DashboardApi):
    """The dashboard's JSON API (dashboard_api.py): on the hub through gunicorn's own socket (a
    path), past the proxy and its login limits; from elsewhere on loopback through the proxy
    (a port; its certificate may be self-signed)."""

    def __init__(self, address: str | int):
        super().__init__(lambda: self.connection(address), str(address))

    @staticmethod
    def connection(address: str | int) -> http.client.HTTPConnection:
        if isinstance(address, int):
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", address, timeout=60, context=context)
        import hub_health  # beside this file

        return hub_health.UnixHTTPConnection(address, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        try:
            return super().call(method, path, body)
        except DashboardUnreachable as error:
            raise DashboardError(str(error)) from None

    def json(self, method: str, path: str, body: dict | None = None) -> dict[str, Any]:
        status, payload = self.call(method, path, body)
        if status != 200:
            raise DashboardError(f"{method} {path} answered {status}: {payload[:200]!r}")
        return json.loads(payload)

    def login(self, email: str, password: str) -> int:
        status = super().login(email, password)
        if status != 200:
            raise DashboardError(f"the dashboard refused the login of {email} ({status}); check the admin secret")
        return status


def wanted_settings(*, project: str, title: str, description: str, server_name: str, fl_port: int) -> dict[str, Any]:
    """What the federation file says the project is, in the dashboard's terms."""
    return {
        "short_name": project,
        "title": title,
        "description": description,
        "server1": server_name,
        "server_props": {"fed_learn_port": fl_port, "admin_port": fl_port},
    }


def public_address() -> str:
    """The hub's Elastic IP, as EC2 has it associated with this instance: the FL server's name
    when the federation has no DNS. The metadata's public-ipv4 can still be the launch address
    before the association is done; freezing a project on it would strand every kit."""
    import boto3  # in the hub's venv
    from botocore.exceptions import BotoCoreError, ClientError
    from instance import MetadataError, elastic_ip, metadata  # beside this file

    try:
        instance_id = metadata("instance-id")
        address = elastic_ip(boto3.client("ec2"), instance_id)
    except MetadataError as error:
        raise DashboardError(f"cannot read the hub's public address: {error}") from None
    except (BotoCoreError, ClientError) as error:
        raise DashboardError(f"cannot ask EC2 for the hub's Elastic IP: {error}") from None
    if address is None:
        raise DashboardError(f"no Elastic IP is associated with {instance_id} yet; the project waits for it")
    return address


def as_dict(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value.startswith("{") else (value or {})


def differences(project: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    found = []
    for key, value in wanted.items():
        have = as_dict(project.get(key)) if key == "server_props" else project.get(key, "")
        if key == "server_props":
            have = {name: have.get(name) for name in value}
        if have != value:
            found.append(f"{key} is {have!r}, the federation file says {value!r}")
    return found


def fingerprint(wanted: dict[str, Any]) -> str:
    """Changes when the settings the federation file gives the project change: then a new kit is
    needed. (NVFlare 2.9's project JSON has no root CA to key on: Project.asdict leaves it out.
    The state file lives on the data volume beside the dashboard database whose CA it is.)"""
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def configure(dashboard: Dashboard, wanted: dict[str, Any], freeze: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """The project as the file says, frozen when asked; DashboardError if it is frozen otherwise."""
    project = dashboard.json("GET", "/project")["project"]
    changed = differences(project, wanted)
    if project.get("frozen"):
        if changed:
            raise FrozenProject(
                "the dashboard's project is frozen with other settings: " + "; ".join(changed) + ". Frozen settings cannot "
                "change (every kit handed out names them): set the federation file back, or start a new project "
                "(a new data volume) and hand every site a new kit"
            )
        return project
    if changed or freeze:
        reply = dashboard.json("PATCH", "/project", {**wanted, "frozen": freeze})  # one request: never half-configured
        if reply.get("status") != "ok":
            raise DashboardError(f"the dashboard did not take the project settings: {reply}")
        project = reply["project"]
        log(f"project {wanted['short_name']}: server {wanted['server1']}:{wanted['server_props']['fed_learn_port']}"
            + (", frozen" if freeze else ", not frozen (dashboard.freeze: false): no kits until it is frozen"))  # fmt: skip
    return project


class FrozenProject(DashboardError):
    pass


def server_kit(dashboard: Dashboard) -> tuple[bytes, str]:
    """The server kit zip and its PIN (random, alphanumeric as the dashboard requires; kept in memory)."""
    status, archive, pin = dashboard.server_kit()
    if status != 200 or not is_zip(archive):
        raise DashboardError(f"the dashboard made no server kit ({status}): {archive[:200]!r}")
    return archive, pin


def kit_mismatch(kit: Path, *, project: str, server_name: str | None, port: int) -> str | None:
    """How a server kit differs from this hub's project, server name (None: not known here, the
    Elastic IP) and FL port; None when it is this hub's."""
    served = startup_kit.read_identity(kit / "startup")
    found = [
        f"{what} is {have!r}, hub.env says {want!r}"
        for what, have, want in (
            ("project", served.project, project),
            ("server name", served.host, server_name),
            ("port", served.port, port),
        )
        if want is not None and have != want
    ]
    return "; ".join(found) or None


def check_kit(kit: Path, wanted: dict[str, Any]) -> None:
    """The kit serves the name and port the federation file says (what every site's kit dials)."""
    served = startup_kit.read_identity(kit / "startup")
    expected = (wanted["server1"], wanted["server_props"]["fed_learn_port"])
    if (served.host, served.port) != expected:
        raise DashboardError(f"the dashboard's kit serves {served.address}, not {expected[0]}:{expected[1]}; not installed")
