"""The CDK steps of the AWS site kind (flarectl/sites/aws/), which names them as strings so that
the flarectl library never imports the CDK app: `preflight` before anything is written, and
`synth`, which adds the stack FlareClient-<site> (stacks/client_stack.py)."""

from __future__ import annotations

import aws_cdk as cdk

from flarectl import vpc_choice
from flarectl.config.errors import ConfigError
from flarectl.config.federation import FederationSettings
from flarectl.sites.aws import instance_types
from flarectl.sites.aws.instance_types import Choice, NoInstanceType, choose_instance_type
from flarectl.sites.aws.model import AwsSite
from flarectl.vpc_choice import choose_vpc
from stacks.client_stack import FlareClientStack
from stacks.environment import cdk_environment


def instance_choice(site: AwsSite, federation: FederationSettings) -> Choice:
    """As configured, or chosen for the site's GPUs (preflight made sure one fits)."""
    if site.instance_type:
        return Choice(site.instance_type, f"{site.instance_type}: set in the federation file")
    aws = site.aws or federation.aws
    return choose_instance_type(gpus=site.gpus, gpu_memory_gib=site.gpu_memory_gib, arch=site.arch, account=aws.account, region=aws.region)


def environment_problems(app: cdk.App, site: AwsSite, federation: FederationSettings) -> list[str]:
    try:
        cdk_environment(app, site.aws or federation.aws, choose_vpc(site.network, site.aws or federation.aws), field="network.vpc")
    except ConfigError as error:
        return error.problems
    return []


def preflight(app: cdk.App, site: AwsSite, federation: FederationSettings) -> list[str]:
    """With credentials for the account, EC2's catalogue must have a type that fits; without
    them, an explicit VPC must be in CDK's lookup cache."""
    problems = environment_problems(app, site, federation)
    if site.instance_type:
        return problems
    aws = site.aws or federation.aws
    try:
        choose_instance_type(gpus=site.gpus, gpu_memory_gib=site.gpu_memory_gib, arch=site.arch, account=aws.account, region=aws.region)
    except NoInstanceType as error:
        problems.append(f"gpu_memory_gib: {error}")
    return problems


def synth(app: cdk.App, site: AwsSite, federation: FederationSettings) -> str:
    """app.py's preflight has checked the environment before anything was written."""
    aws = site.aws or federation.aws
    vpc = choose_vpc(site.network, aws)
    choice = instance_choice(site, federation)
    stack_name = f"FlareClient-{site.name}"
    environment, note = cdk_environment(app, aws, vpc, field="network.vpc")
    FlareClientStack(
        app,
        stack_name,
        site=site,
        nvflare_version=federation.nvflare_version,
        governance=federation.governance.site(site.name),
        vpc_choice=vpc,
        instance=choice,
        env=environment,
        description=f"NVFlare client site {site.name} (AWS GPU) for project {federation.project}",
        analytics_reporting=False,
        termination_protection=True,  # the instances are replaceable; the stack is what must not vanish by mistake
    )
    notes = [note, instance_types.credentialed_difference(choice, account=aws.account, region=aws.region) if not site.instance_type else "",
             vpc_choice.credentialed_difference(site.network, aws, vpc)]  # fmt: skip
    line = f"{stack_name}: {choice.reason}; {vpc.kind} VPC, because {vpc.reason}" + "".join(f"; {n}" for n in notes if n)
    if not site.kit_present:
        line += f"\n{stack_name}: no startup kit at {site.kit or '(sites[].kit not set)'}: synthesized for review; deploy will refuse"
    return line
