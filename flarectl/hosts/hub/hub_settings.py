"""The hub's settings: what bootstrap.sh writes to /etc/nvflare/hub.env (rendered by
flarectl/hub_env.py) and what every unit sets, read once into `Hub`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# every unit sets with Environment=.
HUB_ENV = ("PROJECT", "FL_PORT", "KIT_BUCKET", "ADMIN_SECRET_NAME", "ADMIN_EMAIL", "DASHBOARD_NAME", "CERTIFICATE_MODE",
           "CERT_SECRET_NAME", "ACME_SERVER", "SERVER_NAME", "PROJECT_TITLE", "PROJECT_DESCRIPTION", "FREEZE_PROJECT", "SERVER_AUTHORIZATION", "SITE_LOST_AFTER_SECONDS")  # fmt: skip
UNIT_ENV = ("FLARE_DATA", "FLARE_VENV")


@dataclass(frozen=True)
class Hub:
    data: Path
    venv: Path
    project: str
    fl_port: int
    dashboard_port: int
    dashboard_name: str
    certificate_mode: str
    admin_secret_name: str
    cert_secret_name: str
    kit_bucket: str
    admin_email: str
    acme_server: str
    certbot: str
    server_name: str  # the FL server's DNS name; empty: the hub's public IP
    project_title: str
    project_description: str
    freeze_project: bool
    server_authorization: str  # the FL server's local/authorization.json, as JSON (governance.hub)
    site_lost_after_seconds: int  # NVFlare's dead_client_grace_period for every job
    dashboard_socket: str  # gunicorn's socket (flare-dashboard.socket); set by the units that use it

    @classmethod
    def from_env(cls) -> Hub:
        """From what hub.env always holds (HUB_ENV) and every unit sets (UNIT_ENV): no defaults
        here, so a value is decided in one place (the stack, or the unit)."""
        env = os.environ
        missing = [name for name in (*HUB_ENV, *UNIT_ENV) if name not in env]
        if missing:
            raise SystemExit(
                f"hubctl: {', '.join(missing)} not set; run hubctl from its systemd units (EnvironmentFile=/etc/nvflare/hub.env)"
            )
        return cls(
            data=Path(env["FLARE_DATA"]),
            venv=Path(env["FLARE_VENV"]),
            project=env["PROJECT"],
            fl_port=int(env["FL_PORT"]),
            dashboard_port=int(env.get("DASHBOARD_PORT", "443")),  # the product's port; tests move it
            dashboard_name=env["DASHBOARD_NAME"],
            certificate_mode=env["CERTIFICATE_MODE"],
            admin_secret_name=env["ADMIN_SECRET_NAME"],
            cert_secret_name=env["CERT_SECRET_NAME"],
            kit_bucket=env["KIT_BUCKET"],
            admin_email=env["ADMIN_EMAIL"],
            acme_server=env["ACME_SERVER"],
            certbot=env.get("FLARE_CERTBOT", ""),  # set by the units that run certbot
            server_name=env["SERVER_NAME"],
            project_title=env["PROJECT_TITLE"],
            project_description=env["PROJECT_DESCRIPTION"],
            freeze_project=env["FREEZE_PROJECT"] == "true",
            server_authorization=env["SERVER_AUTHORIZATION"],
            site_lost_after_seconds=int(env["SITE_LOST_AFTER_SECONDS"]),
            dashboard_socket=env.get("FLARE_DASHBOARD_SOCKET", ""),
        )

    @property
    def web_root(self) -> Path:
        return self.data / "dashboard"

    @property
    def cert_dir(self) -> Path:
        return self.data / "certs"

    @property
    def kits(self) -> Path:
        return self.data / "kits"

    @property
    def letsencrypt(self) -> Path:
        return self.data / "letsencrypt"
