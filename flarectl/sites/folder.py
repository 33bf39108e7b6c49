"""What every folder kind (Slurm, WSL, Linux) emits the same way: the shared client runtime
and its settings for the site's workdir."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flarectl.client_runtime import client_env, folder_layout
from flarectl.config.sites import FolderSite
from flarectl.host_scripts import HOSTS_DIR

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings


def runtime_files(site: FolderSite, federation: FederationSettings) -> dict[str, str]:
    """flare-client.sh and its doctor as they are, and its client.env for this site."""
    return {
        "flare-client.sh": (HOSTS_DIR / "client" / "flare-client.sh").read_text(),
        "flare-doctor.py": (HOSTS_DIR / "client" / "flare-doctor.py").read_text(),
        "startup_kit.py": (HOSTS_DIR / "client" / "startup_kit.py").read_text(),
        "venv-install.sh": (HOSTS_DIR / "client" / "venv-install.sh").read_text(),
        "client.env": client_env(site, federation.nvflare_version, folder_layout(site), federation.governance.site(site.name)),
    }


def doctor_help(site: FolderSite) -> str:
    """The README paragraph on the site doctor, for the kinds run with flare-site.sh (Linux, WSL)."""
    return f"""Does it connect? `bash flare-site.sh doctor` checks the kit, the server name, the FL port, the
TLS handshake against the kit's root CA, the clock, the GPUs, NVFlare and the disk, and says
how to fix each problem (exit 0 ok, 1 cannot connect, 2 connects but jobs would fail). Before
setup, from any machine with flarectl: `flarectl site doctor --kit {site.kit}`.
"""


def needs_help(site: FolderSite, federation: FederationSettings, *, runs_on: str, user: str) -> str:
    """The README paragraph on what the Org Admin needs: the files, the network, the user."""
    server = (
        f"{federation.dns.server_name}:{federation.hub.fl_port}" if federation.dns else f"the hub's address, port {federation.hub.fl_port}"
    )
    return f"""
What you need:
- This folder: the Project Admin's `make synth` writes it, or make it yourself with flarectl
  (`pip install <the flarectl wheel the Project Admin shares>`, then
  `flarectl site-files {site.name} -c {federation.source_file} -o DIR` with the federation file
  `{federation.source_file}` the Project Admin gives you).
- The site's startup kit at `{site.kit}` (`flarectl kit install <zip> --to {site.kit}`).
- Network, from {runs_on}: outbound TCP to the FL server, {server} (nothing connects in), and
  HTTPS to the Python package index while NVFlare and the requirements are installed.
- User: {user} runs the client and owns `{site.workdir}` (with the kit and the venv); the
  kit's private key is readable by that user only.
"""
