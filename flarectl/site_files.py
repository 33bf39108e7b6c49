"""Settings of the shared client runtime for sites that run it from a folder of files
(Slurm clusters, WSL laptops): the same client.env shape for every such site kind."""

from __future__ import annotations

from flarectl.config import FolderSite
from flarectl.userdata import render_settings_file


def client_settings(site: FolderSite, nvflare_version: str) -> str:
    return render_settings_file(
        {
            "SITE_NAME": site.name,
            "NVFLARE_VERSION": nvflare_version,
            "REQUIREMENTS": " ".join(site.requirements),
            "GPUS": str(site.gpus),
            "GPU_MEMORY_GIB": f"{site.gpu_memory_gib:g}",
            "SITE_ROOT": site.workdir,
            "KIT_SOURCE": site.kit,
            "VENV": site.venv or f"{site.workdir}/venv",
            "PYTHON": site.python,
        },
        about=f"NVFlare client settings for {site.kind} site {site.name}",
    )
