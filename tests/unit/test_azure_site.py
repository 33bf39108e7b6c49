"""Azure sites: one plan, two renderings (the SDK requests `flarectl azure deploy` sends and
the ARM template `cdk synth` writes), through the real azure-mgmt-* clients over a recording
transport that answers like ARM (tests/harness/fake_arm.py). Sockets are blocked and
DefaultAzureCredential must never be built."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from flarectl import cli
from flarectl.config import DEFAULT_FEDERATION
from flarectl.config.errors import ConfigError
from flarectl.federation import Federation, load_federation
from flarectl.host_scripts import HOSTS_DIR
from flarectl.sites.azure import clients as azure_clients
from flarectl.sites.azure import custom_data as azure_custom_data
from flarectl.sites.azure import deploy as azure_deploy
from flarectl.sites.azure import files as azure_site
from flarectl.sites.azure import plan as azure_plan
from flarectl.sites.azure import template as azure_template
from tests.harness.fake_arm import ARM, SUBSCRIPTION, FakeArm, FakeCredential
from tests.harness.governance import without_default_policy
from tests.harness.synth_fixtures import fake_client_kit

SECRET_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQ-not-a-real-key-but-a-secret-marker\n-----END PRIVATE KEY-----\n"
PUT_ORDER = [
    "Microsoft.Resources/resourceGroups",
    "Microsoft.Network/publicIPAddresses",
    "Microsoft.Network/natGateways",
    "Microsoft.Network/networkSecurityGroups",
    "Microsoft.Network/virtualNetworks",
    "Microsoft.Network/networkInterfaces",
    "Microsoft.Compute/virtualMachines",
]


pytestmark = pytest.mark.usefixtures("azure_offline")


def kit_for(root: Path, site: str) -> Path:
    kit = fake_client_kit(root, site)
    (kit / "startup" / "client.key").write_text(SECRET_KEY)
    return kit


def azure_federation(kit: Path | None, **fields: Any) -> Federation:
    site = {"name": "onc-az", "kind": "azure", "location": "westeurope", "gpu_memory_gib": 15, "requirements": ["torch==2.5.1"], **fields}
    if kit is not None:
        site["kit"] = str(kit)
    return Federation.model_validate({"project": "cancer-fl", "project_admin_email": "it@hospital.test", "sites": [site]})


@pytest.fixture
def federation(tmp_path: Path) -> Federation:
    return azure_federation(kit_for(tmp_path, "onc-az"))


def clients(arm: FakeArm, subscription: str = SUBSCRIPTION) -> azure_clients.AzureClients:
    """The SDK clients, talking to the fake ARM (the real connect, even where a CLI test replaced it)."""
    return REAL_CONNECT(subscription, FakeCredential(), transport=arm, polling_interval=0)


def plan(federation: Federation, subscription: str = SUBSCRIPTION) -> azure_plan.SitePlan:
    return azure_plan.deploy_plan(federation.sites[0], federation, subscription_id=subscription)  # type: ignore[arg-type]


def deploy(federation: Federation, arm: FakeArm, lines: list[str] | None = None) -> list[azure_deploy.Change]:
    return azure_deploy.deploy(plan(federation), clients(arm), out=(lines.append if lines is not None else lambda _: None))


def put_bodies(arm: FakeArm) -> dict[str, Any]:
    return {r.resource_type: r.body for r in arm.requests if r.method == "PUT"}


def custom_data_files(custom_data: str) -> dict[str, dict[str, Any]]:
    text = azure_custom_data.decode_custom_data(custom_data)
    assert text.startswith("#cloud-config\n")
    return {entry["path"]: entry for entry in yaml.safe_load(text)["write_files"]}


# --- deploy: what is sent ------------------------------------------------------------------------


def test_deploy_puts_each_resource_once_in_dependency_order(federation: Federation, arm: FakeArm) -> None:
    deploy(federation, arm)
    assert [(r.method, r.resource_type) for r in arm.changing] == [("PUT", kind) for kind in PUT_ORDER]
    assert [r.path.rsplit("/", 1)[1] for r in arm.changing] == [
        "cancer-fl-onc-az", "onc-az-nat-ip", "onc-az-nat", "onc-az-nsg", "onc-az-vnet", "onc-az-nic", "onc-az-vm",
    ]  # fmt: skip
    assert all(r.path.startswith(f"/subscriptions/{SUBSCRIPTION}/resourcegroups/cancer-fl-onc-az") for r in arm.changing[:1])


def test_api_versions_are_the_templates(federation: Federation, arm: FakeArm) -> None:
    deploy(federation, arm)
    template = azure_template.arm_template(federation.sites[0], federation)  # type: ignore[arg-type]
    expected = {resource["type"]: resource["apiVersion"] for resource in template["resources"]}
    expected["Microsoft.Resources/resourceGroups"] = azure_plan.API_VERSIONS["Microsoft.Resources/resourceGroups"]
    # and the preflight's two reads (the subscription's EncryptionAtHost feature, the sizes' SKUs)
    expected |= {"Microsoft.Features/providers/features": "2021-07-01", "Microsoft.Compute/skus": "2021-07-01"}
    sent = {r.resource_type: r.api_version for r in arm.requests if r.method in ("PUT", "GET")}
    assert sent == expected


def test_vm_body_ubuntu_ssh_key_only_encrypted_no_password(federation: Federation, arm: FakeArm) -> None:
    deploy(federation, arm)
    vm = put_bodies(arm)["Microsoft.Compute/virtualMachines"]["properties"]
    assert vm["storageProfile"]["imageReference"] == {
        "publisher": "Canonical",
        "offer": "ubuntu-24_04-lts",
        "sku": "server",
        "version": "latest",
    }
    assert vm["hardwareProfile"] == {"vmSize": "Standard_NC4as_T4_v3"}
    linux = vm["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    assert "adminPassword" not in vm["osProfile"]
    key = linux["ssh"]["publicKeys"][0]
    assert key["path"] == "/home/flareadmin/.ssh/authorized_keys" and key["keyData"].startswith("ssh-ed25519 ")
    assert vm["securityProfile"] == {
        "encryptionAtHost": True,
        "securityType": "TrustedLaunch",
        "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
    }
    assert vm["storageProfile"]["osDisk"]["managedDisk"] == {"storageAccountType": "Premium_LRS"}
    assert vm["networkProfile"]["networkInterfaces"][0]["id"].endswith("/networkInterfaces/onc-az-nic")


def test_network_has_no_inbound_rules_and_leaves_through_the_nat_gateway(federation: Federation, arm: FakeArm) -> None:
    deploy(federation, arm)
    bodies = put_bodies(arm)
    assert bodies["Microsoft.Network/networkSecurityGroups"]["properties"]["securityRules"] == []
    subnet = bodies["Microsoft.Network/virtualNetworks"]["properties"]["subnets"][0]["properties"]
    assert subnet["natGateway"]["id"].endswith("/natGateways/onc-az-nat") and subnet["defaultOutboundAccess"] is False
    assert subnet["networkSecurityGroup"]["id"].endswith("/networkSecurityGroups/onc-az-nsg")
    nic = bodies["Microsoft.Network/networkInterfaces"]["properties"]["ipConfigurations"][0]["properties"]
    assert "publicIPAddress" not in nic


def test_ssh_cidr_opens_port_22_from_that_network_only(tmp_path: Path, arm: FakeArm) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOr9Yy0b1Hc9vJ6n0bLfaV1w5QX8cUu2m1c7I0p5p1xd ann@hospital"
    federation = azure_federation(kit_for(tmp_path, "onc-az"), ssh_public_key=key, ssh_cidr="198.51.100.0/24")
    deploy(federation, arm)
    bodies = put_bodies(arm)
    (rule,) = bodies["Microsoft.Network/networkSecurityGroups"]["properties"]["securityRules"]
    assert rule["properties"] | {} == {
        "protocol": "Tcp", "direction": "Inbound", "access": "Allow", "priority": 100, "sourceAddressPrefix": "198.51.100.0/24",
        "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "22", "description": rule["properties"]["description"],
    }  # fmt: skip
    assert (
        bodies["Microsoft.Compute/virtualMachines"]["properties"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"]
        == key
    )
    nic = bodies["Microsoft.Network/networkInterfaces"]["properties"]["ipConfigurations"][0]["properties"]
    assert nic["publicIPAddress"]["id"].endswith("/publicIPAddresses/onc-az-ssh-ip")


def test_no_driver_extension_and_secure_boot_on(federation: Federation, arm: FakeArm) -> None:
    """Canonical's signed driver comes from cloud-init, so Trusted Launch keeps Secure Boot and vTPM on."""
    deploy(federation, arm)
    assert not [r for r in arm.requests if "extensions" in r.resource_type]
    security = put_bodies(arm)["Microsoft.Compute/virtualMachines"]["properties"]["securityProfile"]
    assert security["securityType"] == "TrustedLaunch"
    assert security["uefiSettings"] == {"secureBootEnabled": True, "vTpmEnabled": True}


