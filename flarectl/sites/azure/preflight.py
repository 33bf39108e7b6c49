"""Checks `flarectl azure plan|deploy` makes through the SDK before anything is created: with
`encryption_at_host` (the default) the subscription has the EncryptionAtHost feature
registered, and the VM size supports it in the site's location, supports Trusted Launch, and is
offered there to this subscription. Each problem says exactly what to run or which setting to change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

if TYPE_CHECKING:
    from flarectl.sites.azure.clients import AzureClients
    from flarectl.sites.azure.plan import SitePlan

FEATURES_API = "2021-07-01"
REGISTER = "az feature register --namespace Microsoft.Compute --name EncryptionAtHost, then az provider register -n Microsoft.Compute"


def feature_state(clients: AzureClients, subscription_id: str) -> str:
    """Microsoft.Features' state of Microsoft.Compute/EncryptionAtHost (Registered, NotRegistered, Registering, ...)."""
    url = (
        f"https://management.azure.com/subscriptions/{subscription_id}/providers/Microsoft.Features/providers/"
        f"Microsoft.Compute/features/EncryptionAtHost?api-version={FEATURES_API}"
    )
    response = clients.resources.send_request(HttpRequest("GET", url))
    response.raise_for_status()  # a feature never registered is 200 "NotRegistered"; a 404 is a wrong subscription
    return str(response.json()["properties"]["state"])


def size_sku(clients: AzureClients, location: str, size: str) -> Any | None:
    for sku in clients.compute.resource_skus.list(filter=f"location eq '{location}'"):
        if sku.resource_type == "virtualMachines" and sku.name == size:
            return sku
    return None


def problems(plan: SitePlan, clients: AzureClients) -> list[str]:
    site = plan.site
    found: list[str] = []
    try:
        sku = size_sku(clients, site.location, site.vm_size)
        # A restriction of type Zone only rules out some zones (the VM names none); only a
        # Location restriction means the size is not offered here (ResourceSkuRestrictions).
        if sku is None or any(r.reason_code == "NotAvailableForSubscription" and r.type == "Location" for r in (sku.restrictions or [])):
            found.append(f"{site.vm_size} is not offered in {site.location} to subscription {plan.subscription_id}: "
                         f"choose another location or vm_size for site {site.name}, or ask Azure for access")  # fmt: skip
        capabilities = {c.name: c.value for c in (sku.capabilities or [])} if sku else {}
        if capabilities.get("TrustedLaunchDisabled") == "True":
            found.append(f"{site.vm_size} does not support Trusted Launch (Secure Boot, vTPM) in {site.location}, which every site VM "
                         f"uses: choose another vm_size for site {site.name}")  # fmt: skip
        if not site.encryption_at_host:
            return found
        state = feature_state(clients, plan.subscription_id)
        if state != "Registered":
            found.append(f"encryption at host is {state} in subscription {plan.subscription_id}: run {REGISTER} "
                         f"(once per subscription; it takes a few minutes), or set encryption_at_host: false for site {site.name}")  # fmt: skip
        if sku is not None and capabilities.get("EncryptionAtHostSupported") != "True":
            found.append(f"{site.vm_size} does not support encryption at host in {site.location}: "
                         f"choose a vm_size that does, or set encryption_at_host: false for site {site.name}")  # fmt: skip
    except (HttpResponseError, KeyError) as error:  # KeyError: an answer without the feature's state
        found.append(f"could not check the subscription's features and sizes ({str(error).splitlines()[0]})")
    return found
