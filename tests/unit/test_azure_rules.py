"""Azure site rules stated one by one, with the expected values written here (issue 34): how a
resource Azure returns is compared with the one asked for, what a failed step and a failed
sign-in say, the kit's zip and the custom data being the same bytes for the same kit, Azure's
custom-data limit at its boundary, and the CLI's subscription and confirmation."""

from __future__ import annotations

import base64
import gzip
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from flarectl.sites.azure import custom_data as azure_custom_data
from flarectl.sites.azure import deploy as azure_deploy
from flarectl.sites.azure import plan as azure_plan
from tests.harness.fake_arm import SUBSCRIPTION, FakeArm
from tests.unit.test_azure_site import azure_federation, kit_for, run_cli, write_federation
from tests.unit.test_azure_site import clients as connected
from tests.unit.test_azure_site import plan as plan_of

pytestmark = pytest.mark.usefixtures("azure_offline")

OTHER_SUBSCRIPTION = "99999999-8888-7777-6666-555555555555"


@pytest.mark.parametrize(
    ("desired", "actual", "path", "differences"),
    [
        ({}, None, "tags", []),  # ARM leaves empty collections out
        ([], None, "rules", []),
        ({"a": 1}, None, "properties", ["properties"]),
        ({"a": {"b": 1}}, {"a": {"b": 2}, "extra": 3}, "", ["a.b"]),  # extra keys are ARM's defaults
        ({"a": {"b": 1}}, {"a": {"b": 2}}, "properties", ["properties.a.b"]),
        ([1, 2], [1], "list", ["list"]),
        ([1], 5, "list", ["list"]),
        ([{"x": 1}, {"x": 2}], [{"x": 1}, {"x": 3}], "rules", ["rules[1].x"]),
        ("/subscriptions/ABC/resourceGroups/RG/x", "/subscriptions/abc/resourcegroups/rg/X", "id", []),  # ARM's own case
        ("/subscriptions/abc/resourceGroups/rg/x", "/subscriptions/abc/resourceGroups/rg/y", "id", ["id"]),
        ("West Europe", "westeurope", "location", []),
        ("westeurope", "northeurope", "location", ["location"]),
        ("West Europe", "westeurope", "name", ["name"]),  # only a location is compared loosely
        ("a", None, "name", ["name"]),
        (1, 1, "count", []),
    ],
)
def test_what_azure_returns_is_compared_with_what_was_asked(desired: Any, actual: Any, path: str, differences: list[str]) -> None:
    assert azure_deploy._differences(desired, actual, path) == differences


def plan_for(tmp_path: Path) -> azure_plan.SitePlan:
    return plan_of(azure_federation(kit_for(tmp_path, "onc-az")))


RESUME = "Fix the cause and run `flarectl azure deploy onc-az` again: what is in place is kept and the deploy resumes at this step."


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (HttpResponseError(message="Allocation failed.\nMore detail"), "VM failed: Allocation failed.. " + RESUME),
        (HttpResponseError(message="The property EncryptionAtHost is not enabled"),
         "VM failed: The property EncryptionAtHost is not enabled. Register it once per subscription (`az feature register --namespace "
         "Microsoft.Compute --name EncryptionAtHost`) or set `encryption_at_host: false`. " + RESUME),
        (HttpResponseError(message=""), "VM failed: Operation returned an invalid status 'None'. " + RESUME),  # azure-core's words
    ],
)  # fmt: skip
def test_a_failed_step_says_its_first_line_the_fix_and_that_a_rerun_resumes(tmp_path: Path, error: Any, said: str) -> None:
    assert str(azure_deploy._failed(plan_for(tmp_path), "VM", error)) == said


def test_a_failed_sign_in_is_one_message_and_arguments_pass_through() -> None:
    @azure_deploy.signed_in
    def echo(*args: Any, **kwargs: Any) -> Any:
        return args, kwargs

    assert echo(1, 2, out="x") == ((1, 2), {"out": "x"})

    @azure_deploy.signed_in
    def refused() -> None:
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token\nAttempted credentials: ...")

    with pytest.raises(azure_deploy.AzureDeployError) as caught:
        refused()
    assert str(caught.value) == (
        "Azure sign-in failed (DefaultAzureCredential failed to retrieve a token). Run `az login` "
        "(or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET) and try again."
    )


