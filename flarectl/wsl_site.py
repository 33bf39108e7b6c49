"""What `cdk synth` emits for a Windows/WSL laptop site (cdk.out/sites/<site>/)."""

from __future__ import annotations

import shutil
from pathlib import Path

from flarectl.config import Federation, WslSite
from flarectl.site_files import client_settings
from flarectl.userdata import USERDATA_DIR, render_script


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
"""


def emit(site: WslSite, federation: Federation, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "flare-site.sh": render_script("wsl/flare-site.sh", {"SITE_DIR": site.workdir, "SITE_NAME": site.name, "GPUS": str(site.gpus)}),
        "client.env": client_settings(site, federation.nvflare_version),
        "README.md": site_readme(site),
    }
    for name, text in files.items():
        (directory / name).write_text(text)
    shutil.copy(USERDATA_DIR / "client" / "flare-client.sh", directory / "flare-client.sh")
    shutil.copy(USERDATA_DIR / "wsl" / "check-windows.ps1", directory / "check-windows.ps1")
    return sorted(directory.iterdir())
