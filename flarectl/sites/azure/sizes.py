"""Azure locations, and the GPU VM sizes whose NVIDIA driver path this project sets up (Ubuntu 24.04 with
Canonical's driver from Ubuntu's archive), with what each has: a `vm_size` must be one of them, and
the site must register the GPUs it has. Partial-GPU (vGPU) NV sizes need the GRID driver and
are left out. Sources: Azure's N-series size pages, Nov 2026."""

from __future__ import annotations

from dataclasses import dataclass

from flarectl.gpu_models import GPU_MODELS, registration_problem


@dataclass(frozen=True)
class GpuSize:
    gpus: int
    gpu_model: str  # a key of flarectl.gpu_models.GPU_MODELS

    @property
    def gpu_memory_gib(self) -> float:
        """Per GPU, as nvidia-smi reports it: the most a site may register."""
        return GPU_MODELS[self.gpu_model].usable_gib


GPU_SIZES: dict[str, GpuSize] = {
    "Standard_NC4as_T4_v3": GpuSize(1, "T4"),
    "Standard_NC8as_T4_v3": GpuSize(1, "T4"),
    "Standard_NC16as_T4_v3": GpuSize(1, "T4"),
    "Standard_NC64as_T4_v3": GpuSize(4, "T4"),
    "Standard_NC24ads_A100_v4": GpuSize(1, "A100-80GB"),
    "Standard_NC48ads_A100_v4": GpuSize(2, "A100-80GB"),
    "Standard_NC96ads_A100_v4": GpuSize(4, "A100-80GB"),
    "Standard_NC40ads_H100_v5": GpuSize(1, "H100 NVL"),
    "Standard_NC80adis_H100_v5": GpuSize(2, "H100 NVL"),
}
# Sizes refused with their reason (Azure's size pages and retirement notices).
NVSWITCH = (
    "an NVSwitch system: CUDA needs NVIDIA Fabric Manager at exactly the driver's version, which the site "
    "setup does not install; use an NC A100 v4 or NC H100 v5 size"
)
REFUSED_SIZES: dict[str, str] = {
    "Standard_NC6s_v3": "NC v3 (V100) was retired on 2025-09-30; use Standard_NC4as_T4_v3 or an NC A100 v4 size",
    "Standard_NC12s_v3": "NC v3 (V100) was retired on 2025-09-30; use Standard_NC4as_T4_v3 or an NC A100 v4 size",
    "Standard_NC24s_v3": "NC v3 (V100) was retired on 2025-09-30; use Standard_NC64as_T4_v3 or an NC A100 v4 size",
    "Standard_NC24rs_v3": "NC v3 (V100) was retired on 2025-09-30; use Standard_NC64as_T4_v3 or an NC A100 v4 size",
    "Standard_ND96asr_v4": NVSWITCH,
    "Standard_ND96amsr_A100_v4": NVSWITCH,
    "Standard_ND96isr_H100_v5": NVSWITCH,
    "Standard_ND96isr_H200_v5": NVSWITCH,
}


def size_problems(vm_size: str, gpus: int, gpu_memory_gib: float) -> list[str]:
    if vm_size in REFUSED_SIZES:
        return [
            f"vm_size: {vm_size} is {REFUSED_SIZES[vm_size]}"
            if "NVSwitch" in REFUSED_SIZES[vm_size]
            else f"vm_size: {REFUSED_SIZES[vm_size]}"
        ]
    size = GPU_SIZES.get(vm_size)
    if size is None:
        return [f"vm_size: {vm_size} is not a GPU size whose driver setup flarectl knows; use one of {', '.join(GPU_SIZES)}"]
    if size.gpus != gpus:
        return [f"gpus: {vm_size} has {size.gpus} GPU(s) ({size.gpu_model}), not {gpus}; register what the VM has"]
    problem = registration_problem(GPU_MODELS[size.gpu_model], gpu_memory_gib, vm_size)
    return [f"gpu_memory_gib: {problem}"] if problem else []


# `az account list-locations --query "[].name"` for the public cloud, Nov 2026.
LOCATIONS = frozenset(
    """australiacentral australiacentral2 australiaeast australiasoutheast austriaeast belgiumcentral brazilsouth
    brazilsoutheast canadacentral canadaeast centralindia centralus chilecentral denmarkeast eastasia eastus eastus2
    francecentral francesouth germanynorth germanywestcentral indonesiacentral israelcentral italynorth japaneast
    japanwest jioindiacentral jioindiawest koreacentral koreasouth malaysiawest mexicocentral newzealandnorth
    northcentralus northeurope norwayeast norwaywest polandcentral qatarcentral southafricanorth southafricawest
    southcentralus southindia southeastasia spaincentral swedencentral swedensouth switzerlandnorth switzerlandwest
    uaecentral uaenorth uksouth ukwest westcentralus westeurope westindia westus westus2 westus3""".split()
)
# Azure Government is another cloud (its own ARM endpoint and login authority), which the
# deploy's clients never select: its regions are refused rather than failing at deploy.
GOVERNMENT_LOCATIONS = frozenset({"usgovarizona", "usgovtexas", "usgovvirginia", "usdodcentral", "usdodeast"})


def location_problems(location: str) -> list[str]:
    if location in GOVERNMENT_LOCATIONS:
        return [
            f"location: {location} is in Azure Government, whose own ARM endpoint flarectl does not use; "
            "use a public-cloud region (e.g. eastus, westeurope)"
        ]
    if location not in LOCATIONS:
        return [
            f"location: {location} is not an Azure region flarectl knows; use a name from `az account list-locations -o table` (e.g. eastus, westeurope)"
        ]
    return []
