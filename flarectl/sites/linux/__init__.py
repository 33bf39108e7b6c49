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
from flarectl.sites.readme import render_readme

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
    values = {"name": site.name, "python": site.python, "kit": site.kit, "workdir": site.workdir,
              "nvflare_version": federation.nvflare_version, "venv": site.venv or site.workdir + "/venv"}  # fmt: skip
    return (
        render_readme(Path(__file__).parent / "README.md", **values)
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


KIND = SiteKind(
    name="linux",
    model=LinuxSite,
    minimal={"kit": "/srv/kits/lab", "workdir": "/srv/lab"},
    synth=synth_files(emit, "the Linux GPU machine"),
    emit=emit,
)
