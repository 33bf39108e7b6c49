"""Every setting the hub stack hands the host in hub.env, as the synthesized user data writes it
(issue 34): the default federation, one with DNS and Let's Encrypt, and one with the Project
Admin's own certificate and dashboard texts. CDK tokens show as their CloudFormation references."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template

from tests.harness.governance import nvflare_default_authz
from tests.harness.synth_fixtures import DNS, federation, synth_hub
from tests.harness.templates import bootstrap_part

BUCKET = '<{"Ref": "KitStoreBucket0DEEEF6D"}>'
REGION = '<{"Ref": "AWS::Region"}>'
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


def written(template: Template) -> dict[str, str]:
    """hub.env's NAME="value" lines from the bootstrap's HUB_ENV (no value here needs an escape)."""
    text = bootstrap_part(template)
    body = text[text.index("readonly HUB_ENV='") + len("readonly HUB_ENV='") :].split("\n'\n", 1)[0]
    lines = [line for line in body.splitlines() if not line.startswith("#")]
    settings = {name: value.removeprefix('"').removesuffix('"') for name, value in (line.split("=", 1) for line in lines)}
    # The server's policy: JSON, whose quotes the file escapes; here NVFlare's own default
    # (none of these files has a governance section), read back and compared whole.
    policy = json.loads(settings.pop("SERVER_AUTHORIZATION").replace('\\"', '"'))
    assert policy == nvflare_default_authz()
    return settings


def test_the_default_federation(default_template: Template) -> None:
    assert written(default_template) == {
        "PROJECT": "cancer-fl", "FL_PORT": "8002", "KIT_BUCKET": BUCKET, "ADMIN_SECRET_NAME": "cancer-fl/dashboard-admin",
        "ADMIN_EMAIL": "flare-admin@example.org", "AWS_DEFAULT_REGION": REGION, "DASHBOARD_NAME": "", "CERTIFICATE_MODE": "self-signed",
        "CERT_SECRET_NAME": "", "ACME_SERVER": LETS_ENCRYPT, "SERVER_NAME": "", "PROJECT_TITLE": "NVFlare federation cancer-fl",
        "PROJECT_DESCRIPTION": "", "FREEZE_PROJECT": "true", "SITE_LOST_AFTER_SECONDS": "60",
    }  # fmt: skip


def test_dns_and_lets_encrypt(dns_template: Template) -> None:
    assert written(dns_template) == {
        "PROJECT": "cancer-fl", "FL_PORT": "8102", "KIT_BUCKET": BUCKET, "ADMIN_SECRET_NAME": "cancer-fl/dashboard-admin",
        "ADMIN_EMAIL": "admin@mydomain.edu", "AWS_DEFAULT_REGION": REGION, "DASHBOARD_NAME": "flareboard.mydomain.edu",
        "CERTIFICATE_MODE": "letsencrypt", "CERT_SECRET_NAME": "", "ACME_SERVER": LETS_ENCRYPT, "SERVER_NAME": "flareserver.mydomain.edu",
        "PROJECT_TITLE": "NVFlare federation cancer-fl", "PROJECT_DESCRIPTION": "", "FREEZE_PROJECT": "true", "SITE_LOST_AFTER_SECONDS": "60",
    }  # fmt: skip


def test_the_admins_own_certificate_dashboard_texts_and_an_unfrozen_project() -> None:
    template = synth_hub(federation(
        project="onco-26", project_admin_email="it@onco.example", dns=DNS, hub={"fl_port": 9443},
        certificate={"mode": "provided", "secret_name": "it/flareboard-cert"},
        dashboard={"title": "Onco FL 2026", "description": "Breast histology", "freeze": False},
    ))  # fmt: skip
    assert written(template) == {
        "PROJECT": "onco-26", "FL_PORT": "9443", "KIT_BUCKET": BUCKET, "ADMIN_SECRET_NAME": "onco-26/dashboard-admin",
        "ADMIN_EMAIL": "it@onco.example", "AWS_DEFAULT_REGION": REGION, "DASHBOARD_NAME": "flareboard.mydomain.edu",
        "CERTIFICATE_MODE": "provided", "CERT_SECRET_NAME": "it/flareboard-cert", "ACME_SERVER": LETS_ENCRYPT,
        "SERVER_NAME": "flareserver.mydomain.edu", "PROJECT_TITLE": "Onco FL 2026", "PROJECT_DESCRIPTION": "Breast histology",
        "FREEZE_PROJECT": "false", "SITE_LOST_AFTER_SECONDS": "60",
    }  # fmt: skip
