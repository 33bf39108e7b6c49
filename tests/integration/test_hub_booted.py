"""The hub booted for real: the user data of a hub deployed into the local AWS emulator, run by
cloud-init under a real systemd (tests/integration/booted_host.py), at first boot and after a
reboot. S3, Secrets Manager and Route53 are moto_server's; certificates come from pebble; the
instance metadata from a stand-in on loopback. Tests run in order: they follow one host's life."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.acme import running_pebble
from tests.integration.booted_host import CACHE, BootedHost, can_boot
from tests.integration.conftest import start_emulator
from tests.integration.emulated_deploy import AMI_PARAMETER, Deployment, user_data
from tests.integration.hub_harness import https_get, served_certificate, wait_for
from tests.integration.imds import serve_imds

ZONE = "boot.test"
FIGURES: dict[str, str] = {}
SERVICES = ["flare-dashboard.service", "flare-server.service", "flare-health.service", "flare-cert-renew.service",
            "flare-kit-sync.service", "flare-project.service"]  # fmt: skip
# Test-only: the timers' first and repeated runs come within seconds, so a test sees them fire on their own.
FAST_TIMER = (
    "[Timer]\nOnBootSec=\nOnUnitActiveSec=\nOnCalendar=\nRandomizedDelaySec=0\nOnBootSec=20s\nOnUnitActiveSec=20s\nAccuracySec=1s\n"
)


def federation(zone_id: str, acme_server: str) -> str:
    return f"""\
project: bootfl
project_admin_email: admin@flare.test
hub:
  ami_ssm_parameter: {AMI_PARAMETER}
dns:
  hosted_zone_id: {zone_id}
  zone_name: {ZONE}
  dashboard_name: dashboard.{ZONE}
  server_name: server.{ZONE}
certificate:
  mode: letsencrypt
  acme_server: {acme_server}
