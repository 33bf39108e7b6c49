"""A single-node Slurm cluster on localhost for the tests (Debian 12's Slurm 22.05).

No systemd and no cgroups here: munged, slurmctld and slurmd run as background processes
with proctrack/linuxproc and task/none. The node has two fake GPUs (gres files -> /dev/null),
which is enough for Slurm to allocate it and set CUDA_VISIBLE_DEVICES. Finished jobs are
recorded by jobcomp/filetxt (no slurmdbd, so no sacct)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.integration.conftest import free_port


class SlurmCluster:
    def __init__(self, root: Path):
        self.root = root
        self.node = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.jobcomp = root / "jobcomp.txt"
        self.processes: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def write_config(self) -> None:
        for directory in ("state", "spool", "dev", "log"):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        gpus = [self.root / "dev" / f"nvidia{index}" for index in range(2)]
        for gpu in gpus:
            if not gpu.exists():
                gpu.symlink_to("/dev/null")
        self.conf.write_text(f"""\
ClusterName=flaretest
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
SlurmUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
GresTypes=gpu
StateSaveLocation={self.root}/state
SlurmdSpoolDir={self.root}/spool
SlurmctldPidFile={self.root}/slurmctld.pid
SlurmdPidFile={self.root}/slurmd.pid
SlurmctldLogFile={self.root}/log/slurmctld.log
SlurmdLogFile={self.root}/log/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
MinJobAge=600
ReturnToService=2
KillWait=10
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory=2000 Gres=gpu:a40:2 State=UNKNOWN
PartitionName=gpu Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        (self.root / "gres.conf").write_text(f"NodeName={self.node} Name=gpu Type=a40 File={self.root}/dev/nvidia[0-1]\n")

    def start(self) -> None:
        self.write_config()
        run = Path("/run/munge")
        run.mkdir(parents=True, exist_ok=True)
        shutil.chown(run, "munge", "munge")
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0:
            subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)
        for daemon in (["slurmctld", "-D", "-c", "-f", str(self.conf)], ["slurmd", "-D", "-f", str(self.conf)]):
            log = (self.root / "log" / f"{daemon[0]}.out").open("w")
            self.processes.append(subprocess.Popen(daemon, env=self.env, stdout=log, stderr=subprocess.STDOUT))
            time.sleep(0.5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True).stdout.strip()
            if state in ("idle", "mixed", "allocated"):
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the Slurm node did not come up (state {state!r}); see {self.root}/log")

    def stop(self) -> None:
        subprocess.run(["scancel", "--user", "root"], env=self.env, capture_output=True)
        # scancel only asks: let each job's slurmstepd finish before slurmd goes, or it is orphaned.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and subprocess.run(["squeue", "-h"], env=self.env, capture_output=True, text=True).stdout.strip():
            time.sleep(0.5)
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def sbatch(self, *args: str, cwd: Path | None = None) -> str:
        result = subprocess.run(["sbatch", "--parsable", *args], env=self.env, capture_output=True, text=True, cwd=cwd, check=True)
        return result.stdout.strip().split(";")[0]

    def job_state(self, job_id: str) -> str:
        result = subprocess.run(["scontrol", "show", "job", job_id], env=self.env, capture_output=True, text=True)
        for word in result.stdout.split():
            if word.startswith("JobState="):
                return word.split("=", 1)[1]
        return "GONE"

    def jobs(self, name: str) -> list[tuple[str, str]]:
        """(job id, state) of this user's jobs with `name`, as squeue sees them."""
        result = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i %T"], env=self.env, capture_output=True, text=True)
        return [tuple(line.split()) for line in result.stdout.splitlines() if line.strip()]