def test_the_kits_zip_is_the_same_bytes_for_the_same_kit_private_and_compressed(tmp_path: Path) -> None:
    kit = kit_for(tmp_path, "onc-az")
    (kit / "startup" / "__pycache__").mkdir()
    (kit / "startup" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    first = azure_custom_data.kit_zip(kit)
    for path in kit.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    assert azure_custom_data.kit_zip(kit) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        entries = archive.infolist()
        names = {entry.filename for entry in entries}
        assert names == {str(p.relative_to(kit)) for p in kit.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert {(entry.date_time, entry.external_attr >> 16, entry.compress_type) for entry in entries} == {
            ((2020, 1, 1, 0, 0, 0), 0o600, zipfile.ZIP_DEFLATED)
        }


def test_custom_data_is_the_same_bytes_each_time_gzip_without_a_time() -> None:
    encoded = azure_custom_data.encode_custom_data("#cloud-config\n")
    raw = base64.b64decode(encoded)
    assert raw[:4] == b"\x1f\x8b\x08\x00" and raw[4:8] == b"\0\0\0\0"  # gzip magic, deflate, no flags; mtime 0
    assert gzip.decompress(raw) == b"#cloud-config\n"


def test_custom_data_at_azures_limit_is_sent_and_one_byte_more_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    federation = azure_federation(kit_for(tmp_path, "onc-az"))
    site = federation.sites[0]
    value, _ = azure_custom_data.custom_data_for_deploy(site, federation)  # type: ignore[arg-type]
    monkeypatch.setattr(azure_custom_data, "CUSTOM_DATA_LIMIT", len(value))
    assert azure_custom_data.custom_data_for_deploy(site, federation)[0] == value  # type: ignore[arg-type]
    monkeypatch.setattr(azure_custom_data, "CUSTOM_DATA_LIMIT", len(value) - 1)
    with pytest.raises(ValueError) as caught:
        azure_custom_data.custom_data_for_deploy(site, federation)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"the VM's custom data is {len(value)} bytes; Azure accepts {len(value) - 1}. Remove large files from the kit folder {site.kit}"  # type: ignore[attr-defined]
    )


def subscriptions_asked(arm: FakeArm) -> set[str]:
    return {request.path.split("/")[2] for request in arm.requests if request.path.startswith("/subscriptions/")}


def test_the_cli_uses_the_subscription_flag_then_the_sites_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", OTHER_SUBSCRIPTION)
    kit = str(kit_for(tmp_path, "onc-az"))
    config = write_federation(tmp_path, kit=kit, subscription_id=OTHER_SUBSCRIPTION)
    assert run_cli(monkeypatch, arm, "azure", "plan", "onc-az", "-c", str(config), "--subscription", SUBSCRIPTION) == 0
    assert subscriptions_asked(arm) == {SUBSCRIPTION}
    arm.requests.clear()
    config = write_federation(tmp_path, kit=kit, subscription_id=SUBSCRIPTION)
    assert run_cli(monkeypatch, arm, "azure", "plan", "onc-az", "-c", str(config)) == 0
    assert subscriptions_asked(arm) == {SUBSCRIPTION}
    arm.requests.clear()
    config = write_federation(tmp_path, kit=kit)
    assert run_cli(monkeypatch, arm, "azure", "destroy", "onc-az", "-c", str(config), "--yes") == 2  # the environment's: unknown here
    assert subscriptions_asked(arm) == {OTHER_SUBSCRIPTION}
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"flarectl: an Azure request failed: (SubscriptionNotFound) The subscription '{OTHER_SUBSCRIPTION}' could not be found."
    )


def test_destroy_at_a_terminal_needs_the_resource_group_name_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_federation(tmp_path, kit=str(kit_for(tmp_path, "onc-az")), subscription_id=SUBSCRIPTION)
    assert run_cli(monkeypatch, arm, "azure", "deploy", "onc-az", "-c", str(config)) == 0
    group = next(iter(arm.groups))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    questions: list[str] = []
    answers = iter(["yes", group.rsplit("/", 1)[-1]])
    monkeypatch.setattr("builtins.input", lambda question: questions.append(question) or next(answers))
    assert run_cli(monkeypatch, arm, "azure", "destroy", "onc-az", "-c", str(config)) == 0
    assert arm.groups and questions[0].endswith(" Type the resource group name to confirm: ")
    assert run_cli(monkeypatch, arm, "azure", "destroy", "onc-az", "-c", str(config)) == 0
    assert arm.groups == {}


def test_an_unknown_site_names_the_azure_sites_there_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_federation(tmp_path, kit=str(kit_for(tmp_path, "onc-az")), subscription_id=SUBSCRIPTION)
    assert run_cli(monkeypatch, arm, "azure", "plan", "other", "-c", str(config)) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"flarectl: no Azure site 'other' in {config}; Azure sites: onc-az"
    assert arm.requests == []


