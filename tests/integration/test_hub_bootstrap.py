"""The hub bootstrap (flarectl/hosts/hub/bootstrap.sh) run for real in a sandbox directory, with
the system-changing commands (apt-get, useradd, mkfs, mount, chown, python3 -m venv, pip,
systemctl) replaced by recorders (host_recorder.py). The runtime asset comes from S3 in
moto_server, as on a host it comes from the CDK asset bucket."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from flarectl.host_scripts import HOSTS_DIR, render_env_file, render_script
from tests.conftest import needs
from tests.harness.imds import serve_imds
from tests.harness.local import emulator_client
from tests.harness.sandbox import HostSandbox, changing


def runtime_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in (HOSTS_DIR / "hub").rglob("*"):
            if path.is_file() and path.name != "bootstrap.sh" and "__pycache__" not in path.parts:
                bundle.write(path, str(path.relative_to(HOSTS_DIR / "hub")))
    return buffer.getvalue()


class Sandbox(HostSandbox):
    """A hub on its own instance in the emulator (the instance metadata says which): the data
    volume is an EBS volume there, whose device appears once it is attached; the runtime asset
    is in the emulator's S3."""

    def __init__(self, root: Path, emulator: dict[str, str], volume_id: str | None = None):
        super().__init__(root, emulator)
        self.ec2 = emulator_client(emulator, "ec2")
        image = self.ec2.describe_images()["Images"][0]["ImageId"]
        self.instance_id = self.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, Placement={"AvailabilityZone": "us-east-1a"})[
            "Instances"
        ][0]["InstanceId"]
        self.volume_id = volume_id or self.ec2.create_volume(AvailabilityZone="us-east-1a", Size=20, VolumeType="gp3")["VolumeId"]
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{serve_imds({'instance-id': self.instance_id}).server_port}"
        (self.host / "dev" / "disk" / "by-id").mkdir(parents=True)
        self.device.touch()
        s3 = emulator_client(emulator, "s3")
        s3.create_bucket(Bucket="bootstrap-assets")
        for key in ("runtime-1.zip", "runtime-2.zip"):
            s3.put_object(Bucket="bootstrap-assets", Key=key, Body=runtime_zip())

    @property
    def device(self) -> Path:
        return self.host / "dev" / "disk" / "by-id" / f"nvme-Amazon_Elastic_Block_Store_{self.volume_id.replace('-', '')}"

    def attachments(self) -> list[tuple[str, str]]:
        volume = self.ec2.describe_volumes(VolumeIds=[self.volume_id])["Volumes"][0]
        return [(a["InstanceId"], a["Device"]) for a in volume["Attachments"]]

    def run(self, runtime_key: str = "runtime-1.zip") -> tuple[subprocess.CompletedProcess[str], list[str]]:
        hub_env = render_env_file({
            "PROJECT": "cancer-fl", "FL_PORT": "8002", "KIT_BUCKET": "kits", "ADMIN_SECRET_NAME": "cancer-fl/dashboard-admin",
            "ADMIN_EMAIL": "it@hospital.test", "AWS_DEFAULT_REGION": "us-east-1", "DASHBOARD_NAME": "flareboard.hospital.test",
            "CERTIFICATE_MODE": "letsencrypt", "CERT_SECRET_NAME": "", "ACME_SERVER": "https://acme.test/dir",
            "SERVER_NAME": "flareserver.hospital.test", "PROJECT_TITLE": "NVFlare federation cancer-fl",
            "PROJECT_DESCRIPTION": "Breast cancer histology", "FREEZE_PROJECT": "true",
        }, about="test")  # fmt: skip
        settings = {
            "PROJECT": "cancer-fl", "NVFLARE_VERSION": "2.9.0", "CERTBOT_VERSION": "5.8.0", "SERVER_REQUIREMENTS": "",
            "AWS_REGION": "us-east-1", "CERTIFICATE_MODE": "letsencrypt",
            "DATA_VOLUME_ID": self.volume_id, "RUNTIME_BUCKET": "bootstrap-assets", "RUNTIME_KEY": runtime_key,
            "UV_VERSION": "0.13.8", "LOG_GROUP_PREFIX": "/nvflare/cancer-fl/1a2b3c4d", "HUB_ENV": hub_env,
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
    device = sandbox.device
    venv, certbot = f"{sandbox.host}/opt/nvflare/venv-2.9.0", f"{sandbox.host}/opt/nvflare/certbot"
    assert changing(first_run) == [
        "systemctl daemon-reload",  # nginx.service masked before nginx is installed: only flare-proxy serves
        "apt-get update -q",
        "apt-get install -y -q --no-install-recommends python3-venv python3-pip ca-certificates e2fsprogs zip curl gpg nginx",
        f"python3 -m venv {venv}",
        f"python3 -m venv {sandbox.host}/opt/nvflare/uv",  # the pinned uv, tried once; the recorder's pip makes no uv,
        "pip install --quiet uv==0.13.8",  # so pip installs (the fallback)
        "pip install --quiet nvflare==2.9.0 boto3",
        f"mkfs.ext4 -q -L flare-data {device}",  # after the runtime: attaching the volume needs it
        f"mount {sandbox.host}/var/lib/nvflare",
        "useradd --system --home-dir /var/lib/nvflare --shell /usr/sbin/nologin nvflare",
        "useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin flare-proxy",
        f"chown -R nvflare:nvflare {sandbox.host}/var/lib/nvflare",
        f"chown nvflare:nvflare {sandbox.host}/var/lib/nvflare/certs",
        f"chown nvflare:nvflare {sandbox.host}/var/lib/nvflare/dashboard",
        f"chown nvflare:nvflare {sandbox.host}/var/lib/nvflare/dashboard/secret_key",
        f"python3 -m venv {certbot}",
        "pip install --quiet certbot==5.8.0 certbot-dns-route53==5.8.0",
        "systemctl daemon-reload",
        "systemctl enable flare-proxy.service flare-dashboard.socket flare-dashboard.service flare-server.service flare-project.service "
        "flare-health.timer flare-cert-renew.timer flare-kit-sync.timer",
        "systemctl restart flare-dashboard.socket flare-dashboard.service flare-proxy.service",
        "systemctl try-restart flare-server.service",  # a server already running takes its new unit and runtime
    ]
    assert sandbox.attachments() == [(sandbox.instance_id, "/dev/sdf")]  # attached by the bootstrap, with the instance role
    assert [c for c in first_run if c.startswith("systemctl start")] == [
        "systemctl start flare-health.timer flare-cert-renew.timer flare-kit-sync.timer",
        "systemctl start --no-block flare-cert-renew.service flare-project.service flare-kit-sync.service flare-server.service",
    ]
    # The CloudWatch agent comes before the services start (its journal input starts at the end of
    # the journal), whose bucket the sandbox cannot reach: the hub runs regardless.
    agent = next(i for i, c in enumerate(first_run) if c.endswith("/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb"))
    assert first_run[agent].startswith("curl -fsS --retry 3 --max-time 300 -o ")
    assert first_run[agent].endswith(" https://amazoncloudwatch-agent.s3.amazonaws.com/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb")
    assert agent < first_run.index("systemctl restart flare-dashboard.socket flare-dashboard.service flare-proxy.service")
    assert oct((sandbox.host / "var/lib/nvflare/dashboard/secret_key").stat().st_mode & 0o777) == "0o600"


def test_units_settings_runtime_and_fstab_are_written(sandbox: Sandbox, first_run: list[str]) -> None:
    units = HOSTS_DIR / "hub" / "units"
    installed = sandbox.host / "etc" / "systemd" / "system"
    for unit in (p for p in units.rglob("*") if p.is_file()):  # the sandbox drop-in folder too
        assert (installed / unit.relative_to(units)).read_text() == unit.read_text()
    settings = (sandbox.host / "etc" / "nvflare" / "hub.env").read_text().splitlines()
    assert 'CERTIFICATE_MODE="letsencrypt"' in settings and 'DASHBOARD_NAME="flareboard.hospital.test"' in settings
    assert 'AWS_DEFAULT_REGION="us-east-1"' in settings
    assert {'SERVER_NAME="flareserver.hospital.test"', 'PROJECT_TITLE="NVFlare federation cancer-fl"',
            'PROJECT_DESCRIPTION="Breast cancer histology"', 'FREEZE_PROJECT="true"'} <= set(settings)  # fmt: skip
    assert not [line for line in settings if "password" in line.lower()]
    assert (sandbox.host / "opt" / "nvflare" / "hub" / "hubctl.py").read_text() == (HOSTS_DIR / "hub" / "hubctl.py").read_text()
    assert (sandbox.host / "opt" / "nvflare" / "venv").readlink() == sandbox.host / "opt" / "nvflare" / "venv-2.9.0"
    fstab = (sandbox.host / "etc" / "fstab").read_text().splitlines()
    assert len(fstab) == 1 and fstab[0].endswith(" /var/lib/nvflare ext4 defaults,nofail 0 2")


def test_second_boot_changes_nothing(sandbox: Sandbox, first_run: list[str]) -> None:
    before = sandbox.snapshot()
    result, calls = sandbox.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert changing(calls) == []
    assert [c for c in calls if c.startswith("systemctl start")] == [
        "systemctl start --no-block flare-cert-renew.service flare-project.service flare-kit-sync.service flare-server.service"
    ]
    assert sandbox.snapshot() == before


def test_a_new_runtime_is_fetched_and_the_services_restarted(sandbox: Sandbox, first_run: list[str]) -> None:
    result, calls = sandbox.run("runtime-2.zip")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installed hub runtime runtime-2.zip" in result.stdout
    assert changing(calls) == [
        "systemctl daemon-reload",
        "systemctl enable flare-proxy.service flare-dashboard.socket flare-dashboard.service flare-server.service flare-project.service "
        "flare-health.timer flare-cert-renew.timer flare-kit-sync.timer",
        "systemctl restart flare-dashboard.socket flare-dashboard.service flare-proxy.service",
        "systemctl try-restart flare-server.service",  # a server already running takes its new unit and runtime
    ]
    assert not [c for c in calls if c.startswith(("apt-get", "mkfs", "useradd", "pip"))]


def test_a_missing_data_volume_stops_the_bootstrap(tmp_path: Path, aws_emulator: dict[str, str]) -> None:
    box = Sandbox(tmp_path, aws_emulator)
    shutil.rmtree(box.host / "dev")  # the volume never attaches
    (box.bin / "sleep").write_text("#!/bin/sh\nexit 0\n")
    result, calls = box.run()
    assert result.returncode == 1
    assert f"data volume {box.volume_id} never attached; not starting services" in result.stdout
    assert [c for c in calls if c.startswith(("systemctl", "useradd", "mkfs"))] == [
        "systemctl daemon-reload",
        "systemctl stop nginx.service",
    ]


def test_recorded_host_state_after_first_boot(first_run: list[str], sandbox: Sandbox) -> None:
    state = json.loads((sandbox.root / "state.json").read_text())
    assert state["users"] == ["nvflare", "flare-proxy"] and state["mounts"] == [f"{sandbox.host}/var/lib/nvflare"]


def test_a_replacement_host_adopts_the_data_volume_without_formatting(sandbox: Sandbox, first_run: list[str], tmp_path: Path) -> None:
    """A new instance (fresh root disk) gets the data volume once the old instance released it
    (CloudFormation terminates a replaced instance after the update; the restore path after
    `cdk destroy` is the same)."""
    rebuilt = Sandbox(tmp_path, sandbox.emulator, volume_id=sandbox.volume_id)
    sandbox.ec2.terminate_instances(InstanceIds=[sandbox.instance_id])
    state = json.loads((sandbox.root / "state.json").read_text())
    volume_filesystem = state["formatted"][str(sandbox.device)]  # the filesystem travels with the volume
    owner = state["owners"][f"{sandbox.host}/var/lib/nvflare"]  # so does its ownership
    shutil.copytree(sandbox.host / "var/lib/nvflare", rebuilt.host / "var/lib/nvflare", symlinks=True)  # what the volume holds
    (rebuilt.root / "state.json").write_text(json.dumps({"packages": [], "users": [], "formatted": {str(rebuilt.device): volume_filesystem},
                                                         "mounts": [], "owners": {f"{rebuilt.host}/var/lib/nvflare": owner}}))  # fmt: skip
    result, calls = rebuilt.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert rebuilt.attachments() == [(rebuilt.instance_id, "/dev/sdf")]
    assert not [c for c in calls if c.startswith("mkfs")]
    assert f"mount {rebuilt.host}/var/lib/nvflare" in calls
    assert f"UUID={volume_filesystem} /var/lib/nvflare ext4 defaults,nofail 0 2" in (rebuilt.host / "etc" / "fstab").read_text()
    # Same uid (990) on both hosts, the key and folders on the volume: nothing to re-own or make.
    assert not [c for c in calls if c.startswith("chown")]


def test_a_volume_owned_by_another_uid_is_re_owned_whole(aws_emulator: dict[str, str], tmp_path: Path) -> None:
    """A replacement host whose nvflare user got another uid (another user was created first):
    the whole tree is re-owned, or the dashboard cannot read its own secret_key."""
    host = Sandbox(tmp_path, aws_emulator)
    data = f"{host.host}/var/lib/nvflare"
    state = {"packages": [], "users": ["cwagent"], "formatted": {str(host.device): "a-filesystem"}, "mounts": [], "owners": {data: "990"}}
    (host.root / "state.json").write_text(json.dumps(state))
    result, calls = host.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c for c in calls if c.startswith("chown")] == [
        f"chown -R nvflare:nvflare {data}",
        f"chown nvflare:nvflare {data}/certs",
        f"chown nvflare:nvflare {data}/dashboard",
        f"chown nvflare:nvflare {data}/dashboard/secret_key",
    ]
    assert f"flare-bootstrap: gave {data} to nvflare (uid 991)" in result.stdout


