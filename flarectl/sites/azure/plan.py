"""One plan for an Azure client site, rendered two ways: the Azure SDK models that
`flarectl azure deploy` sends, and the ARM template `cdk synth` writes for review.

What a site gets, in its own resource group: a NAT gateway with a static public IP (the
site's only way out: apt, the GPU driver and the connection to the hub), a network
security group with no inbound rules (SSH only from `ssh_cidr`, when set), a virtual network,
a NIC without a public IP, and an Ubuntu 24.04 VM with SSH-key-only login, encryption at
host and Trusted Launch with Secure Boot (cloud-init installs Canonical's signed NVIDIA
driver). The VM's custom data carries the startup kit: it
is a secure parameter in the template and is never printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azure.mgmt.compute import models as compute
from azure.mgmt.network import models as network

from flarectl.sites.azure.custom_data import custom_data_for_deploy
from flarectl.sites.azure.model import AzureSite

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

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
}
UBUNTU_IMAGE = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
ADDRESS_SPACE = "10.42.0.0/24"
CUSTOM_DATA_TAG = "flare-custom-data-sha256"


@dataclass(frozen=True)
class Planned:
    """One Azure resource of the site: its ARM type, its name (`parent/child` for a child)
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
        return resource_id(self.subscription_id, self.resource_group, type_, name)


def site_tags(site: AzureSite, federation: FederationSettings) -> dict[str, str]:
    return {**site.tags, "flare-project": federation.project, "flare-site": site.name, "flare-managed-by": "flarectl"}


def resource_id(subscription_id: str, resource_group: str, type_: str, name: str) -> str:
    provider, *kinds = type_.split("/")
    path = "/".join(f"{kind}/{part}" for kind, part in zip(kinds, name.split("/"), strict=True))
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{provider}/{path}"


@dataclass(frozen=True)
class _Site:
    """What every resource of one site's plan refers to."""

    site: AzureSite
    subscription_id: str
    group: str
    tags: dict[str, str]

    def name(self, part: str) -> str:
        return f"{self.site.name}-{part}"

    def ref(self, type_: str, name: str) -> str:
        return resource_id(self.subscription_id, self.group, type_, name)


PUBLIC_IP = "Microsoft.Network/publicIPAddresses"
NAT = "Microsoft.Network/natGateways"
NSG = "Microsoft.Network/networkSecurityGroups"
VNET = "Microsoft.Network/virtualNetworks"
NIC = "Microsoft.Network/networkInterfaces"
VM = "Microsoft.Compute/virtualMachines"
SUBNET = "clients"


def _static_ip(s: _Site, label: str, part: str) -> Planned:
    """The NAT gateway's address, and the VM's when SSH is open."""
    model = network.PublicIPAddress(
        location=s.site.location,
        tags=s.tags,
        sku=network.PublicIPAddressSku(name="Standard", tier="Regional"),
        public_ip_allocation_method="Static",
        public_ip_address_version="IPv4",
    )
    return Planned(label, PUBLIC_IP, s.name(part), model)


def _nat_gateway(s: _Site) -> Planned:
    model = network.NatGateway(
        location=s.site.location,
        tags=s.tags,
        sku=network.NatGatewaySku(name="Standard"),
        idle_timeout_in_minutes=10,
        public_ip_addresses=[network.SubResource(id=s.ref(PUBLIC_IP, s.name("nat-ip")))],
    )
    return Planned("NAT gateway (outbound only)", NAT, s.name("nat"), model, depends_on=((PUBLIC_IP, s.name("nat-ip")),))


def _security_group(s: _Site) -> Planned:
    rules = []
    if s.site.ssh_cidr:
        rules.append(
            network.SecurityRule(
                name="ssh-from-admin-network",
                priority=100,
                direction="Inbound",
                access="Allow",
                protocol="Tcp",
                source_address_prefix=s.site.ssh_cidr,
                source_port_range="*",
                destination_address_prefix="*",
                destination_port_range="22",
                description="SSH from the Org Admin's network (sites[].ssh_cidr)",
            )
        )
    label = f"network security group (SSH from {s.site.ssh_cidr})" if rules else "network security group (no inbound rules)"
    return Planned(label, NSG, s.name("nsg"), network.NetworkSecurityGroup(location=s.site.location, tags=s.tags, security_rules=rules))


def _virtual_network(s: _Site) -> Planned:
    subnet = network.Subnet(
        name=SUBNET,
        address_prefix=ADDRESS_SPACE,
        network_security_group=network.NetworkSecurityGroup(id=s.ref(NSG, s.name("nsg"))),
        nat_gateway=network.SubResource(id=s.ref(NAT, s.name("nat"))),
        default_outbound_access=False,
    )
    model = network.VirtualNetwork(
        location=s.site.location, tags=s.tags, address_space=network.AddressSpace(address_prefixes=[ADDRESS_SPACE]), subnets=[subnet]
    )
    return Planned("virtual network", VNET, s.name("vnet"), model, depends_on=((NSG, s.name("nsg")), (NAT, s.name("nat"))))