def test_what_a_second_deploy_changes_and_why(tmp_path: Path, arm: FakeArm) -> None:
    """Azure's copy edited behind flarectl's back: a NAT gateway setting and a failed state (an
    update, both reasons), the VM's SSH key (fixed at creation: a replacement); then the VM's
    custom data, which a VM reads only when it is created."""

    federation = azure_federation(kit_for(tmp_path, "onc-az"), ssh_public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq2 lab@x",
                                  ssh_cidr="203.0.113.0/24")  # fmt: skip
    plan = plan_of(federation)
    clients = connected(arm)
    azure_deploy.deploy(plan, clients, out=lambda _: None)
    stored = {key.rsplit("/", 1)[1]: resource for key, resource in arm.resources.items()}
    stored["onc-az-vm"]["properties"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"] = "ssh-ed25519 OTHER"
    stored["onc-az-nat"]["properties"].update(idleTimeoutInMinutes=30, provisioningState="Failed")
    found = {change.resource.name: (change.action, change.reasons) for change in azure_deploy.changes(plan, clients, group_exists=True)}
    assert found == {
        "onc-az-nat-ip": ("unchanged", ()), "onc-az-nsg": ("unchanged", ()), "onc-az-ssh-ip": ("unchanged", ()),
        "onc-az-vnet": ("unchanged", ()), "onc-az-nic": ("unchanged", ()),
        "onc-az-nat": ("update", ("properties.idleTimeoutInMinutes differs", "provisioning state is Failed: trying again")),
        "onc-az-vm": ("replace", ("properties.osProfile.linuxConfiguration.ssh.publicKeys[0].keyData cannot change on an existing VM",)),
    }  # fmt: skip
    stored["onc-az-vm"]["tags"][azure_deploy.CUSTOM_DATA_TAG] = "0" * 64
    (vm,) = [change for change in azure_deploy.changes(plan, clients, group_exists=True) if change.resource.name == "onc-az-vm"]
    assert (vm.action, vm.reasons) == (
        "replace", ("its custom data changed (startup kit, client runtime or settings); a VM reads it only when created",)
    )  # fmt: skip


class Poller:
    """An LROPoller as `_wait` uses it (done, wait(timeout), status, result): done after `waits` waits."""

    def __init__(self, waits: int) -> None:
        self.left, self.timeouts = waits, []

    def done(self) -> bool:
        return self.left == 0

    def wait(self, timeout: float) -> None:
        self.timeouts.append(timeout)
        self.left -= 1

    def status(self) -> str:
        return "InProgress"

    def result(self) -> str:
        return "created"


def test_a_long_step_says_it_is_still_going_every_15_seconds_then_done(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 115.2, 130.4, 131.0])
    monkeypatch.setattr(azure_deploy.time, "monotonic", lambda: next(clock))
    poller, lines = Poller(waits=3), []
    assert azure_deploy._wait(poller, "creating", lines.append) == "created"
    assert poller.timeouts == [15.0, 15.0, 15.0]
    assert lines == [
        "      still creating (15 s, Azure says InProgress)",
        "      still creating (30 s, Azure says InProgress)",
        "      done (31 s)",
    ]


def test_without_a_credential_the_clients_sign_in_as_azure_cli_and_the_environment_allow(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.credentials import AccessToken

    from flarectl.sites.azure import clients as azure_clients

    class Recorded:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("token", 0)

    monkeypatch.setattr("azure.identity.DefaultAzureCredential", Recorded)
    clients = azure_clients.connect(SUBSCRIPTION)
    assert {type(client._config.credential) for client in (clients.resources, clients.network, clients.compute)} == {Recorded}


def test_a_site_without_an_ssh_key_gets_a_key_nobody_holds_marked_as_such() -> None:
    import re

    first, second = azure_plan.throwaway_ssh_key(), azure_plan.throwaway_ssh_key()
    assert re.fullmatch(r"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]{48} flarectl-no-login", first) and first != second


def test_preflight_against_a_subscription_arm_does_not_know_says_so(tmp_path: Path, arm: FakeArm) -> None:
    from flarectl.sites.azure import preflight

    federation = azure_federation(kit_for(tmp_path, "onc-az"))
    plan = plan_of(federation, OTHER_SUBSCRIPTION)
    clients = connected(arm, OTHER_SUBSCRIPTION)
    assert preflight.problems(plan, clients) == [
        f"could not check the subscription's features and sizes ((SubscriptionNotFound) The subscription '{OTHER_SUBSCRIPTION}' could not "
        "be found.)"
    ]
    federation = azure_federation(kit_for(tmp_path / "2", "onc-az"))
    plan = plan_of(federation)
    clients = connected(arm)
    arm.encryption_feature = "Registering"
    assert preflight.problems(plan, clients) == [
        f"encryption at host is Registering in subscription {SUBSCRIPTION}: run az feature register --namespace Microsoft.Compute --name "
        "EncryptionAtHost, then az provider register -n Microsoft.Compute (once per subscription; it takes a few minutes), or set "
        "encryption_at_host: false for site onc-az"
    ]


@pytest.mark.parametrize("kit", [None, "missing"])
def test_deploy_without_a_kit_says_where_it_goes_and_how_to_get_it(tmp_path: Path, kit: str | None) -> None:
    federation = azure_federation(tmp_path / kit if kit else None)
    where = tmp_path / "missing" if kit else "(sites[].kit not set)"
    with pytest.raises(ValueError) as caught:
        azure_custom_data.custom_data_for_deploy(federation.sites[0], federation)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"no startup kit at {where}: register the site on the dashboard, download its startup kit and unzip it there "
        "(startup/fed_client.json must exist)"
    )


