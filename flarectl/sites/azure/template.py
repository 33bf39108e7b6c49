"""The ARM template `cdk synth` writes for review: the site's plan with the custom data, its
hash and the SSH key as parameters, so the startup kit never lands in the file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flarectl.sites.azure.model import AzureSite
from flarectl.sites.azure.plan import plan_site

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

# Stand-ins in the template for what only a deploy knows.
TEMPLATE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
CUSTOM_DATA_PARAMETER = "[parameters('customData')]"
CUSTOM_DATA_SHA_PARAMETER = "[parameters('customDataSha256')]"
SSH_KEY_PARAMETER = "[parameters('adminSshPublicKey')]"


def arm_template(site: AzureSite, federation: FederationSettings) -> dict[str, Any]:
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
        entry: dict[str, Any] = {"type": resource.type, "apiVersion": resource.api_version, "name": resource.name}
        entry.update(_with_expressions(resource.body(), ids))
        if resource.depends_on:
            entry["dependsOn"] = [_resource_id_expression(type_, name) for type_, name in resource.depends_on]
        resources.append(entry)
    ssh_key: dict[str, Any] = {
        "type": "string",
        "metadata": {
            "description": "The admin user's SSH public key. Without sites[].ssh_public_key, flarectl makes a key pair and discards the private key: nobody can log in."
        },
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
                "metadata": {
                    "description": "gzip+base64 cloud-config with the startup kit (cloud-init.yaml next to this file shows it, kit left out)"
                },
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
