"""An Azure VM's first boot, for real in a sandbox: the custom data `flarectl azure deploy`
sends (decoded as cloud-init would: write_files), then the bootstrap it runs. Recorders stand
in for apt, ubuntu-drivers, modprobe, useradd, chown, venv creation, pip and systemctl; the
startup kit is a real provisioned one. Cloud-init itself and a real GPU are not here."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from flarectl.federation import Federation
from flarectl.host_scripts import HOSTS_DIR
from flarectl.sites.azure import custom_data as azure_custom_data
from tests.harness.provision import provision
from tests.harness.sandbox import HostSandbox, unpack_custom_data

DRIVER_COMMANDS = ("apt-get", "ubuntu-drivers", "modprobe")
SERVICE_COMMANDS = ("useradd", "chown", "python3 -m venv", "systemctl")


class AzureVm(HostSandbox):
    """The sandbox after cloud-init's write_files: the custom data's files under host/, with the
    paths in client.env pointed there too."""

    def __init__(self, root: Path, custom_data: str, gpu_answers: bool):
        super().__init__(root, {})
        self.cloud_config = unpack_custom_data(custom_data, self.host)
        for name in ("ubuntu-drivers", "modprobe"):
            stub = self.bin / name
            stub.write_text(f'#!/bin/sh\necho "{name} $*" >>"$RECORDER_LOG"\n')
            stub.chmod(0o755)
        (self.bin / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: Tesla T4'\n" if gpu_answers else "#!/bin/sh\nexit 9\n")
        (self.bin / "nvidia-smi").chmod(0o755)

    def first_boot(self) -> tuple[int, str, list[str]]:
        (command,) = self.cloud_config["runcmd"]
        script = self.host / command[1].lstrip("/")
        result, calls = self.run_script(script.read_text())
        return result.returncode, result.stdout + result.stderr, calls


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return provision(tmp_path_factory.mktemp("provision"), project="azurebootstrap", fl_port=8002, clients=["az-site"]) / "az-site"


def boot(root: Path, kit: Path, gpu_answers: bool) -> tuple[AzureVm, int, str, list[str]]:
    federation = Federation.model_validate({"project": "p", "project_admin_email": "it@hospital.test", "sites": [
        {"name": "az-site", "kind": "azure", "location": "eastus", "kit": str(kit), "gpus": 1, "gpu_memory_gib": 15},
    ]})  # fmt: skip
    custom_data, _ = azure_custom_data.custom_data_for_deploy(federation.sites[0], federation)  # type: ignore[arg-type]
    vm = AzureVm(root, custom_data, gpu_answers)
    return (vm, *vm.first_boot())


def test_first_boot_installs_the_driver_then_the_client_service(tmp_path: Path, kit: Path) -> None:
    vm, code, output, calls = boot(tmp_path, kit, gpu_answers=False)
    assert code == 0, output
    driver = [c for c in calls if c.startswith(DRIVER_COMMANDS)]
    branch = azure_custom_data.NVIDIA_DRIVER_BRANCH
    assert driver == [  # Canonical's signed driver, before the client (no extension racing cloud-init's apt)
        "apt-get install -y -q --no-install-recommends ubuntu-drivers-common",
        f"ubuntu-drivers install --gpgpu nvidia:{branch}",
        f"apt-get install -y -q --no-install-recommends nvidia-utils-{branch}",
        "modprobe nvidia",
    ]
    assert calls.index(driver[-1]) < calls.index("systemctl restart flare-client.service")
    assert [c for c in calls if c.startswith(SERVICE_COMMANDS)] == [
        "useradd --system --home-dir /var/lib/nvflare-client --shell /usr/sbin/nologin nvflare",
        f"python3 -m venv {vm.host}/opt/nvflare-client/venv-2.9.0",  # the venv for this NVFlare version; venv links to it
        f"python3 -m venv {vm.host}/var/lib/nvflare-client/.uv",  # the pinned uv's own venv (the recorder's pip installs no uv: pip follows)
        f"chown -R nvflare:nvflare {vm.host}/var/lib/nvflare-client",
        "systemctl daemon-reload",
        "systemctl enable flare-client.service",
        "systemctl restart flare-client.service",
    ]
    installed = vm.host / "var" / "lib" / "nvflare-client" / "kit"
    assert (installed / "startup" / "fed_client.json").exists()
    assert (installed / "startup" / "client.key").stat().st_mode & 0o777 == 0o600
    manager = next(
        c for c in json.loads((installed / "local" / "resources.json").read_text())["components"] if c["id"] == "resource_manager"
    )
    assert (manager["args"]["num_of_gpus"], manager["args"]["mem_per_gpu_in_GiB"]) == (1, 15)
    unit = (vm.host / "etc" / "systemd" / "system" / "flare-client.service").read_text()
    assert unit == (HOSTS_DIR / "client" / "flare-client.service").read_text()
    assert "BEGIN" not in output and "PRIVATE KEY" not in output  # cloud-init logs what the bootstrap prints


def test_a_working_driver_is_left_alone(tmp_path: Path, kit: Path) -> None:
    _, code, output, calls = boot(tmp_path, kit, gpu_answers=True)
    assert code == 0, output
    assert not [c for c in calls if c.startswith(DRIVER_COMMANDS)]


def test_the_unit_runs_the_shared_runtime_with_the_custom_data_settings(tmp_path: Path, kit: Path) -> None:
    vm, code, output, _ = boot(tmp_path, kit, gpu_answers=True)
    assert code == 0, output
    exec_start = next(
        line for line in (HOSTS_DIR / "client" / "flare-client.service").read_text().splitlines() if line.startswith("ExecStart=")
    )
    _, script, settings, command = shlex.split(exec_start.removeprefix("ExecStart="))
    assert (vm.host / script.lstrip("/")).read_text() == (HOSTS_DIR / "client" / "flare-client.sh").read_text()
    assert (vm.host / settings.lstrip("/")).exists() and command == "run"
