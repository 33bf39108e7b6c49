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

from flarectl.gpu_models import GPU_MODELS, model_of_ec2


@dataclass(frozen=True)
class GpuType:
    name: str
    arch: str  # x86_64 | arm64
    gpus: int
    gpu_model: str  # a key of flarectl.gpu_models.GPU_MODELS
    vcpus: int
    usd_per_hour: float | None = None  # us-east-1 on-demand, Nov 2026, approximate

    @property
    def gpu_memory_gib(self) -> float:
        """What NVFlare lets a site register per GPU: nvidia-smi's figure, not the marketed size."""
        return GPU_MODELS[self.gpu_model].usable_gib


# Common NVIDIA types the Deep Learning Base AMI (Ubuntu 24.04) supports, priced (us-east-1
# on-demand, approximate; check the AWS price list before budgeting): what offline synth
# chooses from. No P3: its V100s are not supported by the AMI's NVIDIA driver any more.
BUILTIN: tuple[GpuType, ...] = (
    GpuType("g4dn.xlarge", "x86_64", 1, "T4", 4, 0.526),
    GpuType("g6.xlarge", "x86_64", 1, "L4", 4, 0.805),
    GpuType("g5.xlarge", "x86_64", 1, "A10G", 4, 1.006),
    GpuType("g6e.xlarge", "x86_64", 1, "L40S", 4, 1.861),
    GpuType("g4dn.12xlarge", "x86_64", 4, "T4", 48, 3.912),
    GpuType("g6.12xlarge", "x86_64", 4, "L4", 48, 4.602),
    GpuType("g5.12xlarge", "x86_64", 4, "A10G", 48, 5.672),
    GpuType("g6e.12xlarge", "x86_64", 4, "L40S", 48, 10.493),
    GpuType("g6.48xlarge", "x86_64", 8, "L4", 192, 13.35),
    GpuType("g5.48xlarge", "x86_64", 8, "A10G", 192, 16.288),
    GpuType("g6e.48xlarge", "x86_64", 8, "L40S", 192, 30.131),
    GpuType("p4d.24xlarge", "x86_64", 8, "A100-40GB", 96, 32.77),
    GpuType("p5.48xlarge", "x86_64", 8, "H100", 192, 98.32),
    GpuType("g5g.xlarge", "arm64", 1, "T4G", 4, 0.42),
    GpuType("g5g.16xlarge", "arm64", 2, "T4G", 64, 2.744),
)


def _family(family: str, arch: str, model: str, sizes: dict[str, tuple[int, int]]) -> list[GpuType]:
    return [GpuType(f"{family}.{size}", arch, gpus, model, vcpus) for size, (vcpus, gpus) in sizes.items()]


_SINGLE_TO_EIGHT = {"xlarge": (4, 1), "2xlarge": (8, 1), "4xlarge": (16, 1), "8xlarge": (32, 1), "16xlarge": (64, 1),
                    "12xlarge": (48, 4), "24xlarge": (96, 4), "48xlarge": (192, 8)}  # fmt: skip
# Every size of the families the table covers (EC2 User Guide, "Accelerated computing instance
# types", size -> (vCPUs, GPUs)): a type named in a federation file must be one of them, with
# the GPUs it registers. The priced types above are among them.
CATALOGUE: dict[str, GpuType] = {
    t.name: t
    for t in [
        *_family("g4dn", "x86_64", "T4", {"xlarge": (4, 1), "2xlarge": (8, 1), "4xlarge": (16, 1), "8xlarge": (32, 1),
                                          "16xlarge": (64, 1), "12xlarge": (48, 4), "metal": (96, 8)}),
        *_family("g5", "x86_64", "A10G", _SINGLE_TO_EIGHT),
        *_family("g6", "x86_64", "L4", _SINGLE_TO_EIGHT),
        *_family("gr6", "x86_64", "L4", {"4xlarge": (16, 1), "8xlarge": (32, 1)}),
        *_family("g6e", "x86_64", "L40S", _SINGLE_TO_EIGHT),
        *_family("p4d", "x86_64", "A100-40GB", {"24xlarge": (96, 8)}),
        *_family("p4de", "x86_64", "A100-80GB", {"24xlarge": (96, 8)}),
        *_family("p5", "x86_64", "H100", {"4xlarge": (16, 1), "48xlarge": (192, 8)}),
        *_family("p5e", "x86_64", "H200", {"48xlarge": (192, 8)}),
        *_family("p5en", "x86_64", "H200", {"48xlarge": (192, 8)}),
        *_family("p6-b200", "x86_64", "B200", {"48xlarge": (192, 8)}),
        *_family("g5g", "arm64", "T4G", {"xlarge": (4, 1), "2xlarge": (8, 1), "4xlarge": (16, 1), "8xlarge": (32, 1),
                                         "16xlarge": (64, 2), "metal": (64, 2)}),
        *BUILTIN,
    ]
}  # fmt: skip


# Families the Deep Learning Base AMI (Ubuntu 24.04, NVIDIA driver 595) lists, per architecture
# (its release notes: "Supported EC2 instances"). g7e's sizes are not in the catalogue: an
# explicit g7e type is checked against EC2 at synth, with credentials.
DLAMI_FAMILIES = {
    "x86_64": ("g4dn", "g5", "g6", "gr6", "g6e", "g7e", "p4d", "p4de", "p5", "p5e", "p5en", "p6"),
    "arm64": ("g5g",),
}
UNCATALOGUED_FAMILIES = ("g7e",)


def dlami_supports(instance_type: str, arch: str) -> bool:
    family = instance_type.split(".")[0]
    return any(family == known or family.startswith(known + "-") for known in DLAMI_FAMILIES[arch])


def table_entry(instance_type: str) -> GpuType | None:
    return CATALOGUE.get(instance_type)


class NoInstanceType(Exception):
    pass


@dataclass(frozen=True)
class Choice:
    instance_type: str
    reason: str


def _fits(candidate: GpuType, gpus: int, gpu_memory_gib: float, arch: str) -> bool:
    """Exactly `gpus` GPUs, each reporting at least the registered memory: NVFlare's own rule
    (flarectl/gpu_models.py), with no tolerance."""
    return candidate.arch == arch and candidate.gpus == gpus and gpu_memory_gib * 1024 <= GPU_MODELS[candidate.gpu_model].memory_mib


def _describe(candidate: GpuType) -> str:
    return f"{candidate.name} ({candidate.gpus} x {candidate.gpu_model} {GPU_MODELS[candidate.gpu_model].register_gib:g} GiB, {candidate.vcpus} vCPUs)"


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
    """NVIDIA instance types of `arch` offered in `region`, from EC2's catalogue. EC2 reports the
    marketed memory (a T4's 16 GiB); the GPU's model gives what nvidia-smi reports."""
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
            model = model_of_ec2(gpus[0]["Name"], gpus[0]["MemoryInfo"]["SizeInMiB"])
            if model is None:  # a GPU the table does not know: its usable memory is unknown, so it is not offered
                continue
            found.append(
                GpuType(
                    name=item["InstanceType"],
                    arch=arch,
                    gpus=sum(g["Count"] for g in gpus),
                    gpu_model=model,
                    vcpus=item["VCpuInfo"]["DefaultVCpus"],
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


def credentialed_difference(choice: Choice, *, account: str | None, region: str | None) -> str:
    """What a synth with working credentials could choose differently, or ""."""
    if account is None or region is None or "the built-in table" not in choice.reason:
        return ""
    return (
        f"with credentials for account {account}, synth chooses from EC2's catalogue for {region} (what that region "
        "offers) and may pick another type"
    )
