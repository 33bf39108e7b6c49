"""`flarectl azure plan|deploy|destroy`: an Azure site's plan applied with the Azure SDK.

Every step reads the resource first and writes only what differs, so a second deploy sends
no changing request and a deploy that failed halfway resumes where it stopped. Destroy
deletes the site's resource group, and only one that flarectl created for this site.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from flarectl.sites.azure import preflight
from flarectl.sites.azure.clients import AzureClients
from flarectl.sites.azure.plan import CUSTOM_DATA_TAG, Planned, SitePlan

PROGRESS_SECONDS = 15.0
SSH_KEYS_PATH = "properties.osProfile.linuxConfiguration.ssh"
# VM settings Azure cannot change on a running VM: a change means a new VM (the OS disk goes
# with it; the NIC, network and addresses stay).
REPLACE_PATHS = (
    "properties.osProfile",
    "properties.storageProfile",
    "properties.securityProfile.securityType",
    "properties.securityProfile.uefiSettings",
)
OPERATIONS = {  # ARM type -> (client, operation group)
    "Microsoft.Network/publicIPAddresses": ("network", "public_ip_addresses"),
    "Microsoft.Network/natGateways": ("network", "nat_gateways"),
    "Microsoft.Network/networkSecurityGroups": ("network", "network_security_groups"),
    "Microsoft.Network/virtualNetworks": ("network", "virtual_networks"),
    "Microsoft.Network/networkInterfaces": ("network", "network_interfaces"),
    "Microsoft.Compute/virtualMachines": ("compute", "virtual_machines"),
}


class AzureDeployError(Exception):
    """A deploy or destroy that cannot go on; the message says what failed and what to do."""


def signed_in(action: Callable[..., Any]) -> Callable[..., Any]:
    """Turns a failed Azure sign-in into one clear message."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except ClientAuthenticationError as error:
            raise AzureDeployError(
                f"Azure sign-in failed ({str(error).splitlines()[0]}). Run `az login` "
                "(or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET) and try again."
            ) from None

    return run


@dataclass(frozen=True)
class Change:
    resource: Planned
    action: str  # create | update | replace | unchanged
    reasons: tuple[str, ...] = ()


def _operations(clients: AzureClients, resource: Planned) -> Any:
    client, group = OPERATIONS[resource.type]
    return getattr(getattr(clients, client), group)


def _differences(desired: Any, actual: Any, path: str) -> list[str]:
    """Paths where `actual` (what Azure returns) does not hold what `desired` asks for. Extra
    keys in `actual` are fine: ARM adds defaults, and policies may add tags."""
    if desired in ({}, []) and actual is None:
        return []  # ARM leaves empty collections out of what it returns
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return [path]
        found = []
        for key, value in desired.items():
            found += _differences(value, actual.get(key), f"{path}.{key}" if path else key)
        return found
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(desired) != len(actual):
            return [path]
        return [difference for index, item in enumerate(desired) for difference in _differences(item, actual[index], f"{path}[{index}]")]
    if isinstance(desired, str) and isinstance(actual, str) and desired.startswith("/subscriptions/"):
        return [] if desired.lower() == actual.lower() else [path]  # ARM returns ids in its own case
    if isinstance(desired, str) and isinstance(actual, str) and path.endswith("location"):
        return [] if desired.replace(" ", "").lower() == actual.replace(" ", "").lower() else [path]
    return [] if desired == actual else [path]


def _holds(actual: dict[str, str], wanted: dict[str, str]) -> bool:
    return not _differences(wanted, actual, "tags")


