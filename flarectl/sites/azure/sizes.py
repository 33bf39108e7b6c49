"""Azure locations, and the GPU VM sizes whose NVIDIA driver path this project sets up (Ubuntu 24.04 with
Canonical's driver from Ubuntu's archive), with what each has: a `vm_size` must be one of them, and
the site must register the GPUs it has. Partial-GPU (vGPU) NV sizes need the GRID driver and
are left out. Sources: Azure's N-series size pages, Nov 2026."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuSize:
    gpus: int
    gpu_memory_gib: float  # per GPU, as nvidia-smi reports it
    gpu_model: str


GPU_SIZES: dict[str, GpuSize] = {
    "Standard_NC4as_T4_v3": GpuSize(1, 15, "T4"),
    "Standard_NC8as_T4_v3": GpuSize(1, 15, "T4"),
    "Standard_NC16as_T4_v3": GpuSize(1, 15, "T4"),
    "Standard_NC64as_T4_v3": GpuSize(4, 15, "T4"),
    "Standard_NC6s_v3": GpuSize(1, 16, "V100"),
    "Standard_NC12s_v3": GpuSize(2, 16, "V100"),
    "Standard_NC24s_v3": GpuSize(4, 16, "V100"),
    "Standard_NC24rs_v3": GpuSize(4, 16, "V100"),
    "Standard_NC24ads_A100_v4": GpuSize(1, 80, "A100"),
    "Standard_NC48ads_A100_v4": GpuSize(2, 80, "A100"),
    "Standard_NC96ads_A100_v4": GpuSize(4, 80, "A100"),
    "Standard_ND96asr_v4": GpuSize(8, 40, "A100"),
    "Standard_ND96amsr_A100_v4": GpuSize(8, 80, "A100"),
    "Standard_NC40ads_H100_v5": GpuSize(1, 94, "H100 NVL"),
    "Standard_NC80adis_H100_v5": GpuSize(2, 94, "H100 NVL"),
    "Standard_ND96isr_H100_v5": GpuSize(8, 80, "H100"),
    "Standard_ND96isr_H200_v5": GpuSize(8, 141, "H200"),
}


def size_problems(vm_size: str, gpus: int, gpu_memory_gib: float) -> list[str]:
    size = GPU_SIZES.get(vm_size)
    if size is None:
        return [f"vm_size: {vm_size} is not a GPU size whose driver setup flarectl knows; use one of {', '.join(GPU_SIZES)}"]
    if size.gpus != gpus:
        return [f"gpus: {vm_size} has {size.gpus} GPU(s) ({size.gpu_model}), not {gpus}; register what the VM has"]
    if gpu_memory_gib > size.gpu_memory_gib:
        return [f"gpu_memory_gib: {vm_size} has {size.gpu_memory_gib:g} GiB per GPU ({size.gpu_model}), less than {gpu_memory_gib:g}"]
    return []


# `az account list-locations --query "[].name"` for the public cloud and US Government, Nov 2026.
LOCATIONS = frozenset(
    """australiacentral australiacentral2 australiaeast australiasoutheast austriaeast belgiumcentral brazilsouth
    brazilsoutheast canadacentral canadaeast centralindia centralus chilecentral denmarkeast eastasia eastus eastus2
    francecentral francesouth germanynorth germanywestcentral indonesiacentral israelcentral italynorth japaneast
    japanwest jioindiacentral jioindiawest koreacentral koreasouth malaysiawest mexicocentral newzealandnorth
    northcentralus northeurope norwayeast norwaywest polandcentral qatarcentral southafricanorth southafricawest
    southcentralus southindia southeastasia spaincentral swedencentral swedensouth switzerlandnorth switzerlandwest
    uaecentral uaenorth uksouth ukwest westcentralus westeurope westindia westus westus2 westus3
    usgovarizona usgovtexas usgovvirginia""".split()
)


def location_problems(location: str) -> list[str]:
    if location not in LOCATIONS:
        return [
            f"location: {location} is not an Azure region flarectl knows; use a name from `az account list-locations -o table` (e.g. eastus, westeurope)"
        ]
    return []
