"""The one owner of what the hub's services read: /etc/nvflare/hub.env (systemd's
EnvironmentFile= for every flare-* unit; hubctl.py requires each of these names). Rendered
here from the federation file, so every value reaches the services exactly as written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flarectl.governance import authorization, compact
from flarectl.host_scripts import render_env_file

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

HUB_ENV_PATH = "/etc/nvflare/hub.env"


def hub_settings(federation: FederationSettings, *, kit_bucket: str, admin_secret_name: str, region: str) -> dict[str, str]:
    """hub.env's settings; the three names AWS makes at deploy come from the stack."""
    dns, certificate = federation.dns, federation.certificate
    return {
        "PROJECT": federation.project,
        "FL_PORT": str(federation.hub.fl_port),
        "KIT_BUCKET": kit_bucket,
        "ADMIN_SECRET_NAME": admin_secret_name,
        "ADMIN_EMAIL": federation.project_admin_email,
        "AWS_DEFAULT_REGION": region,  # boto3's
        "DASHBOARD_NAME": dns.dashboard_name if dns else "",
        "CERTIFICATE_MODE": federation.certificate_mode,
        "CERT_SECRET_NAME": certificate.secret_name or "",
        "ACME_SERVER": certificate.acme_server,
        "SERVER_NAME": dns.server_name if dns else "",  # empty: the hub reads its Elastic IP at boot
        "PROJECT_TITLE": federation.dashboard_title,
        "PROJECT_DESCRIPTION": federation.dashboard.description,
        "FREEZE_PROJECT": "true" if federation.dashboard.freeze else "false",
        "SITE_LOST_AFTER_SECONDS": str(federation.hub.site_lost_after_seconds),
        # The FL server's local/authorization.json (governance.hub), one line of JSON.
        "SERVER_AUTHORIZATION": compact(authorization(federation.governance.server)),
    }


def hub_env(federation: FederationSettings, *, kit_bucket: str, admin_secret_name: str, region: str) -> str:
    """The text of hub.env."""
    settings = hub_settings(federation, kit_bucket=kit_bucket, admin_secret_name=admin_secret_name, region=region)
    return render_env_file(settings, about=f"NVFlare hub settings for project {federation.project}")
