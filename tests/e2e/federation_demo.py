"""A whole federation on this machine, each participant started by its platform's own wrapper
around the shared client runtime, and the Leads' starter job (examples/tabular-fedavg)
submitted by a Lead; then the same job on NVFlare's own `nvflare poc`, for comparison. `make demo` runs it with readable progress;
tests/e2e/test_federation.py runs it as a test, without the comparison (a figure, not a behaviour).

- hub: the FL server from the hub's own flare-server.service command
- AWS site: the command of flare-client.service (the AWS site's systemd unit)
- Azure site: the VM's custom data as `flarectl azure deploy` sends it, unpacked as cloud-init
  would; its runtime installs the kit from it and flare-client.service's command runs it
- Slurm site: the emitted watchdog and job script, on a single-node Slurm cluster on localhost
- Linux site: the emitted flare-site.sh setup + start (no systemd as PID 1 here: supervised)
- WSL site: the emitted flare-site.sh setup + start
Needs root, Slurm and munge (the Debian packages in .ci/debian-packages.txt). No GPU: a fake
nvidia-smi answers NVFlare's queries.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flarectl import lead  # noqa: E402
from flarectl.client_runtime import HostLayout, client_env  # noqa: E402
from flarectl.config.governance import Stance  # noqa: E402
from flarectl.federation import Federation  # noqa: E402
from flarectl.host_scripts import HOSTS_DIR  # noqa: E402
from flarectl.sites import linux as linux_site  # noqa: E402
from flarectl.sites import slurm as slurm_site  # noqa: E402
from flarectl.sites import wsl as wsl_site  # noqa: E402
from flarectl.sites.azure import custom_data as azure_plan  # noqa: E402
from tests.harness.hub_harness import Hub, unit_directives, wait_for  # noqa: E402
from tests.harness.jobs import starter_job  # noqa: E402
from tests.harness.local import free_port  # noqa: E402
from tests.harness.provision import ADMIN, provision  # noqa: E402
from tests.harness.sandbox import unpack_custom_data  # noqa: E402
from tests.harness.slurm_cluster import SlurmCluster  # noqa: E402

SITES = ("aws-site", "azure-site", "slurm-site", "linux-site", "wsl-site")
FAKE_NVIDIA_SMI = """#!/bin/sh
case "$*" in
  *--query-gpu=index*) printf 'index\\n0\\n1\\n' ;;
  *--query-gpu=memory.total*) printf 'memory.total [MiB]\\n8188 MiB\\n8188 MiB\\n' ;;
  *) echo "GPU ${CUDA_VISIBLE_DEVICES:-0}: NVIDIA fake GPU for the demo" ;;
esac
"""


@dataclass
class Report:
    wall_seconds: float = 0.0
    peak_mib: float = 0.0
    status: str = ""
    trained: dict[str, bool] = field(default_factory=dict)
    poc_wall_seconds: float = 0.0
    poc_peak_mib: float = 0.0
    poc_status: str = ""


class PeakMemory:
    """Sums the resident memory of every NVFlare process (server, clients, job processes)."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for process in psutil.process_iter(["cmdline", "memory_info"]):
                cmdline = " ".join(process.info["cmdline"] or [])
                if "nvflare" in cmdline or "train.py" in cmdline or "flare-client" in cmdline:
                    total += process.info["memory_info"].rss if process.info["memory_info"] else 0
            self.peak = max(self.peak, total / 2**20)
            self._stop.wait(0.5)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def unit_command(unit: Path, runtime: Path, settings_file: Path) -> list[str]:
    """A cloud site's flare-client.service ExecStart, with its host paths mapped here."""
    argv = shlex.split(unit_directives(unit)["ExecStart"][0])
    mapping = {"/opt/nvflare-client/bundle/runtime/flare-client.sh": str(runtime), "/etc/nvflare-client/client.env": str(settings_file)}
    return [mapping.get(word, word) for word in argv]