def test_custom_data_runs_the_shared_runtime_as_a_boot_service(federation: Federation, arm: FakeArm) -> None:
    deploy(federation, arm)
    files = custom_data_files(put_bodies(arm)["Microsoft.Compute/virtualMachines"]["properties"]["osProfile"]["customData"])
    runtime = "/opt/nvflare-client/bundle/runtime"
    shipped = {"flare-client.sh", "flare-doctor.py", "startup_kit.py", "venv-install.sh", "flare-client.service", "install-service.sh"}
    assert {path.rsplit("/", 1)[1] for path in files if path.startswith(f"{runtime}/")} == shipped | {"azure-bootstrap.sh"}
    for name in shipped:
        assert files[f"{runtime}/{name}"]["content"] == (HOSTS_DIR / "client" / name).read_text()
    assert "ubuntu-drivers install --gpgpu" in files[f"{runtime}/azure-bootstrap.sh"]["content"]
    settings = [line for line in files["/etc/nvflare-client/client.env"]["content"].splitlines() if line and not line.startswith("#")]
    assert without_default_policy(settings) == ["SITE_NAME=onc-az", "NVFLARE_VERSION=2.9.0", "REQUIREMENTS=torch==2.5.1", "GPUS=1", "GPU_MEMORY_GIB=15",
                        "SITE_ROOT=/var/lib/nvflare-client", "KIT_SOURCE=/opt/nvflare-client/bundle/kit.zip", "VENV=/opt/nvflare-client/venv",
                        "VENV_MANAGED=true", "PYTHON=python3", "UV_VERSION=0.13.8"]  # fmt: skip
    kit = files["/opt/nvflare-client/bundle/kit.zip"]
    assert kit["permissions"] == "0600"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(kit["content"]))) as archive:
        assert archive.read("startup/client.key").decode() == SECRET_KEY
        assert "startup/fed_client.json" in archive.namelist()
    cloud = yaml.safe_load(
        azure_custom_data.decode_custom_data(put_bodies(arm)["Microsoft.Compute/virtualMachines"]["properties"]["osProfile"]["customData"])
    )
    assert cloud["runcmd"] == [["bash", f"{runtime}/azure-bootstrap.sh"]] and "python3-venv" in cloud["packages"]


