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

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings


def site_readme(site: AzureSite, federation: FederationSettings) -> str:
    group = site.resource_group_for(federation.project)
    ssh = (
        f"SSH is open on port 22 from {site.ssh_cidr} only, for `{site.admin_user}` with your key."
        if site.ssh_cidr
        else "Nothing can connect to the VM: no inbound rules, no public IP on the VM. Use `az vm run-command invoke` for a shell command."
    )
    return f"""# Azure GPU site `{site.name}`

`flarectl azure deploy {site.name} -c {federation.source_file}` creates, in resource group `{group}` ({site.location}):
a NAT gateway with a static public IP (the only way out), a network security group with no
inbound rules, a virtual network, a NIC and a `{site.vm_size}` VM (Ubuntu 24.04, SSH key only,
encryption at host, Trusted Launch with Secure Boot and vTPM). On first boot, cloud-init
installs Canonical's signed NVIDIA driver from Ubuntu's archive (`ubuntu-drivers install
--gpgpu`), then NVFlare {federation.nvflare_version} and the site's startup kit through the shared
client runtime, and starts `flare-client.service`, which starts again at every boot.

Files here, for review:
- `azure-template.json`: the ARM template of exactly those resources. The VM's custom data
  (which carries the startup kit) is a secure parameter, so the kit is not in the file.
- `cloud-init.yaml`: the VM's custom data with the kit left out.

Steps for the Org Admin:
1. Register the site on the dashboard, download its startup kit, unzip it at `{site.kit or "sites[].kit"}`.
2. `az login` (or set AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET).
3. `flarectl azure plan {site.name} -c {federation.source_file}` shows what would be created or changed
   (`-c`: the federation file this folder was made from; ask the Project Admin for it).
4. `flarectl azure deploy {site.name} -c {federation.source_file}`; run it again any time: it changes only what differs.
5. `flarectl azure destroy {site.name} -c {federation.source_file}` deletes resource group `{group}` (it asks first).

Does it connect? Before deploying: `flarectl site doctor --kit {site.kit or "KIT"}`. On the VM:
`az vm run-command invoke -g {group} -n {site.name}-vm --command-id RunShellScript --scripts
"bash {HOST.runtime_dir}/flare-client.sh {HOST.settings_file} doctor"` (exit 0 ok, 1 cannot
connect, 2 connects but jobs would fail).

{ssh}
"""


def emit(site: AzureSite, federation: FederationSettings, directory: Path) -> list[Path]:
    files = {
        "azure-template.json": json.dumps(arm_template(site, federation), indent=2) + "\n",
        "cloud-init.yaml": cloud_config(site, federation, kit=None),
        "README.md": site_readme(site, federation),
    }
    return write_files(directory, files)
