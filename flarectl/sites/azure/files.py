"""What `cdk synth` emits for an Azure GPU site (cdk.out/sites/<site>/): the ARM template of
what `flarectl azure deploy` creates, the VM's cloud-config without the kit, and a README."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from flarectl.sites.azure.custom_data import HOST, cloud_config
from flarectl.sites.azure.model import AzureSite
from flarectl.sites.azure.template import arm_template
from flarectl.sites.kind import write_files
from flarectl.sites.readme import render_readme

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings


def site_readme(site: AzureSite, federation: FederationSettings) -> str:
    group = site.resource_group_for(federation.project)
    ssh = (
        f"SSH is open on port 22 from {site.ssh_cidr} only, for `{site.admin_user}` with your key."
        if site.ssh_cidr
        else "Nothing can connect to the VM: no inbound rules, no public IP on the VM. Use `az vm run-command invoke` for a shell command."
    )
    values = {"name": site.name, "source_file": federation.source_file, "group": group, "location": site.location,
              "vm_size": site.vm_size, "nvflare_version": federation.nvflare_version, "kit": site.kit or "sites[].kit",
              "kit_for_doctor": site.kit or "KIT", "runtime_dir": HOST.runtime_dir, "settings_file": HOST.settings_file, "ssh": ssh}  # fmt: skip
    return render_readme(Path(__file__).parent / "README.md", **values)


def emit(site: AzureSite, federation: FederationSettings, directory: Path) -> list[Path]:
    files = {
        "azure-template.json": json.dumps(arm_template(site, federation), indent=2) + "\n",
        "cloud-init.yaml": cloud_config(site, federation, kit=None),
        "README.md": site_readme(site, federation),
    }
    return write_files(directory, files)