def test_progress_is_shown_for_each_long_running_step(federation: Federation, arm: FakeArm) -> None:
    lines: list[str] = []
    deploy(federation, arm, lines)
    assert lines[0] == "resource group cancer-fl-onc-az: creating"
    assert [line.split(":")[0] for line in lines if line.startswith("[")] == [
        f"[{n}/6] {label}" for n, label in enumerate(
            ["NAT gateway address onc-az-nat-ip", "NAT gateway (outbound only) onc-az-nat", "network security group (no inbound rules) onc-az-nsg",
             "virtual network onc-az-vnet", "network interface (no public IP) onc-az-nic", "GPU VM (Standard_NC4as_T4_v3, Ubuntu 24.04) onc-az-vm"],
            start=1)
    ]  # fmt: skip
    assert lines.count("      done (0 s)") == 6
    assert lines[-1].startswith("site onc-az: the client dials out from 203.0.113.42")
    assert arm.polls >= 12  # every PUT was followed to its end through Azure-AsyncOperation


# --- deploy: idempotent, resumable -----------------------------------------------------------------


def test_second_deploy_sends_no_changing_request(federation: Federation, arm: FakeArm) -> None:
    deploy(federation, arm)
    arm.requests.clear()
    lines: list[str] = []
    assert deploy(federation, arm, lines) == []  # a new plan: a new throwaway SSH key, same kit
    assert arm.changing == []
    assert sum(line.endswith(": unchanged") for line in lines) == 7


