"""A Slurm site on a real single-node Slurm cluster (Debian 12's Slurm 22.05) on localhost:
the emitted job script, watchdog and settings, unchanged, run a real NVFlare client that
connects to a real FL server, trains a numpy job, and hands over to its successor before
the wall-time limit."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from flarectl.config.federation import Federation
from flarectl.sites.slurm import emit
from tests.conftest import needs
from tests.integration.conftest import free_port
from tests.integration.hub_harness import Hub, wait_for
from tests.integration.jobs import numpy_job
from tests.integration.provision import ADMIN, provision
from tests.integration.slurm_cluster import SlurmCluster

FIGURES: dict[str, float] = {}
REGISTERED = "Successfully registered client:{site}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    needs(shutil.which("slurmctld") is not None and shutil.which("munged") is not None,
          "Slurm and munge (Debian packages slurmctld slurmd slurm-client munge)")  # fmt: skip
    needs(os.geteuid() == 0, "root, to start munged and the Slurm daemons")
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    cluster.start()
    yield cluster
    cluster.stop()
    if FIGURES:
        print("\nslurm figures: " + ", ".join(f"{k} {v:.1f} s" for k, v in FIGURES.items()))


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fl_port = free_port()
    prod = provision(tmp_path_factory.mktemp("provision"), project="slurmfed", fl_port=fl_port, clients=["hpc-1", "hpc-2"])
    hub = Hub(tmp_path_factory.mktemp("hub"), {"PROJECT": "slurmfed", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    hub.serve(prod / "localhost")
    yield {"prod": prod, "hub": hub}
    hub.stop_all()


def site_files(root: Path, prod: Path, name: str, **fields) -> Path:
    """Emit the site exactly as `cdk synth` does, straight into its workdir (one machine here)."""
    workdir = root / name
    site = {"name": name, "kind": "slurm", "kit": str(prod / name), "workdir": str(workdir), "venv": sys.prefix,
            "gres": "gpu:a40:1", "cpus": 1, "memory": "500M", "gpus": 1, "gpu_memory_gib": 40, **fields}  # fmt: skip
    federation = Federation.model_validate({"project": "slurmfed", "project_admin_email": "it@hospital.test", "sites": [site]})
    emit(federation.sites[0], federation, workdir)
    return workdir


@pytest.fixture(scope="module")
def submit_env(cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The login node's environment: Slurm's config, and an nvidia-smi for the fake GPUs."""
    fake = tmp_path_factory.mktemp("bin")
    # Answers like nvidia-smi on a node with two 48 GiB GPUs (NVFlare queries index and memory).
    (fake / "nvidia-smi").write_text("""#!/bin/sh
case "$*" in
  *--query-gpu=name,memory.total*) echo "NVIDIA A40, 49140" ;;  # the site doctor; a job sees its one GPU
  *--query-gpu=index*) printf 'index\\n0\\n1\\n' ;;
  *--query-gpu=memory.total*) printf 'memory.total [MiB]\\n49140 MiB\\n49140 MiB\\n' ;;
  *) echo "GPU ${CUDA_VISIBLE_DEVICES:-?}: NVIDIA A40 (fake device for tests)" ;;
esac
""")
    (fake / "nvidia-smi").chmod(0o755)
    return {**cluster.env, "PATH": f"{fake}:{os.environ['PATH']}"}


def watchdog(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(workdir / "flare-watchdog.sh")], env=env, capture_output=True, text=True, timeout=60)


def job_log(workdir: Path, job_id: str) -> str:
    logs = list(workdir.glob(f"*-{job_id}.out"))
    return logs[0].read_text() if logs else ""


def test_job_runs_the_client_and_a_numpy_job_completes(cluster, federation, submit_env, tmp_path_factory) -> None:
    workdir = site_files(tmp_path_factory.mktemp("sites"), federation["prod"], "hpc-1")
    started = time.monotonic()
    result = watchdog(workdir, submit_env)
    assert result.returncode == 0, result.stdout + result.stderr
    job_id = re.search(r"submitted job (\d+)", result.stdout).group(1)
    wait_for(lambda: REGISTERED.format(site="hpc-1") in job_log(workdir, job_id), timeout=120, interval=0.5)
    FIGURES["submit to client registered"] = time.monotonic() - started
    log = job_log(workdir, job_id)
    assert "with CUDA_VISIBLE_DEVICES=0" in log or "with CUDA_VISIBLE_DEVICES=1" in log
    assert log.index("NVIDIA A40 (fake device for tests)") < log.index("starting client hpc-1")
    doctor = log[log.index("Site doctor for hpc-1") : log.index("starting client hpc-1")]
    assert "  ok       gpus         1 GPU(s) (NVIDIA A40), 48.0 GiB or more each" in doctor
    assert "Result: all checks passed." in doctor

    from nvflare.fuel.flare_api.flare_api import new_secure_session

    session = new_secure_session(ADMIN, str(federation["prod"] / ADMIN), timeout=60)
    try:
        job = session.submit_job(str(numpy_job(tmp_path_factory.mktemp("job") / "numpy-on-slurm", clients=1)))
        session.monitor_job(job, timeout=300)
        assert session.get_job_meta(job)["status"] == "FINISHED:COMPLETED"
    finally:
        session.close()
    assert list((workdir / "kit").glob(f"{job}*")), "the Slurm client ran no part of the job"
    federation["hpc-1"] = (workdir, job_id)


