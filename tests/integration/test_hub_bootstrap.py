"""The hub bootstrap (userdata/hub/bootstrap.sh) run for real in a sandbox directory, with
the system-changing commands (apt-get, useradd, mkfs, mount, chown, python3 -m venv, pip,
systemctl) replaced by recorders (host_recorder.py). The runtime asset comes from S3 in
moto_server, as on a host it comes from the CDK asset bucket."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from flarectl.host_scripts import USERDATA_DIR, render_script
from tests.conftest import needs
from tests.integration.conftest import emulator_client
from tests.integration.sandbox import HostSandbox, changing

VOLUME = "vol-0123456789abcdef0"


def runtime_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in (USERDATA_DIR / "hub").rglob("*"):
            if path.is_file() and path.name != "bootstrap.sh" and "__pycache__" not in path.parts:
                bundle.write(path, str(path.relative_to(USERDATA_DIR / "hub")))
    return buffer.getvalue()


class Sandbox(HostSandbox):
    """A hub: the data volume's device exists, the runtime asset is in the emulator's S3."""

    def __init__(self, root: Path, emulator: dict[str, str]):
        super().__init__(root, emulator)
        (self.host / "dev" / "disk" / "by-id").mkdir(parents=True)
        (self.host / "dev" / "disk" / "by-id" / f"nvme-Amazon_Elastic_Block_Store_{VOLUME.replace('-', '')}").touch()
        s3 = emulator_client(emulator, "s3")
        s3.create_bucket(Bucket="bootstrap-assets")
        for key in ("runtime-1.zip", "runtime-2.zip"):
            s3.put_object(Bucket="bootstrap-assets", Key=key, Body=runtime_zip())

    def run(self, runtime_key: str = "runtime-1.zip") -> tuple[subprocess.CompletedProcess[str], list[str]]:
        settings = {
            "PROJECT": "cancer-fl", "NVFLARE_VERSION": "2.9.0", "CERTBOT_VERSION": "5.8.0", "SERVER_REQUIREMENTS": "",
            "FL_PORT": "8002", "KIT_BUCKET": "kits", "ADMIN_SECRET_NAME": "cancer-fl/dashboard-admin",
            "ADMIN_EMAIL": "it@hospital.test", "AWS_REGION": "us-east-1", "DASHBOARD_NAME": "flareboard.hospital.test",
            "CERTIFICATE_MODE": "letsencrypt", "CERT_SECRET_NAME": "", "ACME_SERVER": "https://acme.test/dir",
            "DATA_VOLUME_ID": VOLUME, "RUNTIME_BUCKET": "bootstrap-assets", "RUNTIME_KEY": runtime_key,
            "SERVER_NAME": "flareserver.hospital.test", "PROJECT_TITLE": "NVFlare federation cancer-fl",
            "PROJECT_DESCRIPTION": "Breast cancer histology", "FREEZE_PROJECT": "true", "UV_VERSION": "0.13.8",
        }  # fmt: skip
        return self.run_script(render_script("hub/bootstrap.sh", settings))


@pytest.fixture(scope="module")
def sandbox(aws_emulator: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    needs(shutil.which("bash") is not None, "bash")
    return Sandbox(tmp_path_factory.mktemp("bootstrap"), aws_emulator)


@pytest.fixture(scope="module")
def first_run(sandbox: Sandbox) -> list[str]:
    result, calls = sandbox.run()
    assert result.returncode == 0, result.stdout + result.stderr
    return calls


def test_first_boot_changes_the_host_in_order(sandbox: Sandbox, first_run: list[str]) -> None:
    device = f"{sandbox.host}/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{VOLUME.replace('-', '')}"
    venv, certbot = f"{sandbox.host}/opt/nvflare/venv-2.9.0", f"{sandbox.host}/opt/nvflare/certbot"
    assert changing(first_run) == [
        "apt-get update -q",
        "apt-get install -y -q --no-install-recommends python3-venv python3-pip ca-certificates e2fsprogs zip",
        f"mkfs.ext4 -q -L flare-data {device}",
        f"mount {sandbox.host}/var/lib/nvflare",
        "useradd --system --home-dir /var/lib/nvflare --shell /usr/sbin/nologin nvflare",
        f"chown nvflare:nvflare {sandbox.host}/var/lib/nvflare",
        f"python3 -m venv {venv}",
        f"python3 -m venv {sandbox.host}/opt/nvflare/uv",  # the pinned uv, tried once; the recorder's pip makes no uv,
        "pip install --quiet uv==0.13.8",  # so pip installs (the fallback)
        "pip install --quiet nvflare==2.9.0 boto3",
        f"python3 -m venv {certbot}",
        "pip install --quiet certbot==5.8.0 certbot-dns-route53==5.8.0",
        "systemctl daemon-reload",
        "systemctl enable flare-dashboard.service flare-server.service flare-project.service flare-health.timer flare-cert-renew.timer flare-kit-sync.timer",
        "systemctl restart flare-dashboard.service",
    ]
    assert first_run[-2:] == [
        "systemctl start flare-health.timer flare-cert-renew.timer flare-kit-sync.timer",
        "systemctl start --no-block flare-cert-renew.service flare-project.service flare-kit-sync.service",
    ]


def test_units_settings_runtime_and_fstab_are_written(sandbox: Sandbox, first_run: list[str]) -> None:
    for unit in (USERDATA_DIR / "hub" / "units").iterdir():
        assert (sandbox.host / "etc" / "systemd" / "system" / unit.name).read_text() == unit.read_text()
    settings = (sandbox.host / "etc" / "nvflare" / "hub.env").read_text().splitlines()
    assert "CERTIFICATE_MODE=letsencrypt" in settings and "DASHBOARD_NAME=flareboard.hospital.test" in settings
    assert "AWS_DEFAULT_REGION=us-east-1" in settings
    assert {"SERVER_NAME=flareserver.hospital.test", "PROJECT_TITLE=NVFlare federation cancer-fl",
            "PROJECT_DESCRIPTION=Breast cancer histology", "FREEZE_PROJECT=true"} <= set(settings)  # fmt: skip
    assert not [line for line in settings if "password" in line.lower()]
    assert (sandbox.host / "opt" / "nvflare" / "hub" / "hubctl.py").read_text() == (USERDATA_DIR / "hub" / "hubctl.py").read_text()
    assert (sandbox.host / "opt" / "nvflare" / "venv").readlink() == sandbox.host / "opt" / "nvflare" / "venv-2.9.0"
    fstab = (sandbox.host / "etc" / "fstab").read_text().splitlines()
    assert len(fstab) == 1 and fstab[0].endswith(" /var/lib/nvflare ext4 defaults,nofail 0 2")


def test_second_boot_changes_nothing(sandbox: Sandbox, first_run: list[str]) -> None:
    before = sandbox.snapshot()
    result, calls = sandbox.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert changing(calls) == []
    assert calls[-1] == "systemctl start --no-block flare-cert-renew.service flare-project.service flare-kit-sync.service"
    assert sandbox.snapshot() == before


def test_a_new_runtime_is_fetched_and_the_services_restarted(sandbox: Sandbox, first_run: list[str]) -> None:
    result, calls = sandbox.run("runtime-2.zip")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installed hub runtime runtime-2.zip" in result.stdout
    assert changing(calls) == [
        "systemctl daemon-reload",
        "systemctl enable flare-dashboard.service flare-server.service flare-project.service flare-health.timer flare-cert-renew.timer flare-kit-sync.timer",
        "systemctl restart flare-dashboard.service",
    ]
    assert not [c for c in calls if c.startswith(("apt-get", "mkfs", "useradd", "pip"))]


def test_a_missing_data_volume_stops_the_bootstrap(tmp_path: Path, aws_emulator: dict[str, str]) -> None:
    box = Sandbox(tmp_path, aws_emulator)
    shutil.rmtree(box.host / "dev")  # the volume never attaches
    (box.bin / "sleep").write_text("#!/bin/sh\nexit 0\n")
    result, calls = box.run()
    assert result.returncode == 1
    assert f"data volume {VOLUME} never attached; not starting services" in result.stdout
    assert not [c for c in calls if c.startswith(("systemctl", "useradd", "mkfs"))]


def test_recorded_host_state_after_first_boot(first_run: list[str], sandbox: Sandbox) -> None:
    state = json.loads((sandbox.root / "state.json").read_text())
    assert state["users"] == ["nvflare"] and state["mounts"] == [f"{sandbox.host}/var/lib/nvflare"]


def test_a_replacement_host_adopts_the_data_volume_without_formatting(sandbox: Sandbox, first_run: list[str], tmp_path: Path) -> None:
    """The restore path: a new instance (fresh root disk) gets the retained data volume."""
    rebuilt = Sandbox(tmp_path, sandbox.emulator)
    state = json.loads((sandbox.root / "state.json").read_text())
    old_device = next(iter(state["formatted"]))
    volume_filesystem = state["formatted"][old_device]  # the filesystem travels with the volume
    new_device = f"{rebuilt.host}/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{VOLUME.replace('-', '')}"
    (rebuilt.root / "state.json").write_text(
        json.dumps({"packages": [], "users": [], "formatted": {new_device: volume_filesystem}, "mounts": [], "owners": {}})
    )
    result, calls = rebuilt.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [c for c in calls if c.startswith("mkfs")]
    assert f"mount {rebuilt.host}/var/lib/nvflare" in calls
    assert f"UUID={volume_filesystem} /var/lib/nvflare ext4 defaults,nofail 0 2" in (rebuilt.host / "etc" / "fstab").read_text()