def test_failed_step_names_the_resource_and_a_rerun_resumes(federation: Federation, arm: FakeArm) -> None:
    arm.fail_next_put("Microsoft.Network/networkInterfaces", "Subnet onc-az-vnet/flare is in use by another deployment.")
    with pytest.raises(azure_deploy.AzureDeployError) as failure:
        deploy(federation, arm)
    message = str(failure.value)
    assert "network interface (no public IP) onc-az-nic (Microsoft.Network/networkInterfaces) failed" in message
    assert "Subnet onc-az-vnet/flare is in use by another deployment." in message
    assert "flarectl azure deploy onc-az` again" in message
    arm.requests.clear()
    deploy(federation, arm)
    assert [(r.method, r.resource_type) for r in arm.changing] == [
        ("PUT", "Microsoft.Network/networkInterfaces"), ("PUT", "Microsoft.Compute/virtualMachines"),
    ]  # fmt: skip


def test_a_failed_vm_is_repaired_in_place(federation: Federation, arm: FakeArm) -> None:
    arm.fail_next_put("Microsoft.Compute/virtualMachines", "Allocation failed: no Standard_NC4as_T4_v3 capacity in westeurope.")
    with pytest.raises(
        azure_deploy.AzureDeployError, match=r"GPU VM .* onc-az-vm \(Microsoft.Compute/virtualMachines\) failed: .*Allocation failed"
    ):
        deploy(federation, arm)
    arm.requests.clear()
    deploy(federation, arm)
    assert [(r.method, r.resource_type) for r in arm.changing] == [("PUT", "Microsoft.Compute/virtualMachines")]


def test_a_new_kit_replaces_the_vm_and_keeps_the_network(tmp_path: Path, federation: Federation, arm: FakeArm) -> None:
    deploy(federation, arm)
    kit = Path(federation.sites[0].kit)  # type: ignore[union-attr, arg-type]
    (kit / "startup" / "client.crt").write_text("a renewed certificate")
    arm.requests.clear()
    lines: list[str] = []
    azure_deploy.describe(plan(federation), clients(arm), out=lines.append)
    assert "  GPU VM (Standard_NC4as_T4_v3, Ubuntu 24.04) onc-az-vm: replace" in lines
    assert arm.changing == []
    deploy(federation, arm)
    assert [(r.method, r.resource_type) for r in arm.changing] == [
        ("DELETE", "Microsoft.Compute/virtualMachines"), ("PUT", "Microsoft.Compute/virtualMachines"),
    ]  # fmt: skip


def test_a_changed_setting_updates_only_that_resource(tmp_path: Path, arm: FakeArm) -> None:
    kit = kit_for(tmp_path, "onc-az")
    deploy(azure_federation(kit, tags={"cost-center": "oncology"}), arm)
    arm.requests.clear()
    deploy(azure_federation(kit, tags={"cost-center": "radiology"}), arm)
    changed = [r.resource_type for r in arm.changing]
    assert changed[0] == "Microsoft.Resources/resourceGroups"
    assert "Microsoft.Compute/virtualMachines" in changed and all(r.method == "PUT" for r in arm.changing)


# --- destroy -----------------------------------------------------------------------------------


