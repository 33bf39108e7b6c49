#!/usr/bin/env python3
"""GPU-seconds Slurm allocates to a Slurm site versus seconds spent training, in both modes,
from Slurm's own accounting records (sacct). Prints figures; asserts nothing.

Runs on the test suite's single-node Slurm 22.05 cluster on localhost (root, Slurm, munge,
slurmdbd and MariaDB from Debian) with a real FL server, the site's emitted files and a Lead's
numpy jobs whose trainer computes for --seconds-per-round in each round (a stand-in for GPU
work; there is no GPU here, the fake devices only let Slurm allocate one).

For each mode: a 3-round job, an idle gap of --gap seconds, then a 1-round job.
- allocation: one long client job holds the GPU from its start until it is cancelled.
- launcher: the parent holds no GPU; each FL job is its own Slurm job holding one.

Efficiency = seconds training / GPU-seconds allocated (goal for launcher mode: 0.9 or better).

Run: make bench-slurm   (or .venv/bin/python bench/slurm_gpu_hold.py [--seconds-per-round 30] [--gap 60])
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flarectl import lead  # noqa: E402
from tests.harness.hub_harness import Hub, wait_for  # noqa: E402
from tests.harness.jobs import numpy_job  # noqa: E402
from tests.harness.local import free_port  # noqa: E402
from tests.harness.provision import ADMIN, provision  # noqa: E402
from tests.harness.slurm_cluster import SlurmCluster  # noqa: E402
from tests.harness.slurm_site import FAKE_NVIDIA_SMI, REGISTERED, job_log, site_files, watchdog  # noqa: E402


@dataclass
class Held:
    """What one mode's run held, from sacct, and what it trained."""

    mode: str
    training_first: float  # the 3-round job's training seconds
    held_first: float  # GPU-seconds allocated while the 3-round job ran (submit to finished)
    held_gap: float  # GPU-seconds allocated between the two jobs
    gap: float
    training_total: float
    held_total: float  # every GPU-second Slurm allocated to the site during the run
    fl_slurm_jobs: int


def gpus_of(record: dict[str, str]) -> int:
    found = re.search(r"gres/gpu=(\d+)", record["AllocTRES"])
    return int(found.group(1)) if found else 0


def gpu_seconds(records: list[dict[str, str]], start: float, end: float) -> float:
    """GPU-seconds the records held inside [start, end] (Unix times; sacct has whole seconds)."""
    total = 0.0
    for record in records:
        began = datetime.fromisoformat(record["Start"]).timestamp()
        ended = datetime.fromisoformat(record["End"]).timestamp() if record["End"] not in ("Unknown", "None") else time.time()
        total += max(0.0, min(ended, end) - max(began, start)) * gpus_of(record)
    return total


def run_mode(mode: str, cluster: SlurmCluster, prod: Path, work: Path, env: dict[str, str], seconds: float, gap: float) -> Held:
    site = f"hpc-{mode}"
    fields: dict = {"time": "02:00:00"}
    if mode == "launcher":
        fields |= {"mode": "launcher", "partition": "gpu", "launcher_port": free_port(),
                   "parent": {"partition": "cpu", "cpus": 1, "memory": "300M"}}  # fmt: skip
    workdir = site_files(work / "sites", prod, site, **fields)
    if mode == "launcher":
        subprocess.run(["bash", str(workdir / "flare-launcher-prepare.sh")], env=env, check=True, capture_output=True)
    began = time.time()
    submitted = re.search(r"submitted job (\d+)", watchdog(workdir, env).stdout)
    assert submitted, "the watchdog submitted no job"
    site_job = submitted.group(1)
    wait_for(lambda: REGISTERED.format(site=site) in job_log(workdir, site_job), timeout=180, interval=0.5)
    windows: list[tuple[float, float]] = []
    for rounds in (3, 1):
        if windows:
            time.sleep(gap)
        start = time.time()
        job = numpy_job(work / f"{mode}-{rounds}-rounds", clients=1, rounds=rounds, seconds_per_round=seconds)
        lines: list[str] = []
        assert lead.submit(job, prod / ADMIN, timeout=600, say=lines.append) == 0, "\n".join(lines)
        windows.append((start, time.time()))
    subprocess.run(["scancel", site_job], env=cluster.env, check=True)
    ended = time.time()
    wait_for(lambda: not cluster.jobs(f"flare-{site}"), timeout=60)
    records = [r for r in cluster.accounting() if r["JobName"] == f"flare-{site}" or r["JobName"].startswith(f"nvfl-{site}-")]
    gpu_records = [r for r in records if gpus_of(r)]
    return Held(
        mode=mode,
        training_first=3 * seconds,
        held_first=gpu_seconds(gpu_records, *windows[0]),
        held_gap=gpu_seconds(gpu_records, windows[0][1], windows[1][0]),
        gap=windows[1][0] - windows[0][1],
        training_total=4 * seconds,
        held_total=gpu_seconds(gpu_records, began, ended + 60),
        fl_slurm_jobs=sum(r["JobName"].startswith("nvfl-") for r in records),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-round", type=float, default=30.0, help="the stand-in trainer's compute per round")
    parser.add_argument("--gap", type=float, default=60.0, help="idle seconds between the two jobs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    cluster = SlurmCluster(work / "slurm")
    cluster.root.mkdir()
    cluster.start()
    fl_port = free_port()
    (work / "provision").mkdir()
    prod = provision(work / "provision", project="bench", fl_port=fl_port, clients=["hpc-allocation", "hpc-launcher"])
    hub = Hub(work / "hub", {"PROJECT": "bench", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    fake = work / "bin"
    fake.mkdir()
    (fake / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (fake / "nvidia-smi").chmod(0o755)
    env = {**cluster.env, "PATH": f"{fake}:{cluster.env['PATH']}"}
    try:
        hub.serve(prod / "localhost")
        results = [run_mode(mode, cluster, prod, work, env, args.seconds_per_round, args.gap) for mode in ("allocation", "launcher")]
    finally:
        hub.stop_all()
        cluster.stop()
    print(f"Slurm GPU hold per site mode (Slurm 22.05 + slurmdbd on localhost; sacct records; 1 GPU per job; "
          f"{args.seconds_per_round:g} s of training per round)")  # fmt: skip
    for held in results:
        print(f"  {held.mode}:")
        print(f"    3-round job      training {held.training_first:7.1f} s   GPU-seconds allocated {held.held_first:7.1f}"
              f"   efficiency {held.training_first / held.held_first:5.2f}")  # fmt: skip
        print(f"    between jobs     idle     {held.gap:7.1f} s   GPU-seconds allocated {held.held_gap:7.1f}")
        print(f"    whole run        training {held.training_total:7.1f} s   GPU-seconds allocated {held.held_total:7.1f}"
              f"   efficiency {held.training_total / held.held_total:5.2f}   ({held.fl_slurm_jobs} FL Slurm jobs)")  # fmt: skip
    launcher = results[1]
    overhead = launcher.held_first - launcher.training_first
    print(f"  launcher overhead per FL job: {overhead:.1f} GPU-seconds (Slurm start, worker start, end-of-run); "
          f"efficiency reaches 0.9 once a job trains {9 * overhead:.0f} s or more")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