def test_watchdog_resubmits_exactly_one_job_and_then_waits(cluster, federation, submit_env) -> None:
    workdir, job_id = federation["hpc-1"]
    again = watchdog(workdir, submit_env)
    assert again.returncode == 0 and "already queued or running" in again.stdout
    assert [j for j, _ in cluster.jobs("flare-hpc-1")] == [job_id]
    subprocess.run(["scancel", job_id], env=cluster.env, check=True)
    wait_for(lambda: cluster.jobs("flare-hpc-1") == [], timeout=60)
    first = watchdog(workdir, submit_env)
    assert first.returncode == 0 and "no job was queued or running; submitted job" in first.stdout
    second = watchdog(workdir, submit_env)
    assert second.returncode == 0 and "already queued or running" in second.stdout
    assert len(cluster.jobs("flare-hpc-1")) == 1
    subprocess.run(["scancel", "--name", "flare-hpc-1"], env=cluster.env, check=True)


def test_job_hands_over_to_its_successor_before_the_wall_time_limit(cluster, federation, submit_env, tmp_path_factory) -> None:
    workdir = site_files(tmp_path_factory.mktemp("sites"), federation["prod"], "hpc-2", time="2", handover_seconds=60)
    result = watchdog(workdir, submit_env)
    first = re.search(r"submitted job (\d+)", result.stdout).group(1)
    wait_for(lambda: REGISTERED.format(site="hpc-2") in job_log(workdir, first), timeout=120, interval=0.5)
    # ~60 s before the 2-minute limit the job gets USR1, submits its successor and stops.
    wait_for(lambda: "successor job" in job_log(workdir, first), timeout=150, interval=1)
    successor = re.search(r"successor job (\d+) submitted", job_log(workdir, first)).group(1)
    wait_for(lambda: REGISTERED.format(site="hpc-2") in job_log(workdir, successor), timeout=120, interval=0.5)
    assert cluster.job_state(first) in ("COMPLETED", "CANCELLED", "GONE")  # ended by itself, not at the limit
    stopped = timestamp(job_log(workdir, first), "stopping the client")
    registered = timestamp(job_log(workdir, successor), REGISTERED.format(site="hpc-2"))
    FIGURES["wall-time hand-over gap (client stop to re-registered)"] = (registered - stopped).total_seconds()
    assert (registered - stopped).total_seconds() < 60
    subprocess.run(["scancel", "--name", "flare-hpc-2"], env=cluster.env, check=True)


def timestamp(log: str, marker: str) -> datetime:
    line = next(line for line in log.splitlines() if marker in line)
    if line[:4].isdigit() and line[10] == "T":  # our own log lines: 2026-11-30T03:20:08Z
        return datetime.strptime(line[:20], "%Y-%m-%dT%H:%M:%SZ")
    return datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")  # NVFlare's: 2026-11-30 03:20:08,643


def test_launcher_mode_config_is_accepted_by_nvflare_deploy_prepare(federation, tmp_path_factory) -> None:
    """Slurm 22.05 here is older than the launcher needs (23.02.3 + sacct): prepare is real,
    running FL jobs through the launcher is not verified here."""
    workdir = site_files(tmp_path_factory.mktemp("sites"), federation["prod"], "hpc-1", mode="launcher", partition="gpu", time="08:00:00")
    assert not (workdir / "flare-client.sbatch").exists()
    result = subprocess.run(["bash", str(workdir / "flare-launcher-prepare.sh")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    prepared = workdir / "prepared"
    parent = (prepared / "startup" / "parent.slurm").read_text()
    assert "#SBATCH --partition=gpu\n" in parent and "#SBATCH --time=08:00:00\n" in parent
    assert (prepared / "startup" / "start_slurm.sh").exists()
    resources = (prepared / "local" / "resources.json.default").read_text()
    assert "slurm" in resources.lower() and f'"python_path": "{sys.prefix}/bin/python"' in resources
    watchdog_script = (workdir / "flare-watchdog.sh").read_text()
    assert f"readonly JOB_SCRIPT={workdir}/prepared/startup/parent.slurm" in watchdog_script
