"""AWS GPU sites (`kind: aws`): one CloudFormation stack per site, `FlareClient-<site>`, on the
Deep Learning Base AMI, running the shared client runtime.

model.py (the config), instance_types.py (which EC2 type fits the GPUs), synth.py (the stack;
CDK is imported only there)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flarectl.sites.aws.instance_types import NoInstanceType, choose_instance_type
from flarectl.sites.aws.model import AwsSite
from flarectl.sites.kind import SiteKind

if TYPE_CHECKING:
    import aws_cdk as cdk

    from flarectl.config.federation import Federation


def check(site: AwsSite, federation: Federation) -> list[str]:
    if site.network.vpc.startswith("vpc-") and (site.aws or federation.aws).account is None:
        return ["network.vpc: an explicit VPC id needs aws.account and aws.region (for the site or the federation)"]
    return []


def preflight(site: AwsSite, federation: Federation) -> list[str]:
    """An instance type must fit the site's GPUs (as configured, or chosen)."""
    if site.instance_type:
        return []
    aws = site.aws or federation.aws
    try:
        choose_instance_type(gpus=site.gpus, gpu_memory_gib=site.gpu_memory_gib, arch=site.arch, account=aws.account, region=aws.region)
    except NoInstanceType as error:
        return [f"gpu_memory_gib: {error}"]
    return []


def synth(app: cdk.App, site: Any, federation: Federation) -> str:
    from flarectl.sites.aws.synth import add_site_stack

    return add_site_stack(app, site, federation)


KIND = SiteKind(name="aws", model=AwsSite, synth=synth, check=check, preflight=preflight)
