"""On-prem Linux GPU servers and workstations not behind Slurm (`kind: linux`), common in
hospital labs: `cdk synth` emits flare-site.sh (setup/start/stop/status around the shared
client runtime, with a systemd unit that starts at boot, restarts always and waits for
nvidia-smi), client.env and a README to cdk.out/sites/<site>/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from flarectl.config.sites import FolderSite
from flarectl.host_scripts import render_script
from flarectl.sites.folder import doctor_help, needs_help, runtime_files
from flarectl.sites.kind import SiteKind, synth_files, write_files

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

GPU_HELP = "Install the NVIDIA driver (Ubuntu: sudo ubuntu-drivers install, then reboot) and run setup again"


class LinuxSite(FolderSite):
    """A Linux machine with NVIDIA GPUs that the Org Admin runs the client on directly."""

    hardware: ClassVar[str] = "a Linux GPU server"
    gpu_range: ClassVar[tuple[int, int]] = (0, 16)

    kind: Literal["linux"]

    def place(self, federation: FederationSettings) -> str:
        return f"Linux GPU server: {self.workdir}"


def site_readme(site: LinuxSite, federation: FederationSettings) -> str:
    return (
        f"""# Linux GPU site `{site.name}`

The NVFlare client runs on this machine as a systemd service that starts at boot, waits until
`nvidia-smi` answers (the driver can come up after the network), and restarts whenever it
exits. It needs Python 3.10 or newer with venv (`{site.python}`), and sudo for the unit.

1. Download this site's startup kit from the NVFlare dashboard and unzip it at `{site.kit}`.
2. Copy this folder to `{site.workdir}/` on the machine.
3. `cd {site.workdir} && bash flare-site.sh setup` (checks `nvidia-smi`, installs NVFlare
   {federation.nvflare_version} and the site's requirements into `{site.venv or site.workdir + "/venv"}`, installs the kit and the
   unit `flare-client-{site.name}.service`).
4. `bash flare-site.sh start`.

Status: `bash flare-site.sh status` (or `systemctl status flare-client-{site.name}`); log:
`journalctl -u flare-client-{site.name} -f`. Stop: `bash flare-site.sh stop`; to keep it from
starting at boot, `sudo systemctl disable flare-client-{site.name}`.
Without systemd (a container, say), start/stop use a supervised background process with
its log in `{site.workdir}/client.log`.
"""
        + doctor_help(site)
        + needs_help(site, federation, runs_on="this machine", user="the user who runs `bash flare-site.sh setup`")
    )


def emit(site: LinuxSite, federation: FederationSettings, directory: Path) -> list[Path]:
    settings = {"SITE_DIR": site.workdir, "SITE_NAME": site.name, "GPUS": str(site.gpus), "PLATFORM": "linux", "GPU_HELP": GPU_HELP}
    files = {
        "flare-site.sh": render_script("client/flare-site.sh", settings),
        **runtime_files(site, federation),
        "README.md": site_readme(site, federation),
    }
    return write_files(directory, files)


KIND = SiteKind(name="linux", model=LinuxSite, synth=synth_files(emit, "the Linux GPU machine"), emit=emit)
