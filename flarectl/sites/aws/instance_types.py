"""Which EC2 instance type an AWS site gets for its GPU count and GPU memory.

With credentials for the site's account/region, EC2's own catalogue answers (describe-
instance-types + offerings in the region): the NVIDIA types with exactly `gpus` GPUs and
enough memory per GPU, fewest vCPUs first (EC2 publishes no prices; vCPUs track price).
Offline, a built-in table of common NVIDIA types answers, cheapest on-demand price first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

# Vendors' nominal GPU sizes exceed what the driver reports (A10G: "24 GB", 22.35 GiB usable).
MEMORY_TOLERANCE = 0.9


@dataclass(frozen=True)
class GpuType:
    name: str
    arch: str  # x86_64 | arm64
    gpus: int
    gpu_memory_gib: float  # per GPU
    vcpus: int
    gpu_model: str
    usd_per_hour: float | None = None  # us-east-1 on-demand, Nov 2026, approximate


# Common NVIDIA types the Deep Learning Base AMI (Ubuntu 24.04) supports (us-east-1 on-demand,
# approximate; check the AWS price list before budgeting). No P3: its V100s are not supported
# by the AMI's NVIDIA driver any more.
BUILTIN: tuple[GpuType, ...] = (
    GpuType("g4dn.xlarge", "x86_64", 1, 16, 4, "T4", 0.526),
    GpuType("g6.xlarge", "x86_64", 1, 22, 4, "L4", 0.805),
    GpuType("g5.xlarge", "x86_64", 1, 22.35, 4, "A10G", 1.006),
    GpuType("g6e.xlarge", "x86_64", 1, 44.7, 4, "L40S", 1.861),
    GpuType("g4dn.12xlarge", "x86_64", 4, 16, 48, "T4", 3.912),
    GpuType("g6.12xlarge", "x86_64", 4, 22, 48, "L4", 4.602),
    GpuType("g5.12xlarge", "x86_64", 4, 22.35, 48, "A10G", 5.672),
    GpuType("g6e.12xlarge", "x86_64", 4, 44.7, 48, "L40S", 10.493),
    GpuType("g6.48xlarge", "x86_64", 8, 22, 192, "L4", 13.35),
    GpuType("g5.48xlarge", "x86_64", 8, 22.35, 192, "A10G", 16.288),
    GpuType("g6e.48xlarge", "x86_64", 8, 44.7, 192, "L40S", 30.131),
    GpuType("p4d.24xlarge", "x86_64", 8, 40, 96, "A100", 32.77),
    GpuType("p5.48xlarge", "x86_64", 8, 80, 192, "H100", 98.32),
    GpuType("g5g.xlarge", "arm64", 1, 16, 4, "T4G", 0.42),
    GpuType("g5g.16xlarge", "arm64", 2, 16, 64, "T4G", 2.744),
)


# Families the Deep Learning Base AMI (Ubuntu 24.04, NVIDIA driver 595) lists, per architecture.
DLAMI_FAMILIES = {
    "x86_64": ("g4dn", "g5", "g6", "gr6", "g6e", "g7", "p4d", "p4de", "p5", "p5e", "p5en", "p6"),
    "arm64": ("g5g",),
}


def dlami_supports(instance_type: str, arch: str) -> bool:
    family = instance_type.split(".")[0]
    return any(family == known or family.startswith(known + "-") for known in DLAMI_FAMILIES[arch])


def table_entry(instance_type: str) -> GpuType | None:
    return next((candidate for candidate in BUILTIN if candidate.name == instance_type), None)


class NoInstanceType(Exception):
    pass


@dataclass(frozen=True)
class Choice:
    instance_type: str
    reason: str


def _fits(candidate: GpuType, gpus: int, gpu_memory_gib: float, arch: str) -> bool:
    return candidate.arch == arch and candidate.gpus == gpus and candidate.gpu_memory_gib >= gpu_memory_gib * MEMORY_TOLERANCE


def _describe(candidate: GpuType) -> str:
    return (
        f"{candidate.name} ({candidate.gpus} x {candidate.gpu_model} {round(candidate.gpu_memory_gib, 2):g} GiB, {candidate.vcpus} vCPUs)"
    )


def _nearest(candidates: list[GpuType], gpus: int, gpu_memory_gib: float, arch: str) -> str:
    same_arch = [c for c in candidates if c.arch == arch] or candidates
    ranked = sorted(same_arch, key=lambda c: (abs(c.gpus - gpus), abs(c.gpu_memory_gib - gpu_memory_gib), c.vcpus))
    return ", ".join(_describe(c) for c in ranked[:3])


def choose(candidates: list[GpuType], *, gpus: int, gpu_memory_gib: float, arch: str, source: str, by_price: bool) -> Choice:
    fitting = [c for c in candidates if _fits(c, gpus, gpu_memory_gib, arch)]
    if not fitting:
        raise NoInstanceType(
            f"no {arch} NVIDIA instance type in {source} has exactly {gpus} GPU(s) with {gpu_memory_gib:g} GiB each; "
            f"nearest: {_nearest(candidates, gpus, gpu_memory_gib, arch)}. Set instance_type explicitly or adjust gpus/gpu_memory_gib"
        )
    if by_price:
        best = min(fitting, key=lambda c: (c.usd_per_hour or float("inf"), c.vcpus, c.name))
        why = f"cheapest of {len(fitting)} fitting types in {source} (~${best.usd_per_hour:g}/h on demand)"
    else:
        best = min(fitting, key=lambda c: (c.vcpus, c.gpu_memory_gib, c.name))
        why = f"fewest vCPUs of {len(fitting)} fitting types in {source} (EC2 publishes no prices; vCPUs track price)"
    return Choice(best.name, f"{_describe(best)}: {why}")


def from_ec2(ec2: Any, region: str, arch: str) -> list[GpuType]:
    """NVIDIA instance types of `arch` offered in `region`, from EC2's catalogue."""
    offered: set[str] = set()
    for page in ec2.get_paginator("describe_instance_type_offerings").paginate(LocationType="region"):
        offered.update(o["InstanceType"] for o in page["InstanceTypeOfferings"])
    found = []
    pages = ec2.get_paginator("describe_instance_types").paginate(
        Filters=[{"Name": "processor-info.supported-architecture", "Values": [arch]}]
    )
    for page in pages:
        for item in page["InstanceTypes"]:
            gpus = [g for g in item.get("GpuInfo", {}).get("Gpus", []) if g.get("Manufacturer") == "NVIDIA"]
            if not gpus or item["InstanceType"] not in offered:
                continue
            found.append(
                GpuType(
                    name=item["InstanceType"],
                    arch=arch,
                    gpus=sum(g["Count"] for g in gpus),
                    gpu_memory_gib=gpus[0]["MemoryInfo"]["SizeInMiB"] / 1024,
                    vcpus=item["VCpuInfo"]["DefaultVCpus"],
                    gpu_model=gpus[0]["Name"],
                )
            )
    return found


@functools.cache  # synth's preflight and the stack ask the same question
def choose_instance_type(*, gpus: int, gpu_memory_gib: float, arch: str, account: str | None, region: str | None) -> Choice:
    """EC2's catalogue when credentials for account/region work, else the built-in table."""
    if account and region:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            quick = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 1})
            session = boto3.session.Session(region_name=region)
            if session.client("sts", config=quick).get_caller_identity()["Account"] == account:
                return choose(from_ec2(session.client("ec2", config=quick), region, arch), gpus=gpus, gpu_memory_gib=gpu_memory_gib,
                              arch=arch, source=f"EC2's catalogue for {region}", by_price=False)  # fmt: skip
        except (BotoCoreError, ClientError):
            pass
    return choose(list(BUILTIN), gpus=gpus, gpu_memory_gib=gpu_memory_gib, arch=arch, source="the built-in table", by_price=True)