def test_destroy_deletes_only_the_sites_resource_group(federation: Federation, arm: FakeArm) -> None:
    deploy(federation, arm)
    arm.requests.clear()
    asked: list[str] = []
    assert azure_deploy.destroy(plan(federation), clients(arm), confirm=lambda q: asked.append(q) or True, out=lambda _: None)
    assert [(r.method, r.path) for r in arm.changing] == [("DELETE", f"/subscriptions/{SUBSCRIPTION}/resourcegroups/cancer-fl-onc-az")]
    assert asked == ["Delete resource group cancer-fl-onc-az and everything in it (site onc-az)?"]
    assert arm.resources == {} and arm.groups == {}


def test_destroy_without_confirmation_deletes_nothing(federation: Federation, arm: FakeArm) -> None:
    deploy(federation, arm)
    arm.requests.clear()
    assert not azure_deploy.destroy(plan(federation), clients(arm), confirm=lambda q: False, out=lambda _: None)
    assert arm.changing == []


def test_destroy_refuses_a_resource_group_flarectl_did_not_create(tmp_path: Path, arm: FakeArm) -> None:
    federation = azure_federation(kit_for(tmp_path, "onc-az"), resource_group="shared-research")
    azure_clients.connect(SUBSCRIPTION, FakeCredential(), transport=arm).resources.resource_groups.create_or_update(
        "shared-research", {"location": "westeurope", "tags": {"owner": "it"}}
    )
    deploy(federation, arm)
    assert "Microsoft.Resources/resourceGroups" not in [r.resource_type for r in arm.changing[1:]]
    arm.requests.clear()
    with pytest.raises(azure_deploy.AzureDeployError, match="was not created by flarectl for site onc-az"):
        azure_deploy.destroy(plan(federation), clients(arm), confirm=lambda q: True, out=lambda _: None)
    assert arm.changing == []


# --- the ARM template: the same plan, rendered for review ------------------------------------------


def evaluate(value: Any, parameters: dict[str, str], group: str) -> Any:
    """Resolves the template's [resourceId(...)] and [parameters(...)] the way ARM would."""
    if isinstance(value, dict):
        return {key: evaluate(item, parameters, group) for key, item in value.items()}
    if isinstance(value, list):
        return [evaluate(item, parameters, group) for item in value]
    if isinstance(value, str) and (match := re.fullmatch(r"\[parameters\('(\w+)'\)\]", value)):
        return parameters[match[1]]
    if isinstance(value, str) and (match := re.fullmatch(r"\[resourceId\('([\w./]+)', (.+)\)\]", value)):
        names = re.findall(r"'([^']+)'", match[2])
        provider, *kinds = match[1].split("/")
        path = "/".join(f"{kind}/{name}" for kind, name in zip(kinds, names, strict=True))
        return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{provider}/{path}"
    return value


