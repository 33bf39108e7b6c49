"""A Linux GPU site's emitted flare-site.sh for real, on the systemd path: setup installs the
client and writes its unit (recorders stand in for sudo, systemctl and `ps` reporting systemd
as PID 1, since this machine has none); the unit passes `systemd-analyze verify`; and the
unit's own ExecStart, run as systemd would, starts a client that registers with a real FL
server after waiting for nvidia-smi."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flarectl.federation import Federation
from flarectl.sites.linux import emit
from tests.conftest import needs
from tests.harness.fake_nvidia_smi import fake_nvidia_smi
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.local import free_port
from tests.harness.provision import provision

REGISTERED = "Successfully registered client:path-lab"
# The driver comes up late: nvidia-smi fails until the counter file says it was called once;
# then it answers as an L4 does (tests/harness/fake_nvidia_smi.py).
FAKE_NVIDIA_SMI = """n=$(cat "{bin}/n" 2>/dev/null || echo 0); echo $((n+1)) >"{bin}/n"
[ "$n" -ge 1 ] || exit 9
exec "{bin}/nvidia-smi-l4" "$@"
"""


def stub(directory: Path, name: str, body: str) -> None:
    (directory / name).write_text(f"#!/bin/bash\n{body}\n")
    (directory / name).chmod(0o755)


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fl_port = free_port()
    prod = provision(tmp_path_factory.mktemp("provision"), project="linuxfed", fl_port=fl_port, clients=["path-lab"])
    hub = Hub(tmp_path_factory.mktemp("hub"), {"PROJECT": "linuxfed", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    hub.serve(prod / "localhost")
    root = tmp_path_factory.mktemp("root")
    (root / "etc/systemd/system").mkdir(parents=True)
    workdir = root / "srv" / "path-lab"
    site = {"name": "path-lab", "kind": "linux", "kit": str(prod / "path-lab"), "workdir": str(workdir), "venv": sys.prefix,
            "gpus": 1, "gpu_memory_gib": 22}  # fmt: skip
    federation = Federation.model_validate({"project": "linuxfed", "project_admin_email": "it@hospital.test", "sites": [site]})
    emit(federation.sites[0], federation, workdir)
    bin_dir = tmp_path_factory.mktemp("bin")
    log = bin_dir / "calls.log"
    stub(bin_dir, "ps", 'if [ "$*" = "-p 1 -o comm=" ]; then echo systemd; else exec /bin/ps "$@"; fi')
    stub(bin_dir, "sudo", 'exec "$@"')
    stub(bin_dir, "systemctl", f'echo "systemctl $*" >>"{log}"')
    stub(bin_dir, "nvidia-smi", FAKE_NVIDIA_SMI.format(bin=bin_dir))
    (bin_dir / "nvidia-smi-l4").write_text(fake_nvidia_smi("L4", 1))
    (bin_dir / "nvidia-smi-l4").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FLARE_ROOT": str(root), "CUDA_VISIBLE_DEVICES": "0"}
    yield {"root": root, "workdir": workdir, "env": env, "log": log, "bin": bin_dir}
    subprocess.run(["pkill", "-f", "client_train.*path-lab"], capture_output=True)
    hub.stop_all()


def unit_text(machine: dict) -> str:
    return (machine["root"] / "etc/systemd/system/flare-client-path-lab.service").read_text()


def test_setup_installs_the_client_and_its_unit(machine: dict) -> None:
    (machine["bin"] / "n").write_text("1")  # setup checks the GPU once; it must answer
    command = ["bash", str(machine["workdir"] / "flare-site.sh"), "setup"]
    result = subprocess.run(command, env=machine["env"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (machine["workdir"] / "kit" / "startup" / "fed_client.json").exists()
    assert machine["log"].read_text().splitlines() == ["systemctl daemon-reload", "systemctl enable flare-client-path-lab.service"]
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    workdir = machine["workdir"]
    # The whole unit: exit 3 (a registration NVFlare refuses) is not restarted into a loop.
    assert unit_text(machine) == (
        "[Unit]\nDescription=NVFlare client path-lab (linux)\nAfter=network-online.target\nWants=network-online.target\n\n"
        f"[Service]\nUser={user}\nExecStart=/bin/bash {workdir}/flare-client.sh {workdir}/client.env run\n"
        "Restart=always\nRestartSec=30\nRestartPreventExitStatus=3\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    assert "WSL" not in result.stdout + result.stderr  # a Linux site is told nothing about WSL
    assert "installed flare-client-path-lab.service; it starts at boot. Start it now: bash flare-site.sh start" in result.stdout
    root = "warning: setup runs as root, so the client and its jobs will run as root"
    assert (root in result.stdout) == (os.geteuid() == 0)


def test_the_doctor_finds_the_site_ready(machine: dict) -> None:
    (machine["bin"] / "n").write_text("1")
    command = ["bash", str(machine["workdir"] / "flare-site.sh"), "doctor"]
    result = subprocess.run(command, env=machine["env"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "  ok       gpus         1 GPU(s) (NVIDIA L4), 23034 MiB or more each (the site may register up to 22.4 GiB; it registered 22)"
        in result.stdout
    )
    assert result.stdout.rstrip().endswith("Result: all checks passed.")


def test_the_unit_passes_systemd_analyze(machine: dict, tmp_path: Path) -> None:
    needs(shutil.which("systemd-analyze") is not None, "systemd-analyze (Debian package 'systemd')")
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "bin").mkdir()
    shutil.copy("/bin/bash", root / "bin" / "bash")
    (root / "etc/systemd/system/flare-client-path-lab.service").write_text(unit_text(machine))
    command = ["systemd-analyze", "verify", f"--root={root}", "/etc/systemd/system/flare-client-path-lab.service"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_the_units_command_waits_for_the_gpu_then_registers(machine: dict) -> None:
    command = re.search(r"^ExecStart=(.*)$", unit_text(machine), re.M)
    assert command
    (machine["bin"] / "n").write_text("0")  # the driver is not up yet
    output = machine["workdir"] / "unit.log"
    with output.open("w") as log:
        client = subprocess.Popen(
            command.group(1).split(), env={**machine["env"], "GPU_WAIT_SECONDS": "1"}, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: REGISTERED in output.read_text(), timeout=120, interval=0.5)
        text = output.read_text()
        assert text.index("waiting for the NVIDIA driver") < text.index("GPUs: GPU 0: NVIDIA L4") < text.index(REGISTERED)
    finally:
        client.terminate()
        client.wait(timeout=30)
