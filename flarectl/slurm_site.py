"""What `cdk synth` emits for an on-prem Slurm site (cdk.out/sites/<site>/): the Org Admin
copies the folder to the site's workdir on the cluster; nothing is deployed."""

from __future__ import annotations

import shutil
from pathlib import Path

from flarectl.config import SBATCH_DIRECTIVE, Federation, SlurmSite
from flarectl.userdata import USERDATA_DIR, render_script, render_settings_file

SBATCH_MARKER = "# @SBATCH@"


def directives(site: SlurmSite) -> list[str]:
    chosen = [f"--job-name={site.job_name}"]
    chosen += [f"--{option}={value}" for option, value in (("partition", site.partition), ("account", site.account), ("qos", site.qos)) if value]
    chosen += [
        f"--time={site.time}",
        f"--gres={site.gres}" if site.gres else f"--gpus={site.gpus}",
        f"--cpus-per-task={site.cpus}",
        f"--mem={site.memory}",
        f"--signal=B:USR1@{site.handover_seconds}",
        f"--output={site.workdir}/%x-%j.out",
        "--open-mode=append",
        *site.extra_directives,
    ]
    for directive in chosen:  # the config validated each part; this guards the assembled line
        if not SBATCH_DIRECTIVE.fullmatch(directive):
            raise ValueError(f"unsafe #SBATCH option {directive!r}")
    return chosen


def job_script(site: SlurmSite) -> str:
    text = render_script("slurm/flare-client.sbatch", {"SITE_DIR": site.workdir, "JOB_NAME": site.job_name})
    return text.replace(SBATCH_MARKER, "\n".join(f"#SBATCH {d}" for d in directives(site)), 1)


def client_settings(site: SlurmSite, nvflare_version: str) -> str:
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
        about=f"NVFlare client settings for Slurm site {site.name}",
    )


def site_readme(site: SlurmSite) -> str:
    return f"""# Slurm site `{site.name}`

Generated from the federation file; nothing here is a secret. Everything runs as your own
user on the cluster; no root, no daemon.

1. Download this site's startup kit from the NVFlare dashboard and unzip it to
   `{site.kit}` (on the shared filesystem).
2. Copy this folder's files to `{site.workdir}/` on the login node.
3. Start the client once: `bash {site.workdir}/flare-watchdog.sh`
   (it submits `flare-client.sbatch` unless a job named `{site.job_name}` is queued or running).
4. Keep it running: add the line in `crontab.txt` with `crontab -e`.

Check: `squeue --me -n {site.job_name}`; logs: `{site.workdir}/{site.job_name}-<jobid>.out`
(the first lines show `nvidia-smi` and the client's start). Shortly before the wall-time
limit ({site.time}) the job submits its own successor and stops; the successor starts as
soon as it ends.

Stop: remove the crontab line, then `scancel --me -n {site.job_name}`.

The first job creates `{site.venv or site.workdir + "/venv"}` with NVFlare and the site's
requirements (`client.env`) unless it already has them, using `{site.python}` (Python 3.10
or newer).
"""


def emit(site: SlurmSite, federation: Federation, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "flare-client.sbatch": job_script(site),
        "flare-watchdog.sh": render_script("slurm/flare-watchdog.sh", {"SITE_DIR": site.workdir, "JOB_NAME": site.job_name}),
        "client.env": client_settings(site, federation.nvflare_version),
        "crontab.txt": f"*/10 * * * * /bin/bash {site.workdir}/flare-watchdog.sh >> {site.workdir}/watchdog.log 2>&1\n",
        "README.md": site_readme(site),
    }
    for name, text in files.items():
        (directory / name).write_text(text)
    shutil.copy(USERDATA_DIR / "client" / "flare-client.sh", directory / "flare-client.sh")
    return sorted(directory.iterdir())
