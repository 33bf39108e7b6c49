"""Azure GPU sites (`kind: azure`): Azure has no CDK, so `cdk synth` writes the ARM template of
what `flarectl azure deploy` creates, for review, and the CLI deploys with the Azure SDK.

model.py (the config), sizes.py (the GPU sizes it knows), plan.py (the resources as SDK models), custom_data.py (the VM's
cloud-config with the kit), template.py (the ARM template), files.py (what synth writes),
deploy.py (apply with the SDK), commands.py (`flarectl azure ...`). The Azure SDK is imported
only when an Azure site is synthesized or deployed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flarectl.sites.azure.commands import add_commands
from flarectl.sites.azure.model import AzureSite
from flarectl.sites.azure.sizes import location_problems, size_problems
from flarectl.sites.kind import SiteKind, synth_files

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings


def emit(site: AzureSite, federation: FederationSettings, directory: Path) -> list[Path]:
    from flarectl.sites.azure.files import emit as emit_files

    return emit_files(site, federation, directory)


def check(site: AzureSite, federation: FederationSettings) -> list[str]:
    return location_problems(site.location) + size_problems(site.vm_size, site.gpus, site.gpu_memory_gib) + _shared_group(site, federation)


def _shared_group(site: AzureSite, federation: FederationSettings) -> list[str]:
    """`flarectl azure destroy` deletes a site's resource group: two sites in one group (Azure's
    names ignore case) would destroy each other. Only sites in two named, different
    subscriptions are apart (an unnamed one is chosen at deploy, and may be the same)."""
    group = site.resource_group_for(federation.project).lower()
    for other in federation.sites:
        if other is site:
            return []
        if (
            isinstance(other, AzureSite)
            and other.resource_group_for(federation.project).lower() == group
            and (not other.subscription_id or not site.subscription_id or other.subscription_id.lower() == site.subscription_id.lower())
        ):
            return [
                f"resource_group: {site.resource_group_for(federation.project)!r} is also site {other.name}'s "
                "(Azure ignores case); each site needs a resource group of its own"
            ]
    return []


KIND = SiteKind(
    name="azure",
    model=AzureSite,
    minimal={"location": "eastus"},
    synth=synth_files(emit, "review; deploy with `flarectl azure deploy`"),
    emit=emit,
    check=check,
    add_commands=add_commands,
)
