"""AWS GPU sites (`kind: aws`): one CloudFormation stack per site, `FlareClient-<site>`, on the
Deep Learning Base AMI, running the shared client runtime.

model.py (the config), instance_types.py (which EC2 type fits the GPUs); the stack and the
preflight that needs CDK's context are in the CDK app (stacks/aws_site.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flarectl.config.hub import graviton
from flarectl.gpu_models import GPU_MODELS, registration_problem
from flarectl.sites.aws.instance_types import (
    BUILTIN,
    CATALOGUE,
    DLAMI_FAMILIES,
    UNCATALOGUED_FAMILIES,
    NoInstanceType,
    choose,
    dlami_supports,
    table_entry,
)
from flarectl.sites.aws.model import AwsSite
from flarectl.sites.kind import SiteKind

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings


def check(site: AwsSite, federation: FederationSettings) -> list[str]:
    """Rules between fields, with no AWS call: what synth would refuse, refused at load."""
    problems = []
    if site.network.vpc.startswith("vpc-") and (site.aws or federation.aws).account is None:
        problems.append("network.vpc: an explicit VPC id needs aws.account and aws.region (for the site or the federation)")
    region = (site.aws or federation.aws).region or ""
    if site.instance_type:
        problems += _instance_type_problems(site)
    elif "-gov-" in region or region.startswith("cn-"):
        # The built-in table is priced and stocked for the commercial regions.
        problems.append(f"instance_type: {region} offers fewer GPU types than the built-in table knows; set instance_type to one it offers")
    else:
        try:  # what offline synth chooses from; with credentials synth asks EC2's catalogue instead
            choose(
                list(BUILTIN),
                gpus=site.gpus,
                gpu_memory_gib=site.gpu_memory_gib,
                arch=site.arch,
                source="the built-in table",
                by_price=True,
            )
        except NoInstanceType as error:
            problems.append(f"gpu_memory_gib: {error}")
    return problems


def _instance_type_problems(site: AwsSite) -> list[str]:
    chosen = site.instance_type or ""
    arch = "arm64" if graviton(chosen) else "x86_64"
    if arch != site.arch:
        return [f"arch: {chosen} is {arch} (Graviton: arm64), but arch is {site.arch}; set arch: {arch}"]
    if not dlami_supports(chosen, arch):
        families = ", ".join(DLAMI_FAMILIES[arch])
        return [f"instance_type: {chosen} is not an NVIDIA GPU type the Deep Learning Base AMI supports ({arch}: {families})"]
    entry = table_entry(chosen)
    if entry is None:
        family = chosen.split(".")[0]
        if family in UNCATALOGUED_FAMILIES:
            return []  # checked against EC2 at synth, with credentials
        sizes = ", ".join(sorted((name.split(".", 1)[1] for name in CATALOGUE if name.split(".")[0] == family), key=_size_order))
        return [f"instance_type: {chosen} is not an EC2 instance type ({family} comes in {sizes})"]
    if entry.gpus != site.gpus:
        return [f"gpus: {chosen} has {entry.gpus} GPU(s), not {site.gpus}; register what the instance has"]
    problem = registration_problem(GPU_MODELS[entry.gpu_model], site.gpu_memory_gib, chosen)
    return [f"gpu_memory_gib: {problem}"] if problem else []


def _size_order(size: str) -> int:
    """xlarge < 2xlarge < ... < 48xlarge < metal, as EC2's own listings order a GPU family."""
    return 1_000 if size == "metal" else int(size.removesuffix("xlarge") or 1)


# Its CDK steps are in the CDK app, loaded only by `cdk synth`.
KIND = SiteKind(
    name="aws",
    model=AwsSite,
    minimal={"gpu_memory_gib": 16},
    synth="stacks.aws_site:synth",
    check=check,
    preflight="stacks.aws_site:preflight",
)
