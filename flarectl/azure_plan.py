"""One plan for an Azure client site, rendered two ways: the Azure SDK models that
`flarectl azure deploy` sends, and the ARM template `cdk synth` writes for review.

What a site gets, in its own resource group: a NAT gateway with a static public IP (the
site's only way out: apt, the GPU driver extension and the connection to the hub), a network
security group with no inbound rules (SSH only from `ssh_cidr`, when set), a virtual network,
a NIC without a public IP, and an Ubuntu 24.04 VM with SSH-key-only login, encryption at
host and the NVIDIA GPU driver extension. The VM's custom data carries the startup kit: it
is a secure parameter in the template and is never printed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from azure.mgmt.compute import models as compute
from azure.mgmt.network import models as network

from flarectl.config import AzureSite, Federation
from flarectl.userdata import USERDATA_DIR, render_script, render_settings_file

# What the pinned SDKs send (azure-mgmt-resource 26, -network 33.1, -compute 39); the
# template uses the same, and a test checks them against the recorded requests.
API_VERSIONS = {
    "Microsoft.Resources/resourceGroups": "2025-04-01",
    "Microsoft.Network/publicIPAddresses": "2026-03-01",
    "Microsoft.Network/natGateways": "2026-03-01",
    "Microsoft.Network/networkSecurityGroups": "2026-03-01",
    "Microsoft.Network/virtualNetworks": "2026-03-01",
    "Microsoft.Network/networkInterfaces": "2026-03-01",
    "Microsoft.Compute/virtualMachines": "2026-04-01",
    "Microsoft.Compute/virtualMachines/extensions": "2026-04-01",
}
UBUNTU_IMAGE = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
ADDRESS_SPACE = "10.42.0.0/24"
NVIDIA_DRIVER_BRANCH = "580-server"
CUSTOM_DATA_LIMIT = 65535  # bytes of base64 Azure accepts
CUSTOM_DATA_TAG = "flare-custom-data-sha256"
CLIENT_ROOT = "/opt/nvflare-client"

# Stand-ins in the template for what only a deploy knows.
TEMPLATE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
CUSTOM_DATA_PARAMETER = "[parameters('customData')]"
CUSTOM_DATA_SHA_PARAMETER = "[parameters('customDataSha256')]"
SSH_KEY_PARAMETER = "[parameters('adminSshPublicKey')]"


@dataclass(frozen=True)
class Planned:
    """One Azure resource of the site: its ARM type, its name (`vm/extension` for a child)
    and the SDK model to create it with."""

    label: str
    type: str
    name: str
    model: Any
    depends_on: tuple[tuple[str, str], ...] = ()  # (type, name) of resources it refers to
    write_only: tuple[str, ...] = field(default=())  # body paths Azure never returns on GET

    @property
    def api_version(self) -> str:
        return API_VERSIONS[self.type]

    def body(self) -> dict[str, Any]:
        return self.model.as_dict(exclude_readonly=True)


@dataclass(frozen=True)
class SitePlan:
    site: AzureSite
    subscription_id: str
    resource_group: str
    resource_group_tags: dict[str, str]
    resources: tuple[Planned, ...]

    def resource_id(self, type_: str, name: str) -> str:
        return _resource_id(self.subscription_id, self.resource_group, type_, name)


def site_tags(site: AzureSite, federation: Federation) -> dict[str, str]:
    return {**site.tags, "flare-project": federation.project, "flare-site": site.name, "flare-managed-by": "flarectl"}


def _resource_id(subscription_id: str, resource_group: str, type_: str, name: str) -> str:
    provider, *kinds = type_.split("/")
    path = "/".join(f"{kind}/{part}" for kind, part in zip(kinds, name.split("/"), strict=True))
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{provider}/{path}"


def plan_site(
    site: AzureSite,
    federation: Federation,
    *,
    subscription_id: str,
    custom_data: str,
    custom_data_sha256: str,
    ssh_public_key: str,
) -> SitePlan:
    """Everything a deploy creates, in creation order."""
    group = site.resource_group_for(federation.project)
    tags = site_tags(site, federation)

    def ref(type_: str, name: str) -> str:
        return _resource_id(subscription_id, group, type_, name)

    names = {
        "nat_ip": f"{site.name}-nat-ip",
        "nat": f"{site.name}-nat",
        "nsg": f"{site.name}-nsg",
        "ssh_ip": f"{site.name}-ssh-ip",
        "vnet": f"{site.name}-vnet",
        "subnet": "clients",
        "nic": f"{site.name}-nic",
        "vm": f"{site.name}-vm",
    }
    public_ip = "Microsoft.Network/publicIPAddresses"
    static_ip = network.PublicIPAddress(  # the NAT gateway's, and the VM's when SSH is open
        location=site.location,
        tags=tags,
        sku=network.PublicIPAddressSku(name="Standard", tier="Regional"),
        public_ip_allocation_method="Static",
        public_ip_address_version="IPv4",
    )
    resources: list[Planned] = [
        Planned(
            "NAT gateway address",
            public_ip,
            names["nat_ip"],
            static_ip,
        ),
        Planned(
            "NAT gateway (outbound only)",
            "Microsoft.Network/natGateways",
            names["nat"],
            network.NatGateway(
                location=site.location,
                tags=tags,
                sku=network.NatGatewaySku(name="Standard"),
                idle_timeout_in_minutes=10,
                public_ip_addresses=[network.SubResource(id=ref(public_ip, names["nat_ip"]))],
            ),
            depends_on=((public_ip, names["nat_ip"]),),
        ),
    ]
    rules = []
    if site.ssh_cidr:
        rules.append(
            network.SecurityRule(
                name="ssh-from-admin-network",
                priority=100,
                direction="Inbound",
                access="Allow",
                protocol="Tcp",
                source_address_prefix=site.ssh_cidr,
                source_port_range="*",
                destination_address_prefix="*",
                destination_port_range="22",
                description="SSH from the Org Admin's network (sites[].ssh_cidr)",
            )
        )
    resources.append(
        Planned(
            "network security group (no inbound rules)" if not rules else f"network security group (SSH from {site.ssh_cidr})",
            "Microsoft.Network/networkSecurityGroups",
            names["nsg"],
            network.NetworkSecurityGroup(location=site.location, tags=tags, security_rules=rules),
        )
    )
    if site.ssh_cidr:
        resources.append(
            Planned(
                "SSH address",
                public_ip,
                names["ssh_ip"],
                static_ip,
            )
        )
    resources.append(
        Planned(
            "virtual network",
            "Microsoft.Network/virtualNetworks",
            names["vnet"],
            network.VirtualNetwork(
                location=site.location,
                tags=tags,
                address_space=network.AddressSpace(address_prefixes=[ADDRESS_SPACE]),
                subnets=[
                    network.Subnet(
                        name=names["subnet"],
                        address_prefix=ADDRESS_SPACE,
                        network_security_group=network.NetworkSecurityGroup(id=ref("Microsoft.Network/networkSecurityGroups", names["nsg"])),
                        nat_gateway=network.SubResource(id=ref("Microsoft.Network/natGateways", names["nat"])),
                        default_outbound_access=False,
                    )
                ],
            ),
            depends_on=(("Microsoft.Network/networkSecurityGroups", names["nsg"]), ("Microsoft.Network/natGateways", names["nat"])),
        )
    )
    ip_configuration = network.NetworkInterfaceIPConfiguration(
        name="primary",
        primary=True,
        private_ip_allocation_method="Dynamic",
        subnet=network.Subnet(id=ref("Microsoft.Network/virtualNetworks/subnets", f"{names['vnet']}/{names['subnet']}")),
        public_ip_address=network.PublicIPAddress(id=ref(public_ip, names["ssh_ip"])) if site.ssh_cidr else None,
    )
    resources.append(
        Planned(
            "network interface (no public IP)" if not site.ssh_cidr else "network interface (with the SSH address)",
            "Microsoft.Network/networkInterfaces",
            names["nic"],
            network.NetworkInterface(location=site.location, tags=tags, ip_configurations=[ip_configuration]),
            depends_on=(("Microsoft.Network/virtualNetworks", names["vnet"]), *(((public_ip, names["ssh_ip"]),) if site.ssh_cidr else ())),
        )
    )
    resources.append(
        Planned(
            f"GPU VM ({site.vm_size}, Ubuntu 24.04)",
            "Microsoft.Compute/virtualMachines",
            names["vm"],
            compute.VirtualMachine(
                location=site.location,
                tags={**tags, CUSTOM_DATA_TAG: custom_data_sha256},
                properties=compute.VirtualMachineProperties(
                    hardware_profile=compute.HardwareProfile(vm_size=site.vm_size),
                    storage_profile=compute.StorageProfile(
                        image_reference=compute.ImageReference(**UBUNTU_IMAGE),
                        os_disk=compute.OSDisk(
                            name=f"{site.name}-os-disk",
                            create_option="FromImage",
                            disk_size_gb=site.os_disk_gib,
                            delete_option="Delete",
                            managed_disk=compute.ManagedDiskParameters(storage_account_type="Premium_LRS"),
                        ),
                    ),
                    os_profile=compute.OSProfile(
                        computer_name=site.name,
                        admin_username=site.admin_user,
                        custom_data=custom_data,
                        linux_configuration=compute.LinuxConfiguration(
                            disable_password_authentication=True,
                            provision_vm_agent=True,
                            ssh=compute.SshConfiguration(
                                public_keys=[compute.SshPublicKey(path=f"/home/{site.admin_user}/.ssh/authorized_keys", key_data=ssh_public_key)]
                            ),
                        ),
                    ),
                    network_profile=compute.NetworkProfile(
                        network_interfaces=[
                            compute.NetworkInterfaceReference(
                                id=ref("Microsoft.Network/networkInterfaces", names["nic"]),
                                properties=compute.NetworkInterfaceReferenceProperties(primary=True, delete_option="Detach"),
                            )
                        ]
                    ),
                    # Trusted launch with vTPM, but no Secure Boot: the NVIDIA extension's driver is unsigned.
                    security_profile=compute.SecurityProfile(
                        encryption_at_host=site.encryption_at_host,
                        security_type="TrustedLaunch",
                        uefi_settings=compute.UefiSettings(secure_boot_enabled=False, v_tpm_enabled=True),
                    ),
                    diagnostics_profile=compute.DiagnosticsProfile(boot_diagnostics=compute.BootDiagnostics(enabled=True)),
                ),
            ),
            depends_on=(("Microsoft.Network/networkInterfaces", names["nic"]),),
            write_only=("properties.osProfile.customData",),
        )
    )
    if site.gpu_driver == "extension":
        resources.append(
            Planned(
                "NVIDIA GPU driver extension",
                "Microsoft.Compute/virtualMachines/extensions",
                f"{names['vm']}/NvidiaGpuDriverLinux",
                compute.VirtualMachineExtension(
                    location=site.location,
                    tags=tags,
                    properties=compute.VirtualMachineExtensionProperties(
                        publisher="Microsoft.HpcCompute",
                        type="NvidiaGpuDriverLinux",
                        type_handler_version="1.6",
                        auto_upgrade_minor_version=True,
                    ),
                ),
                depends_on=(("Microsoft.Compute/virtualMachines", names["vm"]),),
            )
        )
    return SitePlan(site=site, subscription_id=subscription_id, resource_group=group, resource_group_tags=tags, resources=tuple(resources))


# --- the VM's custom data -------------------------------------------------------------------


def kit_zip(kit: Path) -> bytes:
    """The startup kit folder as a zip with fixed timestamps: the same kit, the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in kit.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = zipfile.ZipInfo(str(path.relative_to(kit)), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o600 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def client_settings(site: AzureSite, federation: Federation) -> str:
    return render_settings_file(
        {
            "SITE_NAME": site.name,
            "NVFLARE_VERSION": federation.nvflare_version,
            "REQUIREMENTS": " ".join(site.requirements),
            "GPUS": str(site.gpus),
            "GPU_MEMORY_GIB": f"{site.gpu_memory_gib:g}",
            "SITE_ROOT": "/var/lib/nvflare-client",
            "KIT_SOURCE": f"{CLIENT_ROOT}/bundle/kit.zip",
            "VENV": f"{CLIENT_ROOT}/venv",
        },
        about=f"NVFlare client settings for Azure site {site.name}",
    )


def cloud_config(site: AzureSite, federation: Federation, kit: bytes | None) -> str:
    """The cloud-config the VM boots with. Without `kit` (for review) the kit's file holds a
    note instead of the key material."""
    runtime = f"{CLIENT_ROOT}/bundle/runtime"
    bootstrap = render_script("client/azure-bootstrap.sh", {"GPU_DRIVER": site.gpu_driver, "NVIDIA_DRIVER_BRANCH": NVIDIA_DRIVER_BRANCH})
    files = [
        {"path": f"{runtime}/{name}", "permissions": "0755" if name.endswith(".sh") else "0644", "content": (USERDATA_DIR / "client" / name).read_text()}
        for name in ("flare-client.sh", "flare-client.service", "install-service.sh")
    ]
    files.append({"path": f"{runtime}/azure-bootstrap.sh", "permissions": "0755", "content": bootstrap})
    files.append({"path": "/etc/nvflare-client/client.env", "permissions": "0644", "content": client_settings(site, federation)})
    if kit is None:
        files.append({"path": f"{CLIENT_ROOT}/bundle/kit.zip", "permissions": "0600", "content": "(the site's startup kit, zipped: added by `flarectl azure deploy`)"})
    else:
        files.append({"path": f"{CLIENT_ROOT}/bundle/kit.zip", "permissions": "0600", "encoding": "b64", "content": base64.b64encode(kit).decode()})
    document = {
        "package_update": True,
        "packages": ["python3-venv"],
        "write_files": files,
        "runcmd": [["bash", f"{runtime}/azure-bootstrap.sh"]],
    }
    header = f"#cloud-config\n# NVFlare client site {site.name} (project {federation.project}): written by flarectl.\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=1000)


def encode_custom_data(text: str) -> str:
    """gzip (cloud-init unpacks it) then base64, as Azure wants custom data."""
    return base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()


def decode_custom_data(value: str) -> str:
    return gzip.decompress(base64.b64decode(value)).decode()


def custom_data_for_deploy(site: AzureSite, federation: Federation) -> tuple[str, str]:
    """(custom data, its sha256) with the startup kit inside; ValueError when there is no kit
    or it does not fit."""
    if not site.kit_present:
        raise ValueError(
            f"no startup kit at {site.kit or '(sites[].kit not set)'}: register the site on the dashboard, "
            "download its startup kit and unzip it there (startup/fed_client.json must exist)"
        )
    value = encode_custom_data(cloud_config(site, federation, kit_zip(Path(site.kit))))  # type: ignore[arg-type]
    if len(value) > CUSTOM_DATA_LIMIT:
        raise ValueError(f"the VM's custom data is {len(value)} bytes; Azure accepts {CUSTOM_DATA_LIMIT}. Remove large files from the kit folder {site.kit}")
    return value, hashlib.sha256(value.encode()).hexdigest()


# --- the ARM template --------------------------------------------------------------------------


def arm_template(site: AzureSite, federation: Federation) -> dict[str, Any]:
    """The ARM template (resource group scope) of exactly what a deploy creates. The custom
    data and its hash are parameters: the startup kit never lands in this file."""
    plan = plan_site(
        site,
        federation,
        subscription_id=TEMPLATE_SUBSCRIPTION,
        custom_data=CUSTOM_DATA_PARAMETER,
        custom_data_sha256=CUSTOM_DATA_SHA_PARAMETER,
        ssh_public_key=SSH_KEY_PARAMETER,
    )
    ids: dict[str, str] = {}
    for resource in plan.resources:
        ids[plan.resource_id(resource.type, resource.name).lower()] = _resource_id_expression(resource.type, resource.name)
    for resource in plan.resources:
        for subnet in resource.body().get("properties", {}).get("subnets", []):
            name = f"{resource.name}/{subnet['name']}"
            ids[plan.resource_id("Microsoft.Network/virtualNetworks/subnets", name).lower()] = _resource_id_expression(
                "Microsoft.Network/virtualNetworks/subnets", name
            )
    resources = []
    for resource in plan.resources:
        entry = {"type": resource.type, "apiVersion": resource.api_version, "name": resource.name}
        entry.update(_with_expressions(resource.body(), ids))
        if resource.depends_on:
            entry["dependsOn"] = [_resource_id_expression(type_, name) for type_, name in resource.depends_on]
        resources.append(entry)
    ssh_key: dict[str, Any] = {
        "type": "string",
        "metadata": {"description": "The admin user's SSH public key. Without sites[].ssh_public_key, flarectl makes a key pair and discards the private key: nobody can log in."},
    }
    if site.ssh_public_key:
        ssh_key["defaultValue"] = site.ssh_public_key
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {
            "description": f"NVFlare client site {site.name} (project {federation.project}) in resource group {plan.resource_group}, "
            f"location {site.location}. For review: `flarectl azure deploy {site.name}` creates exactly these resources.",
            "generator": "flarectl",
            "resourceGroupTags": plan.resource_group_tags,
        },
        "parameters": {
            "customData": {
                "type": "secureString",
                "metadata": {"description": "gzip+base64 cloud-config with the startup kit (cloud-init.yaml next to this file shows it, kit left out)"},
            },
            "customDataSha256": {"type": "string", "metadata": {"description": "sha256 of customData: a change replaces the VM"}},
            "adminSshPublicKey": ssh_key,
        },
        "resources": resources,
        "outputs": {
            "natAddress": {
                "type": "string",
                "value": f"[reference({_resource_id_expression('Microsoft.Network/publicIPAddresses', site.name + '-nat-ip')[1:-1]}).ipAddress]",
            }
        },
    }


def _resource_id_expression(type_: str, name: str) -> str:
    parts = ", ".join(f"'{part}'" for part in name.split("/"))
    return f"[resourceId('{type_}', {parts})]"


def _with_expressions(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _with_expressions(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_expressions(item, ids) for item in value]
    if isinstance(value, str) and value.lower() in ids:
        return ids[value.lower()]
    return value


def throwaway_ssh_key() -> str:
    """A public key whose private half is never kept: Azure needs a key for SSH-only login,
    and a site without `ssh_public_key` wants nobody to log in."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode() + " flarectl-no-login"


def deploy_plan(site: AzureSite, federation: Federation, *, subscription_id: str) -> SitePlan:
    """The plan with the real custom data (startup kit inside); ValueError without a kit."""
    custom_data, custom_data_sha256 = custom_data_for_deploy(site, federation)
    return plan_site(
        site,
        federation,
        subscription_id=subscription_id,
        custom_data=custom_data,
        custom_data_sha256=custom_data_sha256,
        ssh_public_key=site.ssh_public_key or throwaway_ssh_key(),
    )
