"""The config model of an Azure GPU site (no Azure SDK here: the config loads without it)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import field_validator, model_validator

from flarectl.config.fields import GiB, SshCidr, matching, within
from flarectl.config.sites import CloudSite

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

SubscriptionId = Annotated[
    str,
    matching(
        r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}",
        "{value!r} is not an Azure subscription id; use the GUID from `az account show --query id`",
    ),
]
Location = Annotated[
    str,
    matching(
        r"[a-z]+[a-z0-9]*",
        "{value!r} is not an Azure location name; use the short name like eastus or westeurope (`az account list-locations -o table`)",
    ),
]
GpuVmSize = Annotated[
    str,
    matching(
        r"Standard_N[CDV]\d+[a-z]*(_[A-Z]+\d*[A-Za-z]*)?(_v\d+)?",
        "{value!r} is not an Azure GPU VM size; use an N-series size like Standard_NC4as_T4_v3 or Standard_NC24ads_A100_v4",
    ),
]
AZURE_SSH_KEY = re.compile(r"(ssh-rsa|ssh-ed25519) [A-Za-z0-9+/]+={0,3}( [^\n]*)?")
RESERVED_LINUX_USERS = {"admin", "administrator", "root", "user", "guest", "test", "nvflare", "sys", "daemon", "bin"}


class AzureSite(CloudSite):
    """A client site on an Azure GPU VM, deployed with `flarectl azure deploy` (Azure has no CDK)."""

    hardware: ClassVar[str] = "an Azure GPU VM"
    gpu_range: ClassVar[tuple[int, int]] = (1, 8)
    largest_gpus: ClassVar[str] = "any Azure GPU has (T4: 15, A100: 80, H100: 94)"
    gpu_memory_required: ClassVar[bool] = True

    kind: Literal["azure"]
    subscription_id: SubscriptionId | None = None
    location: Location
    vm_size: GpuVmSize = "Standard_NC4as_T4_v3"
    gpu_memory_gib: GiB = 15  # one T4 as nvidia-smi reports it (15360 MiB)
    admin_user: str = "flareadmin"
    ssh_public_key: str | None = None
    ssh_cidr: SshCidr | None = None
    resource_group: str | None = None
    tags: dict[str, str] = {}
    os_disk_gib: Annotated[
        int, within(64, 4095, "{value} GiB: use 64 to 4095 GiB (the GPU driver, CUDA libraries and torch need room; default 128)")
    ] = 128
    # Canonical's signed driver from Ubuntu's archive (ubuntu-drivers), so Secure Boot stays on.
    gpu_driver: Literal["ubuntu"] = "ubuntu"
    encryption_at_host: bool = True

    def place(self, federation: FederationSettings) -> str:
        subscription = f"subscription {self.subscription_id}" if self.subscription_id else "subscription at deploy"
        return f"Azure {self.location}, {self.vm_size}, {subscription}"

    @field_validator("gpu_driver", mode="before")
    @classmethod
    def _gpu_driver(cls, value: object) -> object:
        if value == "extension":
            raise ValueError(
                "'extension' is not offered: Microsoft documents the NvidiaGpuDriverLinux extension's CUDA driver for "
                "Ubuntu 20.04 only, and sites run Ubuntu 24.04; remove gpu_driver (the default installs Canonical's "
                "signed driver with ubuntu-drivers, which works with Secure Boot)"
            )
        return value

    @field_validator("admin_user")
    @classmethod
    def _admin_user(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value) or value in RESERVED_LINUX_USERS:
            raise ValueError(
                f"{value!r} cannot be the VM's admin user; use 1-32 lower-case letters, digits, '_' or '-', not one of {', '.join(sorted(RESERVED_LINUX_USERS))}"
            )
        return value

    @field_validator("ssh_public_key")
    @classmethod
    def _ssh_key(cls, value: str | None) -> str | None:
        if value is not None and not AZURE_SSH_KEY.fullmatch(value.strip()):
            raise ValueError(
                "is not an OpenSSH public key; paste one line like 'ssh-ed25519 AAAA... you@host' (ssh-rsa or ssh-ed25519; Azure takes no ECDSA)"
            )
        return value.strip() if value is not None else value

    @field_validator("resource_group")
    @classmethod
    def _resource_group(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[-\w._()]{1,89}[-\w_()]", value):
            raise ValueError(
                f"{value!r} is not a resource group name; use up to 90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if (
                not key
                or len(key) > 512
                or re.search(r"[<>%&\\?/]", key)
                or key.lower().startswith(("azure", "microsoft", "windows", "flare-"))
            ):
                raise ValueError(
                    f"tag {key!r}: use a name of up to 512 characters without < > % & \\ ? /, not starting with azure, microsoft, windows or flare-"
                )
            if len(text) > 256:
                raise ValueError(f"tag {key!r}: the value is longer than 256 characters")
        # The VM carries them with flare-project, flare-site, flare-managed-by and its custom data's hash.
        if len(value) > 46:
            raise ValueError(f"{len(value)} tags: Azure allows 50 per resource and flarectl adds 4 to the VM; use at most 46")
        return value

    @model_validator(mode="after")
    def _ssh_needs_key(self) -> AzureSite:
        if self.ssh_cidr and not self.ssh_public_key:
            raise ValueError("ssh_cidr opens SSH, but there is no ssh_public_key to log in with; set ssh_public_key or remove ssh_cidr")
        return self

    def resource_group_for(self, project: str) -> str:
        return self.resource_group or f"{project}-{self.name}"