def test_destroy_needs_no_kit_and_refuses_a_group_flarectl_did_not_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    """The kit may be long gone when a site is taken down; the resource group's tags decide."""
    kit = kit_for(tmp_path, "onc-az")
    config = write_federation(tmp_path, kit=str(kit), subscription_id=SUBSCRIPTION)
    assert run_cli(monkeypatch, arm, "azure", "deploy", "onc-az", "-c", str(config)) == 0
    import shutil

    shutil.rmtree(kit)
    assert run_cli(monkeypatch, arm, "azure", "destroy", "onc-az", "-c", str(config), "--yes") == 0
    assert arm.groups == {}

    connected(arm).resources.resource_groups.create_or_update("cancer-fl-onc-az", {"location": "eastus", "tags": {"owner": "it"}})
    capsys.readouterr()
    assert run_cli(monkeypatch, arm, "azure", "destroy", "onc-az", "-c", str(config), "--yes") == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "flarectl: resource group cancer-fl-onc-az was not created by flarectl for site onc-az (its tags flare-managed-by/flare-site do "
        "not say so); delete the site's resources in it by hand"
    )
    assert arm.groups


def test_a_site_of_another_kind_is_not_an_azure_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    config = tmp_path / "federation.yaml"
    config.write_text(yaml.safe_dump({"project": "cancer-fl", "project_admin_email": "it@hospital.test",
                                      "sites": [{"name": "lab", "kind": "linux", "kit": "/srv/k", "workdir": "/srv/w"}]}))  # fmt: skip
    assert run_cli(monkeypatch, arm, "azure", "plan", "lab", "-c", str(config)) == 2
    assert (
        capsys.readouterr().err.splitlines()[-1]
        == f"flarectl: no Azure site 'lab' in {config}; Azure sites: none (add one with kind: azure)"
    )


def test_a_group_flarectl_made_for_another_site_is_not_this_sites(tmp_path: Path, arm: FakeArm) -> None:

    plan = plan_for(tmp_path)
    clients = connected(arm)
    for tags, state in [({"flare-managed-by": "flarectl", "flare-site": "onc-az"}, "ours"),
                        ({"flare-managed-by": "flarectl", "flare-site": "other-site"}, "foreign"),
                        ({"flare-managed-by": "someone", "flare-site": "onc-az"}, "foreign")]:  # fmt: skip
        clients.resources.resource_groups.create_or_update(plan.resource_group, {"location": "westeurope", "tags": tags})
        assert azure_deploy.resource_group_state(plan, clients) == (state, tags)


def test_every_preflight_problem_is_listed_and_a_size_not_listed_at_all_is_not_offered(tmp_path: Path, arm: FakeArm) -> None:
    """brazilsouth is an Azure location whose SKU list (here) has no GPU size at all."""

    federation = azure_federation(kit_for(tmp_path, "onc-az"), location="brazilsouth")
    plan = plan_of(federation)
    arm.encryption_feature = "NotRegistered"
    with pytest.raises(azure_deploy.AzureDeployError) as caught:
        azure_deploy.check_preflight(plan, connected(arm))
    assert str(caught.value) == (
        "site onc-az cannot be deployed as configured; nothing was created:\n"
        f"  - Standard_NC4as_T4_v3 is not offered in brazilsouth to subscription {SUBSCRIPTION}: choose another location or vm_size for "
        "site onc-az, or ask Azure for access\n"
        f"  - encryption at host is NotRegistered in subscription {SUBSCRIPTION}: run az feature register --namespace Microsoft.Compute "
        "--name EncryptionAtHost, then az provider register -n Microsoft.Compute (once per subscription; it takes a few minutes), or set "
        "encryption_at_host: false for site onc-az"
    )