"""


class BootedHub:
    def __init__(self, host: BootedHost, deployment: Deployment, outputs: dict[str, str]):
        self.host, self.deployment, self.outputs = host, deployment, outputs

    def dashboard_answers(self) -> bool:
        status, body = https_get("https://127.0.0.1/")
        return status == 200 and b'name="viewport"' in body

    def fl_server_answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", 8002), timeout=5):
            return self.host.systemctl("is-active", "--quiet", "flare-server.service").returncode == 0

    def admin(self) -> dict[str, str]:
        secret = self.deployment.client("secretsmanager").get_secret_value(SecretId=self.outputs["AdminSecretName"])
        return json.loads(secret["SecretString"])

    def project(self) -> dict:
        import importlib.util

        from flarectl.host_scripts import USERDATA_DIR

        spec = importlib.util.spec_from_file_location("dashboard_project", USERDATA_DIR / "hub" / "dashboard_project.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        dashboard = module.Dashboard(443)
        dashboard.login(self.admin()["email"], self.admin()["password"])
        return dashboard.json("GET", "/project")["project"]

    def nvflare_uid(self) -> str:
        return self.host.run("id", "-u", "nvflare", check=True).stdout.strip()

    def current_kit(self) -> str:
        return self.host.run("readlink", "/var/lib/nvflare/kits/current", check=True).stdout.strip()

    def bootstrap_log(self) -> list[str]:
        """What the bootstrap said during the current boot."""
        output = self.host.run("journalctl", "--no-pager", "-o", "cat", "-b", "-u", "cloud-final.service").stdout
        return [line.removeprefix("flare-bootstrap: ") for line in output.splitlines() if line.startswith("flare-bootstrap: ")]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BootedHub]:
    can_boot()
    workdir = tmp_path_factory.mktemp("booted-hub")
    emulator_process, emulator = start_emulator(workdir)
    metadata: dict[str, str] = {}
    metadata_server = serve_imds(metadata)
    host = None
    try:
        with running_pebble(workdir) as acme:
            deployment = Deployment(emulator, workdir, zone_name=ZONE)
            outputs = deployment.deploy(federation(deployment.zone_id, acme["ACME_SERVER"]), "hub")
            metadata.update({"instance-id": outputs["InstanceId"], "public-ipv4": outputs["ElasticIp"]})
            environment = {k: v for k, v in emulator.items() if k != "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION"}
            environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{metadata_server.server_port}"
            downloads = CACHE / "booted-downloads"
            host = BootedHost(
                workdir / "host", name="hub", user_data=user_data(deployment, outputs["InstanceId"]), environment=environment,
                binds={workdir / "volume": "/var/lib/nvflare", downloads / "pip": "/root/.cache/pip", downloads / "uv": "/root/.cache/uv",
                       downloads / "apt": "/var/cache/apt/archives"},
                extra_ca=[Path(acme["REQUESTS_CA_BUNDLE"])],
                # Nothing may reach AWS: the CloudWatch agent's download finds no bucket here.
                hosts={f"dashboard.{ZONE}": "127.0.0.1", f"server.{ZONE}": "127.0.0.1", "amazoncloudwatch-agent.s3.amazonaws.com": "127.0.0.1"},
            )  # fmt: skip
            for timer in ("flare-health.timer", "flare-cert-renew.timer"):
                drop_in = host.root / "etc" / "systemd" / "system" / f"{timer}.d" / "fast.conf"
                drop_in.parent.mkdir(parents=True)
                drop_in.write_text(FAST_TIMER)
            FIGURES["first boot to the end of the bootstrap"] = f"{host.boot():.0f} s"
            yield BootedHub(host, deployment, outputs)
    finally:
        if host is not None:
            host.kill()
        metadata_server.shutdown()
        emulator_process.terminate()
        emulator_process.wait(timeout=10)
        if FIGURES:
            print("\nbooted hub figures: " + ", ".join(f"{k}: {v}" for k, v in FIGURES.items()))


def test_first_boot_serves_the_dashboard_over_https_with_a_certificate_from_acme(hub: BootedHub) -> None:
    since_boot = wait_for(hub.dashboard_answers, timeout=300, interval=1) + hub.host.boots[-1]
    FIGURES["first boot to the dashboard answering on 443"] = f"{since_boot:.0f} s"

    def issued() -> bool:
        from cryptography import x509

        certificate = x509.load_pem_x509_certificate(served_certificate(443))
        return "Pebble" in certificate.issuer.rfc4514_string() and f"dashboard.{ZONE}" in str(certificate.extensions)

    wait_for(issued, timeout=180, interval=2)
    assert hub.host.show("flare-dashboard.service", "User") == "nvflare"


def test_the_fl_server_runs_from_a_kit_the_dashboard_zipped(hub: BootedHub) -> None:
    wait_for(hub.fl_server_answers, timeout=300, interval=2)
    assert re.fullmatch(r"dashboard-[0-9a-f]{12}", hub.current_kit())
    assert hub.project()["frozen"] is True


def test_no_unit_failed_and_cloud_init_finished_cleanly(hub: BootedHub) -> None:
    assert hub.host.run("systemctl", "--failed", "--no-legend", "--plain").stdout.strip() == ""
    assert hub.host.run("cloud-init", "status").stdout.split() == ["status:", "done"]


@pytest.mark.parametrize("unit, answers", [("flare-dashboard.service", "dashboard_answers"), ("flare-server.service", "fl_server_answers")])
def test_systemd_brings_back_a_killed_service(hub: BootedHub, unit: str, answers: str) -> None:
    wait_for(getattr(hub, answers), timeout=120, interval=1)
    before = hub.host.main_pid(unit)
    hub.host.systemctl("kill", "--signal=SIGKILL", unit)
    seconds = wait_for(lambda: hub.host.main_pid(unit) not in (0, before) and getattr(hub, answers)(), timeout=120, interval=0.5)
    FIGURES[f"systemd restarting a killed {unit.split('.')[0]}"] = f"{seconds:.0f} s"


def test_health_and_certificate_timers_fire_on_their_own(hub: BootedHub) -> None:
    def runs(unit: str) -> int:
        return hub.host.journal(unit).count("Finished") + hub.host.journal(unit).count("Deactivated successfully")

    first = {unit: runs(unit) for unit in ("flare-health.service", "flare-cert-renew.service")}
    wait_for(lambda: all(runs(unit) > count for unit, count in first.items()), timeout=90, interval=2)
    assert "dashboard OK" in hub.host.journal("flare-health.service")
    assert hub.host.show("flare-health.service", "Result") == "success"


def test_a_reboot_brings_everything_back_with_the_same_database_and_kit(hub: BootedHub) -> None:
    wait_for(hub.fl_server_answers, timeout=120, interval=1)
    project, kit = hub.project(), hub.current_kit()
    database = hub.host.run("sha256sum", "/var/lib/nvflare/dashboard/db.sqlite").stdout.split()[:1]
    units = {unit: hub.host.run("sha256sum", f"/etc/systemd/system/{unit}").stdout for unit in SERVICES}
    FIGURES["reboot to the end of the bootstrap"] = f"{hub.host.reboot():.0f} s"
    seconds = wait_for(lambda: hub.dashboard_answers() and hub.fl_server_answers(), timeout=300, interval=1)
    FIGURES["reboot to dashboard and FL server answering"] = f"{hub.host.boots[-1] + seconds:.0f} s"
    assert (hub.project(), hub.current_kit()) == (project, kit)
    assert database
    assert {unit: hub.host.run("sha256sum", f"/etc/systemd/system/{unit}").stdout for unit in SERVICES} == units


def test_the_second_boot_changed_nothing(hub: BootedHub) -> None:
    """Nothing installed, formatted, mounted, re-owned, rewritten or restarted: only the
    CloudWatch agent is tried again (its bucket is not reachable here)."""
    agent = "https://amazoncloudwatch-agent.s3.amazonaws.com/ubuntu/amd64/latest/amazon-cloudwatch-agent.deb"
    assert hub.bootstrap_log() == [
        "starting (project bootfl, nvflare 2.9.0)",
        f"cloudwatch agent: could not download {agent}; not installed (the next boot tries again)",
        "logs are not shipped to CloudWatch Logs this boot",
        "done",
    ]


# systemd-analyze security's exposure (0 = fully sandboxed, 10 = none) for every hub service;
# before the sandbox of userdata/hub/units/flare-.service.d: 6.0, 8.3 and 9.6 for the root oneshots.
EXPOSURE_AT_MOST = {"flare-dashboard.service": 1.8, "flare-server.service": 1.4, "flare-health.service": 2.3,
                    "flare-cert-renew.service": 2.5, "flare-kit-sync.service": 2.5, "flare-project.service": 2.5}  # fmt: skip


def test_every_service_is_sandboxed(hub: BootedHub) -> None:
    scores = {}
    for unit in SERVICES:
        output = hub.host.run("systemd-analyze", "security", "--no-pager", unit).stdout
        found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", output)
        assert found, output
        scores[unit] = float(found.group(1))
    FIGURES["systemd-analyze security"] = ", ".join(f"{u.split('.')[0]} {s}" for u, s in scores.items())
    assert {unit: score for unit, score in scores.items() if score > EXPOSURE_AT_MOST[unit]} == {}


def test_the_running_services_hold_only_their_capabilities(hub: BootedHub) -> None:
    """In force, not only configured: the dashboard may bind 443 and nothing else; the FL server nothing."""
    wait_for(lambda: hub.dashboard_answers() and hub.fl_server_answers(), timeout=120, interval=1)

    def status(unit: str) -> dict[str, str]:
        text = hub.host.run("cat", f"/proc/{hub.host.main_pid(unit)}/status", check=True).stdout
        return {key: value.strip() for key, value in (line.split(":", 1) for line in text.splitlines())}

    dashboard, server = status("flare-dashboard.service"), status("flare-server.service")
    cap_net_bind_service = 1 << 10
    assert (int(dashboard["CapEff"], 16), dashboard["NoNewPrivs"], dashboard["Uid"].split()[0]) == (
        cap_net_bind_service,
        "1",
        hub.nvflare_uid(),
    )
    assert (int(server["CapEff"], 16), int(server["CapBnd"], 16), server["NoNewPrivs"]) == (0, 0, "1")
