"""A WSL laptop site's emitted flare-site.sh for real (this machine has no systemd as PID 1,
like WSL without systemd): setup checks the GPU and installs, start runs the supervised
client that registers with a real FL server, the supervisor restarts a client that dies,
status and stop work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flarectl.federation import Federation
from flarectl.sites.wsl import emit
from tests.harness.fake_nvidia_smi import fake_nvidia_smi
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.local import free_port
from tests.harness.provision import provision

REGISTERED = "Successfully registered client:laptop-1"


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fl_port = free_port()
    prod = provision(tmp_path_factory.mktemp("provision"), project="wslfed", fl_port=fl_port, clients=["laptop-1"])
    hub = Hub(tmp_path_factory.mktemp("hub"), {"PROJECT": "wslfed", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    hub.serve(prod / "localhost")
    workdir = tmp_path_factory.mktemp("wsl") / "laptop-1"
    site = {"name": "laptop-1", "kind": "wsl", "kit": str(prod / "laptop-1"), "workdir": str(workdir), "venv": sys.prefix,
            "gpus": 1, "gpu_memory_gib": 7}  # fmt: skip
    federation = Federation.model_validate({"project": "wslfed", "project_admin_email": "it@hospital.test", "sites": [site]})
    emit(federation.sites[0], federation, workdir)
    gpu = tmp_path_factory.mktemp("gpu")
    (gpu / "nvidia-smi").write_text(fake_nvidia_smi("RTX 4060 Laptop", 1))
    (gpu / "nvidia-smi").chmod(0o755)
    env = {**os.environ, "PATH": f"{gpu}:{os.environ['PATH']}", "CUDA_VISIBLE_DEVICES": "0"}
    yield {"workdir": workdir, "env": env, "prod": prod}
    subprocess.run(["bash", str(workdir / "flare-site.sh"), "stop"], env=env, capture_output=True, timeout=60)
    hub.stop_all()


def site(laptop: dict, command: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(laptop["workdir"] / "flare-site.sh"), command], env=env or laptop["env"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_setup_refuses_without_a_visible_gpu(laptop: dict) -> None:
    no_gpu = {**os.environ, "PATH": "/usr/bin:/bin"}
    result = site(laptop, "setup", env=no_gpu)
    assert result.returncode == 1
    assert "nvidia-smi finds no GPU. Install the NVIDIA Windows driver" in result.stderr


def test_setup_start_status_and_stop(laptop: dict) -> None:
    setup = site(laptop, "setup")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "RTX 4060" in setup.stdout and "supervised background process" in setup.stdout
    assert site(laptop, "status").returncode == 3
    started = site(laptop, "start")
    assert started.returncode == 0 and "started (pid" in started.stdout
    log = laptop["workdir"] / "client.log"
    wait_for(lambda: REGISTERED in log.read_text(), timeout=120, interval=0.5)
    assert "already running" in site(laptop, "start").stdout
    status = site(laptop, "status")
    assert status.returncode == 0 and "running (pid" in status.stdout


def test_supervisor_restarts_a_client_that_died(laptop: dict) -> None:
    log = laptop["workdir"] / "client.log"
    before = log.read_text().count(REGISTERED)
    clients = subprocess.run(["pgrep", "-f", "client_train.*laptop-1"], capture_output=True, text=True).stdout.split()
    assert clients
    for pid in clients:
        os.kill(int(pid), signal.SIGKILL)
    wait_for(lambda: "client exited" in log.read_text(), timeout=30)
    wait_for(lambda: log.read_text().count(REGISTERED) > before, timeout=120, interval=0.5)


def test_status_calls_a_client_that_keeps_exiting_failing(laptop: dict) -> None:
    """Two more exits within ten minutes (as the supervisor logs them) beside the real one above."""
    log = laptop["workdir"] / "client.log"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with log.open("a") as output:
        output.write("flare-client: cannot reach the hub (Error: connection refused)\n")
        for _ in range(2):
            output.write(f"flare-site: {now} client exited (status 1); restarting in 10 s\n")
    status = site(laptop, "status")
    assert status.returncode == 1
    assert status.stdout.strip() == (
        "flare-site: failing: the client exited 3 time(s) in the last 10 minutes; "
        "last error: flare-client: cannot reach the hub (Error: connection refused)"
    )


def test_stop_leaves_nothing_running(laptop: dict) -> None:
    stopped = site(laptop, "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    wait_for(lambda: subprocess.run(["pgrep", "-f", "client_train.*laptop-1"], capture_output=True).returncode == 1, timeout=30)
    assert site(laptop, "status").returncode == 3


def test_a_registration_the_gpu_cannot_hold_stops_the_client_and_status_says_why(laptop: dict, tmp_path: Path) -> None:
    """8 GiB registered on a laptop GPU that reports 8188 MiB: NVFlare would refuse it at every
    start, so the runtime says so once, the supervisor does not restart it, status says failing."""
    workdir = tmp_path / "laptop-1"
    site_entry = {"name": "laptop-1", "kind": "wsl", "kit": str(laptop["prod"] / "laptop-1"), "workdir": str(workdir),
                  "venv": sys.prefix, "gpus": 1, "gpu_memory_gib": 8}  # fmt: skip
    federation = Federation.model_validate({"project": "wslfed", "project_admin_email": "it@hospital.test", "sites": [site_entry]})
    emit(federation.sites[0], federation, workdir)
    run = {**laptop, "workdir": workdir}
    assert site(run, "setup").returncode == 0
    assert site(run, "start").returncode == 0
    log = workdir / "client.log"
    wait_for(lambda: "client cannot run here" in log.read_text(), timeout=120, interval=0.5)
    status = site(run, "status")
    assert status.returncode == 1
    assert status.stdout.strip() == (
        "flare-site: failing: the client cannot run on this machine; last error: flare-client: gpu_memory_gib 8 is more than "
        "nvidia-smi reports for a GPU here (8188 MiB); NVFlare would refuse to start: register at most 7.9 in the federation file"
    )
