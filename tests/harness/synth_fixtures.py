"""Synthesized templates of FlareServerStack for the federations the tests care about.

Each template is synthesized once per session, in process, with cdk-nag's AwsSolutions and
HIPAA.Security packs attached: an unacknowledged finding fails the synth, so every test
that uses a template is also a nag test.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build_app
from flarectl.config import DEFAULT_FEDERATION
from flarectl.federation import Federation, load_federation

ROOT = Path(__file__).resolve().parents[2]

ACCOUNT, REGION = "123456789012", "us-west-2"
DNS = {
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "zone_name": "mydomain.edu",
    "dashboard_name": "flareboard.mydomain.edu",
    "server_name": "flareserver.mydomain.edu",
}


def vpc_context(vpc_id: str, filter_key: str, subnets: list[str] | None = None) -> dict[str, Any]:
    """What `cdk synth` would cache in cdk.context.json after looking the VPC up (two public
    subnets, in AZs a and b: these ids, or the ones given)."""
    key = f"vpc-provider:account={ACCOUNT}:{filter_key}:region={REGION}:returnAsymmetricSubnets=true"
    first, second = subnets or ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"]
    return {
        key: {
            "vpcId": vpc_id,
            "vpcCidrBlock": "172.31.0.0/16",
            "ownerAccountId": ACCOUNT,
            "availabilityZones": [],
            "subnetGroups": [
                {
                    "name": "Public",
                    "type": "Public",
                    "subnets": [
                        {
                            "subnetId": first,
                            "cidr": "172.31.0.0/20",
                            "availabilityZone": f"{REGION}a",
                            "routeTableId": "rtb-0a1",
                        },
                        {
                            "subnetId": second,
                            "cidr": "172.31.16.0/20",
                            "availabilityZone": f"{REGION}b",
                            "routeTableId": "rtb-0a2",
                        },
                    ],
                }
            ],
        }
    }


CDK_JSON_CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]


def synth_stack(federation: Federation, stack: str, context: dict[str, Any] | None = None, *, review_only: bool = False) -> Template:
    """Synthesize like `cdk synth` does: with cdk.json's context (feature flags) applied;
    review_only as for the embedded default."""
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="cdk-test-"), context={**CDK_JSON_CONTEXT, **(context or {})})
    build_app(federation, app=app, review_only=review_only)
    return Template.from_stack(app.node.find_child(stack))


def synth_hub(federation: Federation, context: dict[str, Any] | None = None, *, review_only: bool = False) -> Template:
    return synth_stack(federation, "FlareServerStack", context, review_only=review_only)


def fake_client_kit(root: Path, site: str) -> Path:
    """The files of a client startup kit that synthesis looks at (contents are not read)."""
    kit = root / site
    (kit / "startup").mkdir(parents=True)
    (kit / "local").mkdir()
    (kit / "startup" / "fed_client.json").write_text("{}")
    (kit / "startup" / "sub_start.sh").write_text(f"exec python3 -m client_train --set uid={site} org=hospital\n")
    (kit / "local" / "resources.json.default").write_text("{}")
    return kit


def federation(**overrides: Any) -> Federation:
    data: dict[str, Any] = {"project": "cancer-fl", "project_admin_email": "admin@mydomain.edu"}
    data.update(overrides)
    return Federation.model_validate(data)


@pytest.fixture(scope="session")
def default_federation() -> Federation:
    return load_federation(DEFAULT_FEDERATION)


@pytest.fixture(scope="session")
def default_template(default_federation: Federation) -> Template:
    """The embedded default as `cdk synth` makes it: review-only."""
    return synth_hub(default_federation, review_only=True)


@pytest.fixture(scope="session")
def dns_federation() -> Federation:
    return federation(
        dns=DNS,
        certificate={"mode": "letsencrypt"},
        hub={
            "instance_type": "m7g.large",
            "root_volume_gib": 64,
            "fl_port": 8102,
            "dashboard_cidrs": ["198.51.100.0/24"],
            "fl_cidrs": ["0.0.0.0/0"],
            "ssh_cidr": "203.0.113.0/24",
            "server_requirements": ["torch==2.5.1"],
        },
    )


@pytest.fixture(scope="session")
def dns_template(dns_federation: Federation) -> Template:
    return synth_hub(dns_federation)


@pytest.fixture(scope="session")
def existing_vpc_template() -> Template:
    fed = federation(
        aws={"account": ACCOUNT, "region": REGION},
        network={"vpc": "vpc-0abc12345def67890", "subnet_ids": ["subnet-0ddd3333eeee4444f"]},
    )
    return synth_hub(fed, vpc_context("vpc-0abc12345def67890", "filter.vpc-id=vpc-0abc12345def67890"))


@pytest.fixture(scope="session")
def client_template_without_kit(default_federation: Federation) -> Template:
    """The default federation's AWS site: its kit is not there, so deploy must refuse."""
    return synth_stack(default_federation, "FlareClient-gpu-site-1", review_only=True)


@pytest.fixture(scope="session")
def client_federation(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    kit = fake_client_kit(tmp_path_factory.mktemp("kits"), "onc-lab")
    return federation(
        sites=[
            {
                "name": "onc-lab",
                "kind": "aws",
                "kit": str(kit),
                "gpus": 4,
                "gpu_memory_gib": 22,
                "requirements": ["torch==2.5.1"],
                "spot": True,
            },
        ]
    )


@pytest.fixture(scope="session")
def client_template(client_federation: Federation) -> Template:
    return synth_stack(client_federation, "FlareClient-onc-lab")


# What `flarectl hub restore-plan` writes into hub: after a `cdk destroy` (README: restore).
RESTORE = {"kit_bucket": "cancer-fl-kits-old", "admin_secret": "existing", "data_volume_id": "vol-0123456789abcdef0",
           "elastic_ip": {"allocation_id": "eipalloc-0123456789abcdef0", "address": "3.91.22.17"}}  # fmt: skip


@pytest.fixture(scope="session")
def restore_template() -> Template:
    """The hub of a federation that adopts what an earlier hub kept."""
    return synth_hub(federation(hub=RESTORE))