def our_federation(work: Path, say, cleanups: list) -> tuple[str, dict[str, bool]]:
    fake = work / "gpu"
    fake.mkdir()
    (fake / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (fake / "nvidia-smi").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    site_common = {"venv": sys.prefix, "gpus": 1, "gpu_memory_gib": 7}

    say(f"provisioning the federation (nvflare provision): server, {len(SITES)} sites, a lead")
    fl_port = free_port()
    (work / "provision").mkdir()
    prod = provision(work / "provision", project="demo", fl_port=fl_port, clients=list(SITES))

    say("hub: starting the FL server with the hub's flare-server.service command")
    hub = Hub(work / "hub", {"PROJECT": "demo", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    cleanups.append(hub.stop_all)
    hub.serve(prod / "localhost")

    say("AWS site: installing with flare-client.sh, running flare-client.service's command")
    aws = work / "aws-site"
    aws.mkdir()
    settings = aws / "client.env"
    aws_federation = Federation.model_validate({"project": "demo", "project_admin_email": "it@hospital.test", "sites": [
        {"name": "aws-site", "kind": "aws", "gpus": 1, "gpu_memory_gib": 7}]})  # fmt: skip
    here = HostLayout(site_root=str(aws), settings_file=str(settings), runtime_dir=str(HOSTS_DIR / "client"),
                      kit_source=str(prod / "aws-site"), venv=sys.prefix, managed_venv=False)  # this venv, used in place  # fmt: skip
    settings.write_text(client_env(aws_federation.sites[0], "2.9.0", here, Stance.of()))
    subprocess.run(
        ["bash", str(HOSTS_DIR / "client" / "flare-client.sh"), str(settings), "install"], env=env, check=True, capture_output=True
    )
    unit = HOSTS_DIR / "client" / "flare-client.service"
    aws_client = subprocess.Popen(unit_command(unit, HOSTS_DIR / "client" / "flare-client.sh", settings), env={**env, "CUDA_VISIBLE_DEVICES": "0"},
                                  stdout=(aws / "client.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    cleanups.append(lambda: stop_process(aws_client))

    say(
        "Azure site: the VM's custom data unpacked as cloud-init would; its runtime installs the kit, flare-client.service's command runs it"
    )
    azure = work / "azure-site"
    azure_federation = Federation.model_validate({"project": "demo", "project_admin_email": "it@hospital.test", "sites": [
        {"name": "azure-site", "kind": "azure", "location": "eastus", "kit": str(prod / "azure-site"), "gpus": 1, "gpu_memory_gib": 7}]})  # fmt: skip
    custom_data, _ = azure_plan.custom_data_for_deploy(azure_federation.sites[0], azure_federation)
    unpack_custom_data(custom_data, azure)
    runtime = azure / "opt" / "nvflare-client" / "bundle" / "runtime"
    azure_settings = azure / "etc" / "nvflare-client" / "client.env"
    with azure_settings.open("a") as settings_file:  # this venv already has NVFlare: no pip install from PyPI
        settings_file.write(f"VENV={sys.prefix}\nVENV_MANAGED=false\n")  # used in place, never moved
    subprocess.run(["bash", str(runtime / "flare-client.sh"), str(azure_settings), "install"], env=env, check=True, capture_output=True)
    azure_client = subprocess.Popen(unit_command(runtime / "flare-client.service", runtime / "flare-client.sh", azure_settings),
                                    env={**env, "CUDA_VISIBLE_DEVICES": "0"}, stdout=(work / "azure-client.log").open("w"),
                                    stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    cleanups.append(lambda: stop_process(azure_client))

    say("Slurm site: starting a single-node Slurm cluster, submitting with the emitted watchdog")
    cluster = SlurmCluster(work / "slurm")
    cluster.root.mkdir()
    cluster.start()
    cleanups.append(cluster.stop)
    federation = Federation.model_validate({"project": "demo", "project_admin_email": "it@hospital.test", "sites": [
        {"name": "slurm-site", "kind": "slurm", "kit": str(prod / "slurm-site"), "workdir": str(work / "slurm-site"),
         "gres": "gpu:a40:1", "cpus": 1, "memory": "500M", **site_common},
        {"name": "wsl-site", "kind": "wsl", "kit": str(prod / "wsl-site"), "workdir": str(work / "wsl-site"), **site_common},
        {"name": "linux-site", "kind": "linux", "kit": str(prod / "linux-site"), "workdir": str(work / "linux-site"), **site_common},
    ]})  # fmt: skip
    slurm_site.emit(federation.sites[0], federation, work / "slurm-site")
    submitted = subprocess.run(["bash", str(work / "slurm-site" / "flare-watchdog.sh")], env={**env, **cluster.env, "PATH": env["PATH"]},
                               capture_output=True, text=True, check=True)  # fmt: skip
    say("  " + submitted.stdout.strip().splitlines()[-1])

    say("WSL site: flare-site.sh setup, then start")
    wsl_site.emit(federation.sites[1], federation, work / "wsl-site")
    wsl_env = {**env, "CUDA_VISIBLE_DEVICES": "0"}
    subprocess.run(["bash", str(work / "wsl-site" / "flare-site.sh"), "setup"], env=wsl_env, check=True, capture_output=True)
    subprocess.run(["bash", str(work / "wsl-site" / "flare-site.sh"), "start"], env=wsl_env, check=True, capture_output=True)
    cleanups.append(lambda: subprocess.run(["bash", str(work / "wsl-site" / "flare-site.sh"), "stop"], env=wsl_env, capture_output=True))

    say("Linux site: flare-site.sh setup, then start")
    linux_site.emit(federation.sites[2], federation, work / "linux-site")
    subprocess.run(["bash", str(work / "linux-site" / "flare-site.sh"), "setup"], env=wsl_env, check=True, capture_output=True)
    subprocess.run(["bash", str(work / "linux-site" / "flare-site.sh"), "start"], env=wsl_env, check=True, capture_output=True)
    cleanups.append(lambda: subprocess.run(["bash", str(work / "linux-site" / "flare-site.sh"), "stop"], env=wsl_env, capture_output=True))

    kit = prod / ADMIN
    session = lead.session_for(kit, timeout=60)
    try:
        wait_for(lambda: {c.name for c in session.get_system_info().client_info} >= set(SITES), timeout=180, interval=1)
    finally:
        session.close()
    say(f"all {len(SITES)} sites connected; the Lead submits the starter job, 5 rounds of FedAvg (flarectl submit)")
    job = starter_job(work / "tabular-fedavg", clients=len(SITES))
    lines: list[str] = []
    code = lead.submit(job, kit, timeout=600, say=lambda line: (lines.append(line), say("  " + line)))
    job_id = re.search(r"as job (\S+)", lines[0]).group(1)
    workspaces = {"aws-site": aws / "kit", "azure-site": azure / "var" / "lib" / "nvflare-client" / "kit",
                  "slurm-site": work / "slurm-site" / "kit", "wsl-site": work / "wsl-site" / "kit",
                  "linux-site": work / "linux-site" / "kit"}  # fmt: skip
    trained = {site: any(path.glob(f"{job_id}*")) for site, path in workspaces.items()}
    return ("FINISHED:COMPLETED" if code == 0 else lines[-1]), trained


def stop_process(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


def poc_federation(work: Path, say) -> str:
    home = work / "poc-home"
    home.mkdir()
    # The CLI writes ~/.nvflare; `poc start` runs `python3` from PATH: it must be this venv's.
    env = {**os.environ, "HOME": str(home), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    nvflare = str(Path(sys.executable).parent / "nvflare")
    say(f"nvflare poc: prepare -n {len(SITES)}, start")
    subprocess.run([nvflare, "poc", "prepare", "-n", str(len(SITES)), "--force"], env=env, check=True, capture_output=True)
    subprocess.run([nvflare, "poc", "start"], env=env, check=True, capture_output=True, timeout=120)
    try:
        job = starter_job(work / "poc-tabular-fedavg", clients=len(SITES))
        code = lead.submit(job, lead.find_kit(None, poc=True), timeout=600, say=lambda line: say("  " + line))
        return "FINISHED:COMPLETED" if code == 0 else "failed"
    finally:
        subprocess.run([nvflare, "poc", "stop"], env=env, capture_output=True, timeout=120)
        wait_for(lambda: not poc_processes(), timeout=60, interval=1)
        subprocess.run([nvflare, "poc", "clean"], env=env, capture_output=True, timeout=60)


def poc_processes() -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline"]) if "/tmp/nvflare/poc/" in " ".join(p.info["cmdline"] or [])]


def run(say=print, *, compare_with_poc: bool = True) -> Report:
    """Our federation; then, for the figures (`make demo`), the same job on `nvflare poc`."""
    report = Report()
    work = Path(tempfile.mkdtemp(prefix="flare-demo-"))
    started = time.monotonic()
    cleanups: list = []
    with PeakMemory() as memory:
        try:
            report.status, report.trained = our_federation(work, say, cleanups)
        finally:
            say("shutting everything down")
            for cleanup in reversed(cleanups):
                cleanup()
    report.wall_seconds, report.peak_mib = time.monotonic() - started, memory.peak
    say(f"this project: {report.status} in {report.wall_seconds:.1f} s, peak {report.peak_mib:.0f} MiB "
        f"(server + {len(SITES)} clients + jobs; includes starting Slurm); trained: {report.trained}")  # fmt: skip
    if not compare_with_poc:
        return report
    started = time.monotonic()
    with PeakMemory() as memory:
        report.poc_status = poc_federation(work, say)
    report.poc_wall_seconds, report.poc_peak_mib = time.monotonic() - started, memory.peak
    say(
        f"nvflare poc:  {report.poc_status} in {report.poc_wall_seconds:.1f} s, peak {report.poc_peak_mib:.0f} MiB (server + {len(SITES)} clients + jobs)"
    )
    return report


if __name__ == "__main__":
    result = run()
    sys.exit(0 if result.status == "FINISHED:COMPLETED" and all(result.trained.values()) else 1)