@pytest.mark.parametrize(
    "fields",
    [{}, {"ssh_public_key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ ann", "ssh_cidr": "198.51.100.0/24"}, {"encryption_at_host": False}],
)
def test_template_resources_equal_the_sdk_request_bodies(tmp_path: Path, arm: FakeArm, fields: dict[str, Any]) -> None:
    federation = azure_federation(kit_for(tmp_path, "onc-az"), **fields)
    deployed = plan(federation)
    azure_deploy.deploy(deployed, clients(arm), out=lambda _: None)
    vm = next(r for r in deployed.resources if r.type == "Microsoft.Compute/virtualMachines").body()
    parameters = {
        "customData": vm["properties"]["osProfile"]["customData"],
        "customDataSha256": vm["tags"][azure_plan.CUSTOM_DATA_TAG],
        "adminSshPublicKey": vm["properties"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"],
    }
    template = azure_template.arm_template(federation.sites[0], federation)  # type: ignore[arg-type]
    sent = [(r.resource_type, r.path.rsplit("/", 1)[1], r.body) for r in arm.requests if r.method == "PUT"][1:]
    rendered = []
    for resource in template["resources"]:
        body = {k: v for k, v in resource.items() if k not in ("type", "apiVersion", "name", "dependsOn")}
        rendered.append((resource["type"], resource["name"].rsplit("/", 1)[-1], evaluate(body, parameters, "cancer-fl-onc-az")))
    assert rendered == sent


def test_template_dependencies_follow_the_references(tmp_path: Path) -> None:
    federation = azure_federation(None)
    template = azure_template.arm_template(federation.sites[0], federation)  # type: ignore[arg-type]
    by_name = {resource["name"]: resource for resource in template["resources"]}
    assert by_name["onc-az-vnet"]["dependsOn"] == [
        "[resourceId('Microsoft.Network/networkSecurityGroups', 'onc-az-nsg')]", "[resourceId('Microsoft.Network/natGateways', 'onc-az-nat')]",
    ]  # fmt: skip
    assert by_name["onc-az-vm"]["dependsOn"] == ["[resourceId('Microsoft.Network/networkInterfaces', 'onc-az-nic')]"]
    assert set(by_name) == {"onc-az-nat-ip", "onc-az-nat", "onc-az-nsg", "onc-az-vnet", "onc-az-nic", "onc-az-vm"}
    assert template["parameters"]["customData"]["type"] == "secureString"


def test_synth_output_for_review_keeps_the_kit_out(tmp_path: Path) -> None:
    kit = kit_for(tmp_path / "kits", "onc-az")
    federation = azure_federation(kit)
    written = azure_site.emit(federation.sites[0], federation, tmp_path / "out")  # type: ignore[arg-type]
    assert [p.name for p in written] == ["README.md", "azure-template.json", "cloud-init.yaml"]
    for path in written:
        text = path.read_text()
        assert "not-a-real-key" not in text and "PRIVATE KEY" not in text
    files = {entry["path"]: entry for entry in yaml.safe_load((tmp_path / "out" / "cloud-init.yaml").read_text())["write_files"]}
    assert "added by `flarectl azure deploy`" in files["/opt/nvflare-client/bundle/kit.zip"]["content"]
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "flarectl azure deploy onc-az" in readme and "cancer-fl-onc-az" in readme


def test_default_federation_azure_template_snapshot(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    federation = load_federation(DEFAULT_FEDERATION)
    site = next(s for s in federation.sites if s.kind == "azure")
    azure_site.emit(site, federation, tmp_path)  # type: ignore[arg-type]
    assert json.loads((tmp_path / "azure-template.json").read_text()) == snapshot.use_extension(JSONSnapshotExtension)


# --- config and CLI errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"location": "East US"}, "sites[0].location: 'East US' is not an Azure location name; use the short name like eastus"),
        (
            {"vm_size": "Standard_D4s_v5"},
            "sites[0].vm_size: 'Standard_D4s_v5' is not an Azure GPU VM size; use an N-series size like Standard_NC4as_T4_v3",
        ),
        ({"vm_size": "nc4as_t4_v3"}, "sites[0].vm_size: 'nc4as_t4_v3' is not an Azure GPU VM size"),
        ({"subscription_id": "my-subscription"}, "sites[0].subscription_id: 'my-subscription' is not an Azure subscription id"),
        ({"ssh_cidr": "198.51.100.0/24"}, "sites[0]: ssh_cidr opens SSH, but there is no ssh_public_key"),
        ({"ssh_cidr": "0.0.0.0/0", "ssh_public_key": "ssh-ed25519 AAAA x"}, "sites[0].ssh_cidr: '0.0.0.0/0' opens SSH to the internet"),
        ({"ssh_public_key": "ecdsa-sha2-nistp256 AAAA x"}, "sites[0].ssh_public_key: is not an OpenSSH public key"),
        ({"admin_user": "root"}, "sites[0].admin_user: 'root' cannot be the VM's admin user"),
        ({"gpu_driver": "cuda"}, "sites[0].gpu_driver: 'cuda' is not allowed; use 'ubuntu'"),
        (
            {"gpu_driver": "extension"},
            "sites[0].gpu_driver: 'extension' is not offered: Microsoft documents the NvidiaGpuDriverLinux "
            "extension's CUDA driver for Ubuntu 20.04 only, and sites run Ubuntu 24.04; remove gpu_driver (the default installs "
            "Canonical's signed driver with ubuntu-drivers, which works with Secure Boot)",
        ),
        ({"tags": {"flare-site": "x"}}, "sites[0].tags: tag 'flare-site': use a name"),
        ({"os_disk_gib": 30}, "sites[0].os_disk_gib: 30 GiB: use 64 to 4095 GiB"),
        ({"location": "eastus9"}, "sites[0].location: eastus9 is not an Azure region flarectl knows"),
        (
            {"vm_size": "Standard_NV36ads_A10_v5"},
            "sites[0].vm_size: Standard_NV36ads_A10_v5 is not a GPU size whose driver setup flarectl knows",
        ),
        ({"vm_size": "Standard_NC64as_T4_v3"}, "sites[0].gpus: Standard_NC64as_T4_v3 has 4 GPU(s) (T4), not 1; register what the VM has"),
        (
            {"gpu_memory_gib": 40},
            "sites[0].gpu_memory_gib: Standard_NC4as_T4_v3 has Tesla T4 GPUs, which nvidia-smi reports as 15360 MiB (15.00 GiB); NVFlare refuses more than that: register gpu_memory_gib: 15",
        ),
        (
            {"vm_sise": "Standard_NC4as_T4_v3"},
            "sites[0].vm_sise: unknown key; allowed keys: name, kind, kit, gpus, gpu_memory_gib, requirements, subscription_id, location, vm_size",
        ),
    ],
)
def test_config_errors_name_the_field_and_the_fix(tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    site = {"name": "onc-az", "kind": "azure", "location": "eastus", **fields}
    path = tmp_path / "federation.yaml"
    path.write_text(yaml.safe_dump({"project": "p", "project_admin_email": "it@hospital.test", "sites": [site]}))
    with pytest.raises(ConfigError) as error:
        load_federation(path)
    assert any(problem.startswith(f"federation.yaml: {message}") for problem in error.value.problems), error.value.problems


def write_federation(tmp_path: Path, **fields: Any) -> Path:
    site = {"name": "onc-az", "kind": "azure", "location": "eastus", **fields}
    path = tmp_path / "federation.yaml"
    path.write_text(yaml.safe_dump({"project": "cancer-fl", "project_admin_email": "it@hospital.test", "sites": [site]}))
    return path


REAL_CONNECT = azure_clients.connect


def run_cli(monkeypatch: pytest.MonkeyPatch, arm: FakeArm, *argv: str) -> int:
    """`flarectl ...` with the SDK clients talking to the fake ARM."""
    monkeypatch.setattr(
        azure_clients,
        "connect",
        lambda subscription, credential=None: REAL_CONNECT(subscription, FakeCredential(), transport=arm, polling_interval=0),
    )
    return cli.main(list(argv))


def test_cli_deploy_without_a_kit_says_where_to_put_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_federation(tmp_path, kit=str(tmp_path / "kits" / "onc-az"), subscription_id=SUBSCRIPTION)
    assert run_cli(monkeypatch, arm, "azure", "deploy", "onc-az", "-c", str(config)) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"flarectl: sites[0].kit: no startup kit at {tmp_path}/kits/onc-az: register the site on the dashboard")
    assert "Traceback" not in error and arm.requests == []


