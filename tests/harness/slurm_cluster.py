"""A single-node Slurm cluster on localhost for the tests (Debian 12's Slurm 22.05).

No systemd and no cgroups here: munged, slurmctld and slurmd run as background processes
with proctrack/linuxproc and task/none. The node has two fake GPUs (gres files -> /dev/null),
which is enough for Slurm to allocate it and set CUDA_VISIBLE_DEVICES. Accounting is real:
a private MariaDB (its own data folder and loopback port) behind slurmdbd, so `sacct` answers
the way NVFlare's Slurm job launcher needs and benchmarks read Slurm's own job records."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.harness.local import free_port

DAEMONS = ("munged", "slurmctld", "slurmd", "slurmdbd", "mariadbd", "mariadb-install-db", "sacctmgr")
PACKAGES = "Slurm, munge and MariaDB (Debian packages slurmctld slurmd slurmdbd slurm-client munge mariadb-server)"


def installed() -> bool:
    return all(shutil.which(name) for name in DAEMONS)


class SlurmCluster:
    def __init__(self, root: Path):
        self.root = root
        self.node = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.database_port = free_port()
        self.dbd_port = free_port()
        self.processes: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def write_config(self) -> None:
        for directory in ("state", "spool", "dev", "log", "mariadb"):
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
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={self.dbd_port}
AccountingStorageTRES=gres/gpu
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
MinJobAge=600
ReturnToService=2
KillWait=10
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory=2000 Gres=gpu:a40:2 State=UNKNOWN
PartitionName=gpu Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
PartitionName=cpu Nodes={self.node} MaxTime=INFINITE State=UP
""")
        (self.root / "gres.conf").write_text(f"NodeName={self.node} Name=gpu Type=a40 File={self.root}/dev/nvidia[0-1]\n")
        dbd = self.root / "slurmdbd.conf"
        dbd.write_text(f"""\
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={self.dbd_port}
SlurmUser=root
PidFile={self.root}/slurmdbd.pid
LogFile={self.root}/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.database_port}
StorageUser=root
StorageLoc=slurm_acct_db
""")
        dbd.chmod(0o600)  # slurmdbd refuses a config others can read (it may hold a password)

    def start(self) -> None:
        self.write_config()
        run = Path("/run/munge")
        run.mkdir(parents=True, exist_ok=True)
        shutil.chown(run, "munge", "munge")
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0:
            subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)
        try:
            self.start_accounting()
            self.daemon(["slurmctld", "-D", "-c", "-f", str(self.conf)])
            self.daemon(["slurmd", "-D", "-f", str(self.conf)])
            self.wait_until("the Slurm node to come up", lambda: self.slurm("sinfo", "-h", "-o", "%T") in ("idle", "mixed", "allocated"))
        except BaseException:
            self.stop()
            raise

    def start_accounting(self) -> None:
        """MariaDB with its own data folder, reachable only on a loopback port, then slurmdbd."""
        data = self.root / "mariadb"
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db"],
                       check=True, capture_output=True)  # fmt: skip
        self.daemon(["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={self.root}/mariadb.sock", f"--port={self.database_port}",
                     "--bind-address=127.0.0.1", "--user=root", "--skip-grant-tables", f"--pid-file={self.root}/mariadb.pid",
                     "--innodb-buffer-pool-size=16M"])  # fmt: skip
        self.wait_until("MariaDB to accept connections", lambda: port_open(self.database_port))
        self.daemon(["slurmdbd", "-D"])  # reads slurmdbd.conf beside $SLURM_CONF
        self.wait_until("slurmdbd to accept connections", lambda: port_open(self.dbd_port))
        added = subprocess.run(["sacctmgr", "-i", "add", "cluster", "flaretest"], env=self.env, capture_output=True, text=True)
        if added.returncode != 0 and "already exists" not in added.stdout + added.stderr:
            raise RuntimeError(f"sacctmgr could not add the cluster: {added.stdout}{added.stderr}")

    def daemon(self, command: list[str]) -> None:
        log = (self.root / "log" / f"{command[0]}.out").open("w")
        self.processes.append(subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT))

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if any(process.poll() is not None for process in self.processes):
                break
            time.sleep(0.3)
        raise RuntimeError(f"timed out waiting for {what} (or a daemon exited); see {self.root}/log")

    def slurm(self, *command: str) -> str:
        return subprocess.run(command, env=self.env, capture_output=True, text=True).stdout.strip()

    def stop(self) -> None:
        subprocess.run(["scancel", "--user", "root"], env=self.env, capture_output=True)
        # scancel only asks: let each job's slurmstepd finish before slurmd goes, or it is orphaned.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.slurm("squeue", "-h"):
            time.sleep(0.5)
        for process in reversed(self.processes):  # slurmd, slurmctld, slurmdbd, then MariaDB
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

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

    def accounting(self, *job_ids: str) -> list[dict[str, str]]:
        """Slurm's own records (sacct, allocations only) of these jobs, or of every job this
        cluster ran: id, name, partition, state, start, end, elapsed seconds and the TRES
        allocated (GPUs as gres/gpu=N)."""
        fields = ["JobIDRaw", "JobName", "Partition", "State", "Start", "End", "ElapsedRaw", "AllocTRES"]
        which = "--jobs=" + ",".join(job_ids) if job_ids else "--starttime=2000-01-01"
        output = self.slurm("sacct", "-X", "-n", "-P", "--format=" + ",".join(fields), which)
        return [dict(zip(fields, line.split("|"), strict=True)) for line in output.splitlines() if line]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