def _network_interface(s: _Site) -> Planned:
    ssh = bool(s.site.ssh_cidr)
    ip_configuration = network.NetworkInterfaceIPConfiguration(
        name="primary",
        primary=True,
        private_ip_allocation_method="Dynamic",
        subnet=network.Subnet(id=s.ref(f"{VNET}/subnets", f"{s.name('vnet')}/{SUBNET}")),
        public_ip_address=network.PublicIPAddress(id=s.ref(PUBLIC_IP, s.name("ssh-ip"))) if ssh else None,
    )
    return Planned(
        "network interface (with the SSH address)" if ssh else "network interface (no public IP)",
        NIC,
        s.name("nic"),
        network.NetworkInterface(location=s.site.location, tags=s.tags, ip_configurations=[ip_configuration]),
        depends_on=((VNET, s.name("vnet")), *(((PUBLIC_IP, s.name("ssh-ip")),) if ssh else ())),
    )


def _os_profile(site: AzureSite, custom_data: str, ssh_public_key: str) -> compute.OSProfile:
    key = compute.SshPublicKey(path=f"/home/{site.admin_user}/.ssh/authorized_keys", key_data=ssh_public_key)
    return compute.OSProfile(
        computer_name=site.name,
        admin_username=site.admin_user,
        custom_data=custom_data,
        linux_configuration=compute.LinuxConfiguration(
            disable_password_authentication=True, provision_vm_agent=True, ssh=compute.SshConfiguration(public_keys=[key])
        ),
    )


def _virtual_machine(s: _Site, custom_data: str, custom_data_sha256: str, ssh_public_key: str) -> Planned:
    site = s.site
    properties = compute.VirtualMachineProperties(
        hardware_profile=compute.HardwareProfile(vm_size=site.vm_size),
        storage_profile=compute.StorageProfile(
            image_reference=compute.ImageReference(**UBUNTU_IMAGE),
            os_disk=compute.OSDisk(
                name=s.name("os-disk"),
                create_option="FromImage",
                disk_size_gb=site.os_disk_gib,
                delete_option="Delete",
                managed_disk=compute.ManagedDiskParameters(storage_account_type="Premium_LRS"),
            ),
        ),
        os_profile=_os_profile(site, custom_data, ssh_public_key),
        network_profile=compute.NetworkProfile(
            network_interfaces=[
                compute.NetworkInterfaceReference(
                    id=s.ref(NIC, s.name("nic")),
                    properties=compute.NetworkInterfaceReferenceProperties(primary=True, delete_option="Detach"),
                )
            ]
        ),
        # Trusted Launch with Secure Boot and vTPM: Canonical's driver (ubuntu-drivers) is signed.
        security_profile=compute.SecurityProfile(
            encryption_at_host=site.encryption_at_host,
            security_type="TrustedLaunch",
            uefi_settings=compute.UefiSettings(secure_boot_enabled=True, v_tpm_enabled=True),
        ),
        diagnostics_profile=compute.DiagnosticsProfile(boot_diagnostics=compute.BootDiagnostics(enabled=True)),
    )
    return Planned(
        f"GPU VM ({site.vm_size}, Ubuntu 24.04)",
        VM,
        s.name("vm"),
        compute.VirtualMachine(location=site.location, tags={**s.tags, CUSTOM_DATA_TAG: custom_data_sha256}, properties=properties),
        depends_on=((NIC, s.name("nic")),),
        write_only=("properties.osProfile.customData",),
    )


def plan_site(
    site: AzureSite,
    federation: FederationSettings,
    *,
    subscription_id: str,
    custom_data: str,
    custom_data_sha256: str,
    ssh_public_key: str,
) -> SitePlan:
    """Everything a deploy creates, in creation order."""
    s = _Site(site, subscription_id, site.resource_group_for(federation.project), site_tags(site, federation))
    resources = [_static_ip(s, "NAT gateway address", "nat-ip"), _nat_gateway(s), _security_group(s)]
    if site.ssh_cidr:
        resources.append(_static_ip(s, "SSH address", "ssh-ip"))
    resources += [_virtual_network(s), _network_interface(s), _virtual_machine(s, custom_data, custom_data_sha256, ssh_public_key)]
    return SitePlan(
        site=site, subscription_id=subscription_id, resource_group=s.group, resource_group_tags=s.tags, resources=tuple(resources)
    )


def throwaway_ssh_key() -> str:
    """A public key whose private half is never kept: Azure needs a key for SSH-only login,
    and a site without `ssh_public_key` wants nobody to log in."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode() + " flarectl-no-login"


def deploy_plan(site: AzureSite, federation: FederationSettings, *, subscription_id: str) -> SitePlan:
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