def test_cli_without_a_subscription_names_the_three_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_federation(tmp_path, kit=str(kit_for(tmp_path, "onc-az")))
    assert run_cli(monkeypatch, arm, "azure", "plan", "onc-az", "-c", str(config)) == 2
    assert "sites[0].subscription_id is not set; set it, pass --subscription, or set AZURE_SUBSCRIPTION_ID" in capsys.readouterr().err


def test_cli_deploy_then_plan_then_destroy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_federation(tmp_path, kit=str(kit_for(tmp_path, "onc-az")))
    assert run_cli(monkeypatch, arm, "azure", "deploy", "onc-az", "-c", str(config), "--subscription", SUBSCRIPTION) == 0
    output = capsys.readouterr().out
    assert "[6/6] GPU VM (Standard_NC4as_T4_v3, Ubuntu 24.04) onc-az-vm: creating" in output and "site onc-az deployed" in output
    assert "not-a-real-key" not in output and "customData" not in output
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    assert run_cli(monkeypatch, arm, "azure", "plan", "onc-az", "-c", str(config)) == 0
    assert capsys.readouterr().out.count(": unchanged") == 7
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert run_cli(monkeypatch, arm, "azure", "destroy", "onc-az", "-c", str(config)) == 0
    assert "Pass --yes to confirm without a terminal." in capsys.readouterr().err and arm.groups
    assert run_cli(monkeypatch, arm, "azure", "destroy", "onc-az", "-c", str(config), "--yes") == 0
    assert arm.groups == {} and f"{ARM}" not in capsys.readouterr().out


