"""The hub booted for real (tests/harness/booted_hub.py): first boot on an earlier NVFlare
release, the upgrade in place and a rollback, kills, timers, a reboot and a replacement host.
Tests run in order: they follow one host's life."""

from __future__ import annotations

import re
import time

import pytest

from tests.harness.booted_hub import CURRENT_NVFLARE, EARLIER_NVFLARE, FIGURES, SERVICES, ZONE, BootedHub
from tests.harness.hub_harness import served_certificate, wait_for


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


def test_port_443_meets_mozillas_intermediate_tls_configuration(hub: BootedHub) -> None:
    """sslyze's own Mozilla checker, on the certificate from ACME. What only the stand-in causes:
    sslyze does not trust pebble's CA, and pebble 2.4 issues certificates for 5 years (Let's
    Encrypt: 90 days)."""
    from tests.harness.tls_scan import scan

    result = scan("127.0.0.1", 443, f"dashboard.{ZONE}")
    assert result.suites == {
        "tls_1_2": {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
        "tls_1_3": {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"},
    }  # fmt: skip
    assert result.curves == {"X25519", "secp256r1", "secp384r1"}
    assert result.resumed and result.hsts == "max-age=63072000"
    assert result.not_compliant <= {"certificate_path_validation", "maximum_certificate_lifespan"}, result.not_compliant


def test_only_the_proxy_listens_on_443_and_the_dashboard_only_on_its_socket(hub: BootedHub) -> None:
    listening = hub.host.run("ss", "-Hltnp", check=True).stdout
    on_443 = [line for line in listening.splitlines() if line.split()[3].endswith(":443")]
    assert on_443 and all('"nginx"' in line for line in on_443), listening
    assert "gunicorn" not in listening and "python" not in " ".join(on_443)
    socket = hub.host.run("stat", "-c", "%U %G %a", "/run/flare-dashboard/gunicorn.sock", check=True).stdout.split()
    assert socket == ["nvflare", "flare-proxy", "660"]
    assert hub.host.run("systemctl", "is-enabled", "nginx.service").stdout.strip() == "masked"
    assert hub.host.run("stat", "-c", "%a", "/var/lib/nvflare/dashboard/db.sqlite", check=True).stdout.strip() == "600"


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
    # The running processes, not a fresh interpreter: each maps the new release's files only.
    switched, processes = hub.running_releases()
    new = f"/opt/nvflare/venv-{CURRENT_NVFLARE}"
    assert {name.split("/")[0] for name, (_, venvs) in processes.items() if venvs == [new]} == {
        "flare-dashboard.service",
        "flare-server.service",
    }
    assert {name: venvs for name, (_, venvs) in processes.items() if venvs not in ([new], [])} == {}
    assert {name: started for name, (started, _) in processes.items() if started < switched} == {}, f"link switched at {switched:.1f} s"
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


@pytest.mark.parametrize("unit, answers", [("flare-dashboard.service", "dashboard_answers"), ("flare-server.service", "fl_server_answers"),
                                           ("flare-proxy.service", "dashboard_answers")])  # fmt: skip
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
    assert "hubctl: OK: dashboard on its socket" in hub.host.journal("flare-health.service")
    assert hub.host.show("flare-health.service", "Result") == "success"


def test_the_fl_server_logs_a_refused_handshake_for_outsiders_only(hub: BootedHub) -> None:
    """The health timer's probe (every 10 s here) presents the server's own certificate: the
    server refuses nothing. A client without a kit certificate is refused, and gRPC writes the
    line the RefusedFlHandshakes metric filter counts (flare_constructs/hub_alerts.py)."""
    import socket
    import ssl

    def refused() -> int:
        return hub.host.journal("flare-server.service", boot="current").count("Handshake failed")

    def health_runs() -> int:
        return hub.host.journal("flare-health.service", boot="current").count("OK: FL server on port 8002")

    wait_for(lambda: health_runs() > 0, timeout=120, interval=2)
    before, runs = refused(), health_runs()
    wait_for(lambda: health_runs() >= runs + 2, timeout=120, interval=2)
    assert refused() == before
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", 8002), timeout=10) as connection:
        with context.wrap_socket(connection, server_hostname="localhost") as tls:
            try:
                tls.recv(1)  # TLS 1.3: the server's refusal arrives after the client's handshake ends
            except (ssl.SSLError, OSError):
                pass
    wait_for(lambda: refused() == before + 1, timeout=30, interval=1)


def seconds_up(hub: BootedHub, unit: str) -> float:
    entered = int(hub.host.show(unit, "ActiveEnterTimestampMonotonic") or 0)
    now = float(hub.host.run("cut", "-d", " ", "-f", "1", "/proc/uptime", check=True).stdout)
    return now - entered / 1e6 if entered else 0.0


def test_the_health_check_restarts_a_frozen_dashboard_after_two_failed_checks(hub: BootedHub) -> None:
    """Every process of the dashboard stopped (SIGSTOP): its socket still queues connections, but
    nothing answers. The health timer (every 10 s here) restarts it on its second failed check."""
    wait_for(lambda: seconds_up(hub, "flare-dashboard.service") > 95, timeout=200, interval=2)  # past the start-up grace
    frozen = hub.host.main_pid("flare-dashboard.service")
    hub.host.systemctl("kill", "--signal=SIGSTOP", "flare-dashboard.service")
    seconds = wait_for(
        lambda: hub.host.main_pid("flare-dashboard.service") not in (0, frozen) and hub.dashboard_answers(), timeout=240, interval=2
    )
    FIGURES["health check: frozen dashboard answering again"] = f"{seconds:.0f} s"
    journal = hub.host.journal("flare-health.service", boot="current")
    assert "hubctl: dashboard on its socket did not answer (1 of 2 failed checks before a restart)" in journal
    assert "hubctl: dashboard on its socket did not answer 2 times in a row" in journal


def test_the_health_check_leaves_a_starting_or_busy_dashboard_alone(hub: BootedHub) -> None:
    """Restarted, then kept busy by 40 clients (each its own address, under the proxy's limits)
    for 60 s while the health timer fires every 10 s: the dashboard is never restarted."""
    import threading

    from tests.harness.hub_harness import https_get

    hub.host.systemctl("restart", "flare-dashboard.service")
    started = hub.host.main_pid("flare-dashboard.service")
    before = hub.host.journal("flare-health.service").count("restarting flare-dashboard.service")
    stop, answered = threading.Event(), [0]

    def busy(source: str) -> None:
        import http.client
        import ssl

        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        while not stop.is_set():
            connection = http.client.HTTPSConnection("127.0.0.1", 443, timeout=30, context=context, source_address=(source, 0))
            try:
                connection.request("GET", "/nvflare-dashboard/api/v1/project")
                answered[0] += connection.getresponse().status == 200
            except OSError:
                pass
            finally:
                connection.close()

    threads = [threading.Thread(target=busy, args=(f"127.0.2.{n}",)) for n in range(1, 41)]
    for thread in threads:
        thread.start()
    time.sleep(60)
    stop.set()
    for thread in threads:
        thread.join()
    FIGURES["answers to 40 busy clients in the 60 s after a dashboard restart"] = str(answered[0])
    assert hub.host.main_pid("flare-dashboard.service") == started
    assert hub.host.journal("flare-health.service").count("restarting flare-dashboard.service") == before
    assert answered[0] > 100 and https_get("https://127.0.0.1/")[0] == 200


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
# before the sandbox of flarectl/hosts/hub/units/flare-.service.d: 6.0, 8.3 and 9.6 for the root oneshots.
EXPOSURE_AT_MOST = {"flare-proxy.service": 3.0, "flare-dashboard.service": 1.8, "flare-server.service": 1.4, "flare-health.service": 2.3,
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
    assert (int(dashboard["CapEff"], 16), int(dashboard["CapBnd"], 16), dashboard["NoNewPrivs"], dashboard["Uid"].split()[0]) == (
        0, 0, "1", hub.nvflare_uid(),
    )  # fmt: skip
    proxy_master = hub.host.main_pid("flare-proxy.service")
    workers = hub.host.run("pgrep", "-P", str(proxy_master), check=True).stdout.split()
    proxy_user = hub.host.run("id", "-u", "flare-proxy", check=True).stdout.strip()
    for worker in workers:  # what faces the internet: no capabilities, not root, not nvflare
        text = hub.host.run("cat", f"/proc/{worker}/status", check=True).stdout
        fields = {key: value.strip() for key, value in (line.split(":", 1) for line in text.splitlines())}
        assert (int(fields["CapEff"], 16), fields["Uid"].split()[0], fields["NoNewPrivs"]) == (0, proxy_user, "1")
    assert (int(server["CapEff"], 16), int(server["CapBnd"], 16), server["NoNewPrivs"]) == (0, 0, "1")
