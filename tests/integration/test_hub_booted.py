"""The hub booted for real (tests/integration/booted_hub.py): first boot on an earlier NVFlare
release, the upgrade in place and a rollback, kills, timers, a reboot and a replacement host.
Tests run in order: they follow one host's life."""

from __future__ import annotations

import re

import pytest

from tests.integration.booted_hub import CURRENT_NVFLARE, EARLIER_NVFLARE, FIGURES, SERVICES, ZONE, BootedHub
from tests.integration.hub_harness import served_certificate, wait_for


@pytest.fixture(scope="module")
def hub(booted_hub: BootedHub) -> BootedHub:
    return booted_hub


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


def test_the_running_dashboard_holds_hub_env_as_the_federation_file_wrote_it(hub: BootedHub) -> None:
    """systemd's EnvironmentFile= parser on the deployed hub.env, read from the running process."""
    pid = hub.host.main_pid("flare-dashboard.service")
    environ = hub.host.run("cat", f"/proc/{pid}/environ", check=True).stdout
    environment = dict(item.split("=", 1) for item in environ.split("\0") if "=" in item)
    outputs = hub.outputs
    assert {name: environment.get(name) for name in ("PROJECT", "ADMIN_EMAIL", "DASHBOARD_NAME", "SERVER_NAME", "CERTIFICATE_MODE",
                                                     "ACME_SERVER", "PROJECT_TITLE", "ADMIN_SECRET_NAME", "FL_PORT")} == {
        "PROJECT": "bootfl", "ADMIN_EMAIL": "admin@flare.test", "DASHBOARD_NAME": f"dashboard.{ZONE}", "SERVER_NAME": f"server.{ZONE}",
        "CERTIFICATE_MODE": "letsencrypt", "ACME_SERVER": hub.acme_server, "PROJECT_TITLE": "NVFlare federation bootfl",
        "ADMIN_SECRET_NAME": outputs["AdminSecretName"], "FL_PORT": "8002",
    }  # fmt: skip


def test_an_upgrade_installs_the_new_release_beside_the_old_and_keeps_the_volume(hub: BootedHub) -> None:
    """nvflare_version changed and deployed: the next boot installs the new release into its
    own venv, switches the link, and the dashboard and FL server run it on the same volume."""
    assert hub.version == EARLIER_NVFLARE and hub.venvs() == (
        f"/opt/nvflare/venv-{EARLIER_NVFLARE}",
        [f"/opt/nvflare/venv-{EARLIER_NVFLARE}"],
    )
    wait_for(hub.fl_server_answers, timeout=300, interval=2)
    project, kit, kits = hub.project(), hub.current_kit(), hub.kits()
    seconds = hub.upgrade(CURRENT_NVFLARE)
    FIGURES[f"upgrade {EARLIER_NVFLARE} -> {CURRENT_NVFLARE} (boot to the end of the bootstrap)"] = f"{seconds:.0f} s"
    assert hub.venvs() == (
        f"/opt/nvflare/venv-{CURRENT_NVFLARE}",
        [f"/opt/nvflare/venv-{version}" for version in (EARLIER_NVFLARE, CURRENT_NVFLARE)],
    )
    assert (
        hub.nvflare_in("/opt/nvflare/venv") == CURRENT_NVFLARE and hub.nvflare_in(f"/opt/nvflare/venv-{EARLIER_NVFLARE}") == EARLIER_NVFLARE
    )
    assert f"installed nvflare {CURRENT_NVFLARE} into /opt/nvflare/venv-{CURRENT_NVFLARE}" in hub.bootstrap_log()
    wait_for(lambda: hub.dashboard_answers() and hub.fl_server_answers(), timeout=300, interval=1)
    assert hub.project() == project and hub.current_kit() == kit and hub.kits() == kits
    assert hub.host.run("systemctl", "--failed", "--no-legend", "--plain").stdout.strip() == ""


def test_a_rollback_switches_back_installing_nothing_and_forward_again(hub: BootedHub) -> None:
    project, kit = hub.project(), hub.current_kit()
    for version in (EARLIER_NVFLARE, CURRENT_NVFLARE):
        seconds = hub.upgrade(version)
        FIGURES[f"switch to the kept {version} (boot to the end of the bootstrap)"] = f"{seconds:.0f} s"
        assert not [line for line in hub.bootstrap_log() if line.startswith("installed nvflare")]
        assert hub.venvs()[0] == f"/opt/nvflare/venv-{version}" and hub.nvflare_in("/opt/nvflare/venv") == version
        wait_for(lambda: hub.dashboard_answers() and hub.fl_server_answers(), timeout=300, interval=1)
        assert hub.project() == project and hub.current_kit() == kit


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
    units = {unit: hub.host.run("sha256sum", f"/etc/systemd/system/{unit}").stdout for unit in SERVICES}
    FIGURES["reboot to the end of the bootstrap"] = f"{hub.host.reboot():.0f} s"
    seconds = wait_for(lambda: hub.dashboard_answers() and hub.fl_server_answers(), timeout=300, interval=1)
    FIGURES["reboot to dashboard and FL server answering"] = f"{hub.host.boots[-1] + seconds:.0f} s"
    assert (hub.project(), hub.current_kit()) == (project, kit)  # the project read with the same admin login
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


def test_a_replacement_host_serves_the_same_project_and_kit_from_the_kept_volume(hub: BootedHub) -> None:
    """A new instance (a fresh root) with the data volume, a kit already on it: the FL server
    starts without a new kit or a reboot, the dashboard keeps its database."""
    project, kit = hub.project(), hub.current_kit()
    FIGURES["replacement host to the end of the bootstrap"] = f"{hub.replace():.0f} s"
    seconds = wait_for(lambda: hub.dashboard_answers() and hub.fl_server_answers(), timeout=300, interval=1)
    FIGURES["replacement host to dashboard and FL server answering"] = f"{hub.host.boots[-1] + seconds:.0f} s"
    assert (hub.project(), hub.current_kit()) == (project, kit)


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
