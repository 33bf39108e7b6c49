#!/usr/bin/env python3
"""CDK entry point: load the federation config, build the stacks, check them with cdk-nag.

`cdk synth` uses the embedded default federation.yaml; `cdk synth -c config=PATH` another.
"""

import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks

from flarectl import azure_site, slurm_site, wsl_site
from flarectl.config import DEFAULT_FEDERATION, AwsSite, AwsTarget, AzureSite, ConfigError, Federation, SlurmSite, WslSite, load_federation
from flarectl.instance_types import Choice, NoInstanceType, choose_instance_type
from flarectl.vpc_choice import choose_vpc
from stacks.client_stack import FlareClientStack
from stacks.server_stack import FlareServerStack


def environment(aws: AwsTarget) -> cdk.Environment | None:
    return cdk.Environment(account=aws.account, region=aws.region) if aws.account else None


def instance_choices(federation: Federation) -> dict[str, Choice]:
    """Each AWS site's instance type: as configured, or chosen for its GPUs."""
    choices, problems = {}, []
    for index, site in enumerate(federation.sites):
        if not isinstance(site, AwsSite):
            continue
        if site.instance_type:
            choices[site.name] = Choice(site.instance_type, f"{site.instance_type}: set in the federation file")
            continue
        aws = site.aws or federation.aws
        try:
            choices[site.name] = choose_instance_type(
                gpus=site.gpus, gpu_memory_gib=site.gpu_memory_gib, arch=site.arch, account=aws.account, region=aws.region
            )
        except NoInstanceType as error:
            problems.append(f"sites[{index}].gpu_memory_gib: {error}")
    if problems:
        raise ConfigError(problems)
    return choices


def build_app(federation: Federation, *, app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    choices = instance_choices(federation)
    hub_vpc = choose_vpc(federation.network, federation.aws)
    print(f"FlareServerStack: {hub_vpc.kind} VPC, because {hub_vpc.reason}", file=sys.stderr)
    FlareServerStack(
        app,
        "FlareServerStack",
        federation=federation,
        vpc_choice=hub_vpc,
        env=environment(federation.aws),
        description=f"NVFlare hub (dashboard + FL server) for project {federation.project}",
        analytics_reporting=False,
    )
    for site in federation.sites:
        if not isinstance(site, AwsSite):
            continue
        aws = site.aws or federation.aws
        site_vpc = choose_vpc(site.network, aws)
        stack_name = f"FlareClient-{site.name}"
        print(f"{stack_name}: {choices[site.name].reason}; {site_vpc.kind} VPC, because {site_vpc.reason}", file=sys.stderr)
        if not site.kit_present:
            print(f"{stack_name}: no startup kit at {site.kit or '(sites[].kit not set)'}: synthesized for review; deploy will refuse", file=sys.stderr)
        FlareClientStack(
            app,
            stack_name,
            site=site,
            nvflare_version=federation.nvflare_version,
            vpc_choice=site_vpc,
            instance=choices[site.name],
            env=environment(aws),
            description=f"NVFlare client site {site.name} (AWS GPU) for project {federation.project}",
            analytics_reporting=False,
        )
    # Sites outside CloudFormation get files: to review (Azure, deployed by `flarectl azure`),
    # or to copy (Slurm login nodes, WSL laptops).
    emitters = {
        AzureSite: (azure_site.emit, "review; deploy with `flarectl azure deploy`"),
        SlurmSite: (slurm_site.emit, "the Slurm login node"),
        WslSite: (wsl_site.emit, "the laptop's WSL"),
    }
    for site in federation.sites:
        if type(site) in emitters:
            emit, where = emitters[type(site)]
            written = emit(site, federation, Path(app.outdir) / "sites" / site.name)
            print(f"sites/{site.name}: {len(written)} files for {where} (see its README.md)", file=sys.stderr)
    validations = cdk.Validations.of(app)
    validations.add_plugins(AwsSolutionsChecks(app))
    validations.add_plugins(HIPAASecurityChecks(app))
    return app


def main() -> int:
    app = cdk.App()
    config_path = Path(app.node.try_get_context("config") or DEFAULT_FEDERATION)
    try:
        federation = load_federation(config_path)
        build_app(federation, app=app)
    except ConfigError as error:
        for problem in error.problems:
            print(problem if problem.startswith(config_path.name) else f"{config_path.name}: {problem}", file=sys.stderr)
        print("Nothing was synthesized. Fix the federation file and run again.", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
