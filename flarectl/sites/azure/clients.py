"""The Azure SDK clients of one subscription, which the preflight and the deploy both use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient


@dataclass(frozen=True)
class AzureClients:
    resources: ResourceManagementClient
    network: NetworkManagementClient
    compute: ComputeManagementClient


def connect(subscription_id: str, credential: TokenCredential | None = None, **options: Any) -> AzureClients:
    """SDK clients for one subscription. Without `credential`, DefaultAzureCredential: `az login`,
    AZURE_* environment variables or a managed identity; never a file in the repository."""
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return AzureClients(
        resources=ResourceManagementClient(credential, subscription_id, **options),
        network=NetworkManagementClient(credential, subscription_id, **options),
        compute=ComputeManagementClient(credential, subscription_id, **options),
    )
