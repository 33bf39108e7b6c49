"""Windows laptops with an NVIDIA GPU (`kind: wsl`): the client runs inside WSL 2 (Ubuntu).
`cdk synth` emits the laptop's files to cdk.out/sites/<site>/."""

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

HOST = Path(__file__).parent / "host"  # this kind's own host files

GPU_HELP = (
    "Install the NVIDIA Windows driver (it includes WSL support), run check-windows.ps1 in PowerShell, then 'wsl --shutdown' and try again"
)


class WslSite(FolderSite):
    """A Windows laptop with an NVIDIA GPU, running the client inside WSL 2 (Ubuntu)."""

    hardware: ClassVar[str] = "a laptop site"
    gpu_range: ClassVar[tuple[int, int]] = (0, 8)

    kind: Literal["wsl"]

    def place(self, federation: FederationSettings) -> str:
        return f"Windows laptop, WSL 2: {self.workdir}"


def site_readme(site: WslSite) -> str:
    # Explorer's address for the folder: a UNC path, backslashes throughout.
    from_windows = "\\\\wsl$\\Ubuntu" + site.workdir.replace("/", "\\")
    return render_readme(
        HOST.parent / "README.md", name=site.name, kit=site.kit, workdir=site.workdir, from_windows=from_windows
    ) + doctor_help(site)


def emit(site: WslSite, federation: FederationSettings, directory: Path) -> list[Path]:
    settings = {"SITE_DIR": site.workdir, "SITE_NAME": site.name, "GPUS": str(site.gpus), "PLATFORM": "wsl", "GPU_HELP": GPU_HELP}
    files = {
        "flare-site.sh": render_script("client/flare-site.sh", settings),
        **runtime_files(site, federation),
        "check-windows.ps1": (HOST / "check-windows.ps1").read_text(),
        "README.md": site_readme(site)
        + needs_help(
            site, federation, runs_on="the laptop (WSL shares Windows' network)", user="the WSL user who runs `bash flare-site.sh setup`"
        ),
    }
    return write_files(directory, files)


KIND = SiteKind(
    name="wsl",
    model=WslSite,
    minimal={"kit": "/home/ann/kits/lab", "workdir": "/home/ann/lab"},
    synth=synth_files(emit, "the laptop's WSL"),
    emit=emit,
)
