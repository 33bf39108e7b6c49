"""A Slurm site on the local cluster (slurm_cluster.py): its files emitted as `cdk synth` does,
the watchdog run as cron runs it, a job's log; and what a node with two A40s answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flarectl.federation import Federation
from flarectl.sites.slurm import emit
from tests.harness.fake_nvidia_smi import fake_nvidia_smi

REGISTERED = "Successfully registered client:{site}"
# Answers like nvidia-smi on a node with two A40s (what the table says an A40 reports).
FAKE_NVIDIA_SMI = fake_nvidia_smi("A40", 2)


def site_files(root: Path, prod: Path, name: str, **fields) -> Path:
    """Emit the site exactly as `cdk synth` does, straight into its workdir (one machine here)."""
    workdir = root / name
    site = {"name": name, "kind": "slurm", "kit": str(prod / name), "workdir": str(workdir), "venv": sys.prefix,
            "gres": "gpu:a40:1", "cpus": 1, "memory": "500M", "gpus": 1, "gpu_memory_gib": 40, **fields}  # fmt: skip
    federation = Federation.model_validate({"project": "slurmfed", "project_admin_email": "it@hospital.test", "sites": [site]})
    emit(federation.sites[0], federation, workdir)
    return workdir


def watchdog(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(workdir / "flare-watchdog.sh")], env=env, capture_output=True, text=True, timeout=60)


def job_log(workdir: Path, job_id: str) -> str:
    logs = list(workdir.glob(f"*-{job_id}.out"))
    return logs[0].read_text() if logs else ""
