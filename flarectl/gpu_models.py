"""The one table of NVIDIA GPU models: the memory `nvidia-smi --query-gpu=memory.total` reports
for each (MiB), which is the figure NVFlare checks a site's registration against.

NVFlare 2.9's GPUResourceManager (nvflare/app_common/resource_managers/gpu_resource_manager.py)
refuses to start a client whose `mem_per_gpu_in_GiB * 1024` exceeds that figure for any managed
GPU. Marketing sizes ("16 GB", "24 GB", "80 GB") are larger than what the driver reports, so a
site must register at most `MiB / 1024` GiB. Every place that needs a GPU's memory reads it
here: the AWS and Azure type tables, `validate`, the AWS chooser, the client runtime and the
site doctor (both apply NVFlare's own rule), and the tests' stand-in nvidia-smi.

Sources: nvidia-smi output of each model as published by NVIDIA and the clouds (AWS
DescribeInstanceTypes GpuInfo.MemoryInfo.SizeInMiB; Azure and NVIDIA data sheets), Dec 2026.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuModel:
    name: str  # as nvidia-smi --query-gpu=name prints it
    memory_mib: int  # nvidia-smi --query-gpu=memory.total, MiB

    @property
    def usable_gib(self) -> float:
        """The most a site with this GPU may register: NVFlare allows `GiB * 1024 <= MiB`."""
        return self.memory_mib / 1024

    @property
    def register_gib(self) -> float:
        """usable_gib rounded down to one decimal: the figure to write in a federation file."""
        return math.floor(self.usable_gib * 10) / 10


# Keyed by the short name the type tables use. The T4 through H100 figures are the ones this
# project checked against NVFlare's rule (shared/DESIGN.md, "GPU memory"); H200 and B200 are
# from published nvidia-smi output of those parts.
GPU_MODELS: dict[str, GpuModel] = {
    "T4": GpuModel("Tesla T4", 15360),
    "T4G": GpuModel("NVIDIA T4G", 15360),
    "A10G": GpuModel("NVIDIA A10G", 23028),
    "L4": GpuModel("NVIDIA L4", 23034),
    "L40S": GpuModel("NVIDIA L40S", 46068),
    "A40": GpuModel("NVIDIA A40", 46068),
    "A100-40GB": GpuModel("NVIDIA A100-SXM4-40GB", 40960),
    "A100-80GB": GpuModel("NVIDIA A100 80GB PCIe", 81920),
    "H100": GpuModel("NVIDIA H100 80GB HBM3", 81559),
    "H100 NVL": GpuModel("NVIDIA H100 NVL", 95330),
    "H200": GpuModel("NVIDIA H200", 143771),
    "B200": GpuModel("NVIDIA B200", 183359),
    # A laptop's (a WSL site's): an "8 GB" GeForce RTX 4060 Laptop GPU.
    "RTX 4060 Laptop": GpuModel("NVIDIA GeForce RTX 4060 Laptop GPU", 8188),
}


def gpu_model(key: str) -> GpuModel:
    return GPU_MODELS[key]


def registration_problem(model: GpuModel, registered_gib: float, where: str) -> str | None:
    """NVFlare's rule, said before NVFlare would refuse: None when the registration fits."""
    if registered_gib * 1024 <= model.memory_mib:
        return None
    return (
        f"{where} has {model.name} GPUs, which nvidia-smi reports as {model.memory_mib} MiB ({model.usable_gib:.2f} GiB); "
        f"NVFlare refuses more than that: register gpu_memory_gib: {model.register_gib:g}"
    )


def model_of_ec2(name: str, size_mib: int) -> str | None:
    """The table's key for a GPU as EC2's DescribeInstanceTypes names it (GpuInfo.Gpus[].Name,
    MemoryInfo.SizeInMiB: the marketed size, which tells an A100's two sizes apart)."""
    if name == "A100":
        return "A100-80GB" if size_mib > 60000 else "A100-40GB"
    if name == "H100" and size_mib > 90000:
        return "H100 NVL"
    known = {key.upper(): key for key in GPU_MODELS}  # EC2 writes "T4g"
    return known.get(name.upper())
