"""What `make synth` hands the researchers (Leads) in cdk.out/lead/: the one-command
environment (setup-lead.sh; the Makefile puts the flarectl wheel beside it), a README with
the federation's dashboard, where the admin kit goes and how to submit, and the starter job."""

from __future__ import annotations

import shutil
from pathlib import Path

from flarectl.client_runtime import UV_VERSION
from flarectl.config.federation import FederationSettings
from flarectl.host_scripts import render_script

PYTHON_VERSION = "3.11"  # the Leads' Python: one that NVFlare 2.7 to 2.9 support
STARTER_JOB = "tabular-fedavg"


def lead_home(federation: FederationSettings) -> str:
    return f"~/.local/flare-{federation.project}"


def lead_readme(federation: FederationSettings) -> str:
    dashboard = f"https://{federation.dns.dashboard_name}" if federation.dns else "https://<the hub's address, from your Project Admin>"
    venv = f"{lead_home(federation)}/venv"
    return f"""# Researchers (Leads) of federation `{federation.project}`

You submit training jobs to the federation and download their results; you never log in to
the hub or to a site. Everything here runs on your own machine: Linux, a Mac, or Windows
inside WSL 2 (Ubuntu).

## 1. Your environment, in one command

From this folder (it needs `python3` once, to install uv, and the Python package index):

```bash
bash setup-lead.sh
```

It installs Python {PYTHON_VERSION} (uv uses one this machine has; without one, it downloads
a Python build from its own release mirror besides PyPI), `flarectl` for Leads and NVFlare
{federation.nvflare_version}, the version the whole federation runs, into `{venv}`, and
activates it in every new login shell (bash and zsh, the Mac's default).

## 2. Your account and admin kit

Sign up on the dashboard, {dashboard}, as a Lead of your organization. Once the Project
Admin has approved you, log in, download your admin startup kit ("FLARE Console") and note
its PIN. Then, with the environment active:

```bash
flarectl kit install ~/Downloads/<your email>.zip    # asks for the PIN; never put it on the command line
```

It unpacks the kit into `~/.nvflare/{federation.project}/<your email>/`, where `flarectl`
looks, with the private key readable only by you.

## 3. The starter job

A FedAvg job on a synthetic tabular data set that each site makes for itself. Copy it,
submit it, and download its result (the global model, `server.npy`) and logs:

```bash
source {venv}/bin/activate
cp -r examples/{STARTER_JOB} my-study
flarectl submit my-study
flarectl jobs --state finished
flarectl download <JOB_ID> -o results
```

`<JOB_ID>` is the id `flarectl submit` printed. Then change `my-study/app/custom/train.py`
to load your site's data, and `min_clients` in `meta.conf` and
`app/config/config_fed_server.conf` to the number of sites that must take part.

Also: `flarectl status` (the server and connected sites), `flarectl abort <JOB_ID>`.
Exit codes: 0 done, 1 the job failed or left nothing to download, 2 a mistake to fix (the
message says which).
"""


def write_lead_kit(federation: FederationSettings, directory: Path, examples: Path) -> list[Path]:
    """README.md, setup-lead.sh and examples/ into `directory` (the wheel comes from the Makefile)."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = {
        "PROJECT": federation.project,
        "NVFLARE_VERSION": federation.nvflare_version,
        "PYTHON_VERSION": PYTHON_VERSION,
        "UV_VERSION": UV_VERSION,
    }
    written = []
    for name, text in (("README.md", lead_readme(federation)), ("setup-lead.sh", render_script("lead/setup-lead.sh", settings))):
        (directory / name).write_text(text, encoding="utf-8")
        written.append(directory / name)
    (directory / "setup-lead.sh").chmod(0o755)
    target = directory / "examples" / STARTER_JOB
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(examples / STARTER_JOB, target, ignore=shutil.ignore_patterns("__pycache__"))
    written.append(target)
    return written
