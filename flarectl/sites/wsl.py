"""Windows laptops with an NVIDIA GPU (`kind: wsl`): the client runs inside WSL 2 (Ubuntu).
`cdk synth` emits the laptop's files to cdk.out/sites/<site>/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from flarectl.config.sites import FolderSite
from flarectl.host_scripts import HOSTS_DIR, render_script
from flarectl.sites.folder import doctor_help, needs_help, runtime_files
from flarectl.sites.kind import SiteKind, synth_files, write_files

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

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
    return f"""# Laptop site `{site.name}` (Windows + WSL 2)

NVFlare runs on Linux only, so the client runs inside WSL 2 (Ubuntu) and uses the laptop's
NVIDIA GPU through the Windows driver.

1. In Windows PowerShell, check the Windows side:
   `powershell -ExecutionPolicy Bypass -File check-windows.ps1`
   (WSL installed, a WSL 2 distribution, an NVIDIA GPU with its driver; it says how to fix each).
2. Download this site's startup kit from the NVFlare dashboard and unzip it inside WSL at
   `{site.kit}`.
3. Copy this folder to `{site.workdir}/` inside WSL (from Windows: `\\\\wsl$\\Ubuntu{site.workdir}`).
4. In WSL: `cd {site.workdir} && bash flare-site.sh setup` (checks `nvidia-smi`, installs NVFlare
   and the kit), then `bash flare-site.sh start`.

Status: `bash flare-site.sh status`. Stop: `bash flare-site.sh stop`.
With systemd enabled in WSL (`/etc/wsl.conf`: `[boot]` `systemd=true`) the client is a
systemd unit that starts with WSL; otherwise it is a supervised background process that
restarts the client if it exits, with its log in `{site.workdir}/client.log`; start it again
after Windows restarts.
""" + doctor_help(site)


def emit(site: WslSite, federation: FederationSettings, directory: Path) -> list[Path]:
    settings = {"SITE_DIR": site.workdir, "SITE_NAME": site.name, "GPUS": str(site.gpus), "PLATFORM": "wsl", "GPU_HELP": GPU_HELP}
    files = {
        "flare-site.sh": render_script("client/flare-site.sh", settings),
        **runtime_files(site, federation),
        "check-windows.ps1": (HOSTS_DIR / "wsl" / "check-windows.ps1").read_text(),
        "README.md": site_readme(site)
        + needs_help(
            site, federation, runs_on="the laptop (WSL shares Windows' network)", user="the WSL user who runs `bash flare-site.sh setup`"
        ),
    }
    return write_files(directory, files)


KIND = SiteKind(name="wsl", model=WslSite, synth=synth_files(emit, "the laptop's WSL"), emit=emit)
