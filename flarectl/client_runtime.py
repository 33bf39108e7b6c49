"""The one owner of what a client host reads: the settings of the shared client runtime
(flarectl/hosts/client/flare-client.sh reads them from client.env) and where the runtime's pieces
live on the host. Every site kind renders its client.env here, the same way."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from flarectl.config.governance import Stance
from flarectl.config.sites import ClientSite, FolderSite
from flarectl.governance import authorization, compact, privacy
from flarectl.host_scripts import render_settings_file

UV_VERSION = "0.13.8"  # installs the sites' venvs (pip when it cannot be had); the Leads' too
RUNTIME_FILES = (
    "flare-client.sh",
    "flare-doctor.py",
    "startup_kit.py",  # the doctor's reading of the kit (a link to ../common/startup_kit.py)
    "venv-install.sh",  # the pinned uv, else pip (a link to ../common/venv-install.sh)
    "flare-client.service",
    "install-service.sh",
)  # flarectl/hosts/client/, shipped to cloud VMs


@dataclass(frozen=True)
class HostLayout:
    """Paths on the client host."""

    site_root: str  # the installed kit, job workspaces
    settings_file: str  # client.env
    runtime_dir: str  # flare-client.sh (and, on cloud VMs, the unit and its installer)
    kit_source: str  # the startup kit as delivered: a folder or a zip
    venv: str  # NVFlare and the site's requirements
    python: str = "python3"  # makes the venv
    # managed: the runtime owns the venv, one per NVFlare version beside `venv` (a link to the
    # current one), so an upgrade switches when ready and a rollback installs nothing. Not for
    # a venv the site names itself (`venv:`), which is upgraded in place.
    managed_venv: bool = True

    def under(self, root: str) -> HostLayout:
        """The same layout below `root` (a test sandbox)."""
        paths = [f.name for f in dataclasses.fields(self) if f.name not in ("python", "managed_venv")]
        return dataclasses.replace(self, **{name: root + getattr(self, name) for name in paths})


# Cloud VMs (AWS, Azure): the deploy delivers a bundle (the runtime and the kit) to
# /opt/nvflare-client/bundle; the client runs as the `nvflare` user from flare-client.service,
# whose ExecStart names runtime_dir and settings_file (a test keeps them in step).
CLOUD_INSTALL_ROOT = "/opt/nvflare-client"
CLOUD_BUNDLE = f"{CLOUD_INSTALL_ROOT}/bundle"


def cloud_layout(kit: str) -> HostLayout:
    """`kit`: the startup kit's name inside the bundle (a folder or a zip)."""
    return HostLayout(
        site_root="/var/lib/nvflare-client",
        settings_file="/etc/nvflare-client/client.env",
        runtime_dir=f"{CLOUD_BUNDLE}/runtime",
        kit_source=f"{CLOUD_BUNDLE}/{kit}",
        venv=f"{CLOUD_INSTALL_ROOT}/venv",
    )


def folder_layout(site: FolderSite) -> HostLayout:
    """Sites whose Org Admin copies the emitted folder to `workdir` (Slurm, WSL, Linux)."""
    return HostLayout(
        site_root=site.workdir,
        settings_file=f"{site.workdir}/client.env",
        runtime_dir=site.workdir,
        kit_source=site.kit,
        venv=site.venv or f"{site.workdir}/venv",
        python=site.python,
        managed_venv=site.venv is None,
    )


def client_settings(site: ClientSite, nvflare_version: str, layout: HostLayout, stance: Stance) -> dict[str, str]:
    """`stance`: the site's governance (FederationSettings.governance.site(name))."""
    return {
        "SITE_NAME": site.name,
        "NVFLARE_VERSION": nvflare_version,
        "REQUIREMENTS": "\n".join(site.requirements),  # one per line: the runtime installs them from a file
        "GPUS": str(site.gpus),
        "GPU_MEMORY_GIB": exact(site.gpu_memory_gib),
        "SITE_ROOT": layout.site_root,
        "KIT_SOURCE": layout.kit_source,
        "VENV": layout.venv,
        "VENV_MANAGED": "true" if layout.managed_venv else "false",
        "PYTHON": layout.python,
        "UV_VERSION": UV_VERSION,
        # NVFlare's local/authorization.json and local/privacy.json (empty: none), one line each.
        "AUTHORIZATION_JSON": compact(authorization(stance)),
        "PRIVACY_JSON": compact(privacy(stance)),
    }


def exact(value: float) -> str:
    """A number as short as it can be written and still read back the same (`:g` alone would
    round 22.48828125, an A10G's usable GiB, up to 22.4883, which NVFlare then refuses)."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def client_env(site: ClientSite, nvflare_version: str, layout: HostLayout, stance: Stance) -> str:
    """client.env: what the shared runtime reads on the host."""
    return render_settings_file(
        client_settings(site, nvflare_version, layout, stance), about=f"NVFlare client settings for {site.kind} site {site.name}"
    )
