#!/usr/bin/env python3
"""GPU-seconds Slurm allocates to a Slurm site versus seconds spent training, for a 3-round
numpy job, from Slurm's own job records (jobcomp). Prints figures; asserts nothing.

Runs on a single-node Slurm cluster on localhost (the test suite's; needs root, Slurm and
munge from Debian) with a real FL server and the site's emitted job script.

- allocation mode (runs here): the client job holds its GPU from start to cancel, like the
  guide's always-on job; the figure below is for this short window, and a day-long job holds
  86,400 GPU-seconds per day whatever it trains.
- launcher mode: needs Slurm >= 23.02.3 with sacct; Debian 12 has 22.05, so it is not
  measured here (each FL job would hold a GPU only while it runs).

Run: make bench-slurm   (or .venv/bin/python bench/slurm_gpu_hold.py)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import free_port  # noqa: E402
from tests.integration.hub_harness import Hub, wait_for  # noqa: E402
from tests.integration.jobs import numpy_job  # noqa: E402
from tests.integration.provision import ADMIN, provision  # noqa: E402
from tests.integration.slurm_cluster import SlurmCluster  # noqa: E402
from tests.integration.test_slurm_site import job_log, site_files, watchdog  # noqa: E402


def jobcomp_record(cluster: SlurmCluster, job_id: str) -> dict[str, str]:
    for line in cluster.jobcomp.read_text().splitlines():
        if line.startswith(f"JobId={job_id} "):
            return dict(word.split("=", 1) for word in line.split() if "=" in word)
    raise RuntimeError(f"no jobcomp record for job {job_id}")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    cluster = SlurmCluster(work / "slurm")
    cluster.root.mkdir()
    cluster.start()
    fl_port = free_port()
    (work / "provision").mkdir()
    prod = provision(work / "provision", project="bench", fl_port=fl_port, clients=["hpc-1"])
    hub = Hub(work / "hub", {"PROJECT": "bench", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    shutil.copytree(prod / "localhost", hub.data / "kits" / "provisioned")
    (hub.data / "kits" / "current").symlink_to("provisioned")
    hub.systemctl("start", "flare-server.service")
    fake = work / "bin"
    fake.mkdir()
    (fake / "nvidia-smi").write_text(
        "#!/bin/sh\ncase \"$*\" in *index*) printf 'index\\n0\\n1\\n';; *memory.total*) printf 'memory.total [MiB]\\n49140 MiB\\n49140 MiB\\n';; *) echo GPU;; esac\n"
    )
    (fake / "nvidia-smi").chmod(0o755)
    env = {**cluster.env, "PATH": f"{fake}:{cluster.env['PATH']}"}
    try:
        workdir = site_files(work / "sites", prod, "hpc-1")
        submitted = re.search(r"submitted job (\d+)", watchdog(workdir, env).stdout)
        assert submitted, "the watchdog submitted no job"
        job_id = submitted.group(1)
        wait_for(lambda: "Successfully registered client:hpc-1" in job_log(workdir, job_id), timeout=120, interval=0.5)
        from nvflare.fuel.flare_api.flare_api import new_secure_session

        session = new_secure_session(ADMIN, str(prod / ADMIN), timeout=60)
        started = time.monotonic()
        fl_job = session.submit_job(str(numpy_job(work / "numpy-3-rounds", clients=1, rounds=3)))
        session.monitor_job(fl_job, timeout=300)
        training = time.monotonic() - started
        status = session.get_job_meta(fl_job)["status"]
        session.close()
        subprocess.run(["scancel", job_id], env=cluster.env, check=True)
        wait_for(lambda: cluster.jobcomp.exists() and f"JobId={job_id} " in cluster.jobcomp.read_text(), timeout=60)
        record = jobcomp_record(cluster, job_id)
        held = (datetime.fromisoformat(record["EndTime"]) - datetime.fromisoformat(record["StartTime"])).total_seconds()
        gpus = 1  # the site's gres: gpu:a40:1 (jobcomp's TRES lists GPUs only with slurmdbd)
        print("Slurm GPU hold for a 3-round numpy job (single-node Slurm 22.05, fake GPUs)")
        print(f"  FL job status               {status}")
        print(f"  seconds spent training      {training:8.1f} s (submit to finished, as the Lead sees it)")
        print(f"  allocation mode: GPU-seconds allocated {held * gpus:8.1f} ({gpus} GPU x {held:.1f} s, Slurm jobcomp StartTime..EndTime)")
        print(f"  allocation mode: allocated / training  {held * gpus / training:8.2f}x")
        print("  guide's always-on job (1 day): 86400.0 GPU-seconds per day, whatever it trains")
        print("  launcher mode: not measured (needs Slurm >= 23.02.3 with sacct; Debian 12 has 22.05)")
    finally:
        hub.stop_all()
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