# --- preflight: what Azure would refuse later, checked before anything is created -------------------


@pytest.mark.parametrize(
    ("setup", "fields", "problem"),
    [
        (lambda arm: setattr(arm, "encryption_feature", "NotRegistered"), {},
         f"encryption at host is NotRegistered in subscription {SUBSCRIPTION}: run az feature register --namespace Microsoft.Compute "
         "--name EncryptionAtHost, then az provider register -n Microsoft.Compute (once per subscription; it takes a few minutes), "
         "or set encryption_at_host: false for site onc-az"),
        (lambda arm: setattr(arm, "size_capabilities", {"EncryptionAtHostSupported": "False"}), {},
         "Standard_NC4as_T4_v3 does not support encryption at host in westeurope: choose a vm_size that does, "
         "or set encryption_at_host: false for site onc-az"),
        (lambda arm: setattr(arm, "size_capabilities", {"EncryptionAtHostSupported": "True", "TrustedLaunchDisabled": "True"}), {},
         "Standard_NC4as_T4_v3 does not support Trusted Launch (Secure Boot, vTPM) in westeurope, which every site VM uses: "
         "choose another vm_size for site onc-az"),
        (lambda arm: arm.sizes_not_offered.add("Standard_NC4as_T4_v3"), {"encryption_at_host": False},
         f"Standard_NC4as_T4_v3 is not offered in westeurope to subscription {SUBSCRIPTION}: choose another location or vm_size "
         "for site onc-az, or ask Azure for access"),
    ],
)  # fmt: skip
def test_preflight_refuses_before_anything_is_created(tmp_path: Path, arm: FakeArm, setup: Any, fields: dict, problem: str) -> None:
    setup(arm)
    federation = azure_federation(kit_for(tmp_path, "onc-az"), **fields)
    for action in (azure_deploy.deploy, azure_deploy.describe):
        with pytest.raises(azure_deploy.AzureDeployError) as refused:
            action(plan(federation), clients(arm), out=lambda _: None)
        assert str(refused.value) == f"site onc-az cannot be deployed as configured; nothing was created:\n  - {problem}"
    assert arm.changing == []


def test_a_size_restricted_in_some_zones_is_still_offered(tmp_path: Path, arm: FakeArm) -> None:
    """The VM names no zone: a Zone restriction does not stop it (only a Location one does)."""
    arm.sizes_not_in_zone_1.add("Standard_NC4as_T4_v3")
    federation = azure_federation(kit_for(tmp_path, "onc-az"))
    azure_deploy.describe(plan(federation), clients(arm), out=lambda _: None)
    assert arm.changing == []


def test_without_encryption_at_host_the_feature_is_not_asked(tmp_path: Path, arm: FakeArm) -> None:
    arm.encryption_feature = "NotRegistered"
    deploy(azure_federation(kit_for(tmp_path, "onc-az"), encryption_at_host=False), arm)
    assert not [r for r in arm.requests if r.resource_type == "Microsoft.Features/providers/features"]
    assert put_bodies(arm)["Microsoft.Compute/virtualMachines"]["properties"]["securityProfile"]["encryptionAtHost"] is False