def _without(body: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    body = {**body}
    for path in paths:
        *parents, last = path.split(".")
        node = body
        for part in parents:
            if not isinstance(node.get(part), dict):
                break
            node[part] = {**node[part]}
            node = node[part]
        else:
            node.pop(last, None)
    return body


def _change(plan: SitePlan, clients: AzureClients, resource: Planned) -> Change:
    try:
        existing = _operations(clients, resource).get(plan.resource_group, resource.name)
    except ResourceNotFoundError:
        return Change(resource, "create")
    actual = existing.as_dict()
    ignored = resource.write_only + (() if plan.site.ssh_public_key else (SSH_KEYS_PATH,))
    differences = _differences(_without(resource.body(), ignored), actual, "")
    state = actual.get("properties", {}).get("provisioningState")
    if resource.type == "Microsoft.Compute/virtualMachines":
        wanted_data = resource.body()["tags"].get(CUSTOM_DATA_TAG)
        if actual.get("tags", {}).get(CUSTOM_DATA_TAG) != wanted_data:
            return Change(
                resource, "replace", ("its custom data changed (startup kit, client runtime or settings); a VM reads it only when created",)
            )
        fixed = [path for path in differences if path.startswith(REPLACE_PATHS)]
        if fixed:
            return Change(resource, "replace", tuple(f"{path} cannot change on an existing VM" for path in fixed))
    reasons = tuple(f"{path} differs" for path in differences)
    if state not in (None, "Succeeded"):
        reasons += (f"provisioning state is {state}: trying again",)
    return Change(resource, "update" if reasons else "unchanged", reasons)


def resource_group_state(plan: SitePlan, clients: AzureClients) -> tuple[str, dict[str, str]]:
    """'missing', 'ours' (created by flarectl for this site) or 'foreign', and its tags."""
    try:
        group = clients.resources.resource_groups.get(plan.resource_group)
    except ResourceNotFoundError as error:
        if error.error is not None and error.error.code == "SubscriptionNotFound":
            raise  # not "nothing to destroy": the site may well be in the subscription meant
        return "missing", {}
    tags = dict(group.tags or {})
    ours = tags.get("flare-managed-by") == "flarectl" and tags.get("flare-site") == plan.site.name
    return ("ours" if ours else "foreign"), tags


def changes(plan: SitePlan, clients: AzureClients, *, group_exists: bool) -> list[Change]:
    if not group_exists:  # nothing to read: everything is new
        return [Change(resource, "create") for resource in plan.resources]
    return [_change(plan, clients, resource) for resource in plan.resources]


def check_preflight(plan: SitePlan, clients: AzureClients) -> None:
    """Before anything is read or created: what Azure would refuse later (preflight.py)."""
    found = preflight.problems(plan, clients)
    if found:
        raise AzureDeployError(f"site {plan.site.name} cannot be deployed as configured; nothing was created:\n  - " + "\n  - ".join(found))


@signed_in
def describe(plan: SitePlan, clients: AzureClients, out: Callable[[str], None] = print) -> list[Change]:
    """Print what a deploy would do; return the changes."""
    check_preflight(plan, clients)
    state, tags = resource_group_state(plan, clients)
    group_line = {
        "missing": "create",
        "ours": "unchanged" if _holds(tags, plan.resource_group_tags) else "update (tags)",
        "foreign": "use as it is (not created by flarectl: destroy will not delete it)",
    }[state]
    out(f"resource group {plan.resource_group} ({plan.site.location}): {group_line}")
    found = changes(plan, clients, group_exists=state != "missing")
    for change in found:
        out(f"  {change.resource.label} {change.resource.name}: {change.action}")
        for reason in change.reasons:
            out(f"      {reason}")
    return found


def _wait(poller: Any, what: str, out: Callable[[str], None]) -> Any:
    started = time.monotonic()
    while not poller.done():
        poller.wait(timeout=PROGRESS_SECONDS)
        if not poller.done():
            out(f"      still {what} ({time.monotonic() - started:.0f} s, Azure says {poller.status()})")
    result = poller.result()
    out(f"      done ({time.monotonic() - started:.0f} s)")
    return result


def _failed(plan: SitePlan, resource: str, error: HttpResponseError) -> AzureDeployError:
    message = error.message.partition("\n")[0]  # azure-core fills it in when ARM sent none
    hint = ""
    if "EncryptionAtHost" in message:
        hint = " Register it once per subscription (`az feature register --namespace Microsoft.Compute --name EncryptionAtHost`) or set `encryption_at_host: false`."
    return AzureDeployError(
        f"{resource} failed: {message}.{hint} "
        f"Fix the cause and run `flarectl azure deploy {plan.site.name}` again: what is in place is kept and the deploy resumes at this step."
    )


@signed_in
def deploy(plan: SitePlan, clients: AzureClients, out: Callable[[str], None] = print) -> list[Change]:
    """Create or update the site; returns the changes made."""
    check_preflight(plan, clients)
    state, tags = resource_group_state(plan, clients)
    if state == "foreign":
        out(f"resource group {plan.resource_group}: exists and was not created by flarectl; using it as it is")
    elif state == "missing" or not _holds(tags, plan.resource_group_tags):
        out(f"resource group {plan.resource_group}: {'creating' if state == 'missing' else 'updating tags'}")
        try:
            clients.resources.resource_groups.create_or_update(
                plan.resource_group, {"location": plan.site.location, "tags": plan.resource_group_tags}
            )
        except HttpResponseError as error:
            raise _failed(plan, f"resource group {plan.resource_group}", error) from None
    else:
        out(f"resource group {plan.resource_group}: unchanged")
    applied = []
    total = len(plan.resources)
    for step, change in enumerate(changes(plan, clients, group_exists=state != "missing"), start=1):
        resource = change.resource
        where = f"[{step}/{total}] {resource.label} {resource.name}"
        if change.action == "unchanged":
            out(f"{where}: unchanged")
            continue
        operations = _operations(clients, resource)
        names = resource.name.split("/")
        try:
            if change.action == "replace":
                out(f"{where}: replacing ({'; '.join(change.reasons)}): deleting the old VM")
                _wait(operations.begin_delete(plan.resource_group, *names), "deleting", out)
            verb = {"create": "creating", "replace": "creating", "update": "updating"}[change.action]
            out(f"{where}: {verb}" + (f" ({'; '.join(change.reasons)})" if change.action == "update" else ""))
            _wait(operations.begin_create_or_update(plan.resource_group, *names, resource.model), verb, out)
        except ClientAuthenticationError:
            raise
        except HttpResponseError as error:
            raise _failed(plan, f"{resource.label} {resource.name} ({resource.type})", error) from None
        applied.append(change)
    address = clients.network.public_ip_addresses.get(plan.resource_group, f"{plan.site.name}-nat-ip").ip_address
    out(f"site {plan.site.name}: the client dials out from {address}; to admit only your sites, add {address}/32 to hub.fl_cidrs")
    return applied


@signed_in
def destroy(plan: SitePlan, clients: AzureClients, confirm: Callable[[str], bool], out: Callable[[str], None] = print) -> bool:
    """Delete the site's resource group (and only it). False when there was nothing to do or
    the user did not confirm."""
    state, _ = resource_group_state(plan, clients)
    if state == "missing":
        out(f"resource group {plan.resource_group} does not exist: nothing to destroy")
        return False
    if state == "foreign":
        raise AzureDeployError(
            f"resource group {plan.resource_group} was not created by flarectl for site {plan.site.name} "
            "(its tags flare-managed-by/flare-site do not say so); delete the site's resources in it by hand"
        )
    if not confirm(f"Delete resource group {plan.resource_group} and everything in it (site {plan.site.name})?"):
        out("nothing deleted")
        return False
    out(f"resource group {plan.resource_group}: deleting")
    try:
        _wait(clients.resources.resource_groups.begin_delete(plan.resource_group), "deleting", out)
    except HttpResponseError as error:
        raise _failed(plan, f"deleting resource group {plan.resource_group}", error) from None
    return True