def attach_in_background(emulator: dict[str, str], volume_id: str, instance_id: str, *args: str) -> tuple[subprocess.Popen[str], object]:
    server = serve_imds({"instance-id": instance_id})
    env = {**os.environ, **emulator, "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}
    command = [sys.executable, str(HOSTS_DIR / "hub" / "instance.py"), "attach", volume_id, "/dev/sdf", "--poll-seconds", "0.2", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), server


def test_a_replacement_instance_waits_for_the_old_one_to_release_the_volume(aws_emulator: dict[str, str], tmp_path: Path) -> None:
    """CloudFormation creates the replacement while the old instance still holds the volume,
    and terminates the old one when the update completes."""
    old = Sandbox(tmp_path / "old", aws_emulator)
    old.ec2.attach_volume(VolumeId=old.volume_id, InstanceId=old.instance_id, Device="/dev/sdf")
    new = Sandbox(tmp_path / "new", aws_emulator, volume_id=old.volume_id)
    process, server = attach_in_background(aws_emulator, old.volume_id, new.instance_id)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first == (f"flare-bootstrap: data volume {old.volume_id} is still attached to {old.instance_id} (a replaced hub "
                         "instance, which CloudFormation terminates when the update completes); waiting for it to be released\n")  # fmt: skip
        time.sleep(1)
        assert process.poll() is None and new.attachments() == [(old.instance_id, "/dev/sdf")]
        old.ec2.terminate_instances(InstanceIds=[old.instance_id])
        rest, _ = process.communicate(timeout=30)
    finally:
        process.kill()
        server.shutdown()
    assert process.returncode == 0, rest
    assert rest == f"flare-bootstrap: attached data volume {old.volume_id} as /dev/sdf\n"
    assert new.attachments() == [(new.instance_id, "/dev/sdf")]


def test_a_volume_never_released_stops_with_what_to_do(aws_emulator: dict[str, str], tmp_path: Path) -> None:
    old = Sandbox(tmp_path / "old", aws_emulator)
    old.ec2.attach_volume(VolumeId=old.volume_id, InstanceId=old.instance_id, Device="/dev/sdf")
    new = Sandbox(tmp_path / "new", aws_emulator, volume_id=old.volume_id)
    process, server = attach_in_background(aws_emulator, old.volume_id, new.instance_id, "--wait-minutes", "0.02")
    try:
        output, _ = process.communicate(timeout=30)
    finally:
        server.shutdown()
    assert process.returncode == 1
    assert output.splitlines()[-1] == (
        f"flare-bootstrap: data volume {old.volume_id} was not attached within 0.02 minutes; it is held by {old.instance_id}: "
        f"stop that instance (aws ec2 stop-instances --instance-ids {old.instance_id}) or detach the volume, then reboot this one"
    )
    assert new.attachments() == [(old.instance_id, "/dev/sdf")]
