"""The dashboard unit's own ExecStart against the installed NVFlare, and the health check.

Secrets come from Secrets Manager in moto_server; `systemctl` is the test stand-in."""

from __future__ import annotations

import json
import os
import secrets
import signal
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.harness.hub_harness import Hub, https_get, served_certificate, wait_for
from tests.harness.local import emulator_client, free_port

FIGURES: dict[str, float] = {}


def insecure() -> ssl.SSLContext:
    """The test certificate is self-signed: check liveness and content, not identity."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def login(port: int, email: str, password: str) -> dict:
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/nvflare-dashboard/api/v1/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=insecure()) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return {"http": error.code, **json.loads(error.read())}


def users(port: int, token: str) -> int:
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/nvflare-dashboard/api/v1/users", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=insecure()) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def dashboard_answers(port: int) -> bool:
    status, body = https_get(f"https://127.0.0.1:{port}/")
    return status == 200 and b'name="viewport"' in body


@pytest.fixture(scope="module")
def admin(aws_emulator: dict[str, str]) -> dict[str, str]:
    client = emulator_client(aws_emulator, "secretsmanager")
    credential = {"email": "it-admin@hospital.test", "password": secrets.token_urlsafe(18), "name": "hubtest/dashboard-admin"}
    client.create_secret(
        Name=credential["name"], SecretString=json.dumps({"email": credential["email"], "password": credential["password"]})
    )
    return credential


@pytest.fixture(scope="module")
def hub(aws_emulator: dict[str, str], admin: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    settings = {
        **aws_emulator,
        "PROJECT": "hubtest",
        "FL_PORT": str(free_port()),
        "KIT_BUCKET": "unused",
        "ADMIN_SECRET_NAME": admin["name"],
        "ADMIN_EMAIL": admin["email"],
        "DASHBOARD_NAME": "localhost",
        "CERTIFICATE_MODE": "self-signed",
        "CERT_SECRET_NAME": "",
        "ACME_SERVER": "",
        "DASHBOARD_PORT": str(free_port()),
    }
    hub = Hub(tmp_path_factory.mktemp("hub"), settings)
    yield hub
    hub.stop_all()
    if FIGURES:
        print("\nhub dashboard figures: " + ", ".join(f"{k} {v:.1f} s" for k, v in FIGURES.items()))


@pytest.fixture(scope="module")
def port(hub: Hub) -> int:
    start = time.monotonic()
    hub.start_dashboard()
    wait_for(lambda: dashboard_answers(int(hub.settings["DASHBOARD_PORT"])), timeout=90)
    FIGURES["dashboard start to first answer"] = time.monotonic() - start
    return int(hub.settings["DASHBOARD_PORT"])


def test_serves_https_with_its_certificate_and_the_page(hub: Hub, port: int) -> None:
    assert dashboard_answers(port)
    installed = (hub.data / "certs" / "web.crt").read_bytes()
    assert served_certificate(port).strip() == installed.strip()
    assert oct((hub.data / "certs" / "web.key").stat().st_mode & 0o777) == "0o600"


def test_login_works_with_the_secret_credential(port: int, admin: dict[str, str]) -> None:
    answer = login(port, admin["email"], admin["password"])
    assert answer["status"] == "ok" and answer["user"]["role"] == "project_admin"
    assert login(port, admin["email"], "not-the-password")["status"] == "unauthenticated"


def test_credential_is_never_written_to_logs_or_files(hub: Hub, port: int, admin: dict[str, str]) -> None:
    password = admin["password"].encode()
    assert password not in hub.log("flare-dashboard.service").encode()
    for path in hub.root.rglob("*"):
        if path.is_file():
            assert password not in path.read_bytes(), path


def test_restart_keeps_database_and_session_secret(hub: Hub, port: int, admin: dict[str, str], aws_emulator: dict[str, str]) -> None:
    token = login(port, admin["email"], admin["password"])["access_token"]
    assert users(port, token) == 200
    secret_key = (hub.data / "dashboard" / "secret_key").read_text()
    # After the first start the secret is not needed: prove it by breaking it.
    client = emulator_client(aws_emulator, "secretsmanager")
    client.put_secret_value(SecretId=admin["name"], SecretString="{}")
    old_pid = hub.pid("flare-dashboard.service")
    hub.systemctl("restart", "flare-dashboard.service")
    assert hub.pid("flare-dashboard.service") not in (None, old_pid)
    wait_for(lambda: dashboard_answers(port), timeout=60)
    assert users(port, token) == 200  # the session from before the restart is still valid
    assert login(port, admin["email"], admin["password"])["status"] == "ok"
    assert (hub.data / "dashboard" / "secret_key").read_text() == secret_key


def test_health_check_passes_quietly_when_all_is_well(hub: Hub, port: int) -> None:
    calls_before = len(hub.calls())
    result = hub.run("flare-health.service")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"hubctl: OK: proxy on port {port}",
        "hubctl: OK: dashboard on its socket",
        "hubctl: FL server: no kit installed yet",
    ]
    assert not [c for c in hub.calls()[calls_before:] if c.startswith("restart")]


def test_health_check_passes_when_cloudwatch_is_unreachable(hub: Hub, port: int) -> None:
    result = hub.run("flare-health.service", AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hubctl: metrics not published to CloudWatch (" in result.stdout
    assert "hubctl: OK: dashboard on its socket" in result.stdout


def test_health_check_brings_back_a_killed_dashboard_after_two_failed_checks(hub: Hub, port: int) -> None:
    os.killpg(hub.pid("flare-dashboard.service"), signal.SIGKILL)
    wait_for(lambda: hub.pid("flare-dashboard.service") is None, timeout=10)
    start = time.monotonic()
    first = hub.run("flare-health.service")
    assert "hubctl: dashboard on its socket did not answer (1 of 2 failed checks before a restart)" in first.stdout.splitlines()
    assert first.returncode == 0 and hub.pid("flare-dashboard.service") is None
    result = hub.run("flare-health.service")
    assert result.returncode == 0, "a repair is not a failed unit (the metric says it failed)"
    assert "hubctl: dashboard on its socket did not answer 2 times in a row" in result.stdout.splitlines()
    assert "restarting flare-dashboard.service" in result.stdout
    wait_for(lambda: dashboard_answers(port), timeout=60)
    FIGURES["health check: killed dashboard back"] = time.monotonic() - start


def hub_metrics(emulator: dict[str, str], project: str) -> dict[str, list[float]]:
    """Every datapoint the health check published for `project`, by metric name, oldest first."""
    import datetime

    cloudwatch = emulator_client(emulator, "cloudwatch")
    now = datetime.datetime.now(datetime.UTC)
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="NVFlare/Hub")["Metrics"]
             if m["Dimensions"] == [{"Name": "Project", "Value": project}]}  # fmt: skip
    series = {}
    for name in names:
        data = cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {"Namespace": "NVFlare/Hub", "MetricName": name,
                               "Dimensions": [{"Name": "Project", "Value": project}]}, "Period": 1, "Stat": "Maximum"}}],
            StartTime=now - datetime.timedelta(hours=1), EndTime=now + datetime.timedelta(minutes=1), ScanBy="TimestampAscending",
        )["MetricDataResults"][0]  # fmt: skip
        series[name] = data["Values"]
    return series


def test_health_check_publishes_what_the_alarms_watch(hub: Hub, aws_emulator: dict[str, str]) -> None:
    """After one passing and one failing check: 0 then 1 for HealthCheckFailed, the days left on
    the dashboard's certificate (self-signed here: ten years), and how full the data volume is."""
    metrics = hub_metrics(aws_emulator, "hubtest")
    assert set(metrics) == {"HealthCheckFailed", "DashboardCertificateDaysLeft", "DataVolumeUsedPercent"}
    assert 1.0 in metrics["HealthCheckFailed"] and 0.0 in metrics["HealthCheckFailed"]
    assert all(3640 < days <= 3650 for days in metrics["DashboardCertificateDaysLeft"])
    assert all(0 < used < 100 for used in metrics["DataVolumeUsedPercent"])


def test_health_check_restarts_a_hung_dashboard(hub: Hub, port: int) -> None:
    hung = hub.pid("flare-dashboard.service")
    os.killpg(hung, signal.SIGSTOP)
    start = time.monotonic()
    assert "restarting flare-dashboard.service" not in hub.run("flare-health.service").stdout
    result = hub.run("flare-health.service")
    assert result.returncode == 0, "a repair is not a failed unit (the metric says it failed)"
    assert "hubctl: dashboard on its socket did not answer 2 times in a row" in result.stdout.splitlines()
    wait_for(lambda: dashboard_answers(port), timeout=60)
    FIGURES["health check: hung dashboard back"] = time.monotonic() - start
    assert hub.pid("flare-dashboard.service") != hung


def test_health_check_fails_only_when_it_cannot_start_the_repair(hub: Hub, port: int) -> None:
    spec = hub.systemd / "flare-dashboard.service.json"
    registered = spec.read_text()
    os.killpg(hub.pid("flare-dashboard.service"), signal.SIGKILL)
    wait_for(lambda: hub.pid("flare-dashboard.service") is None, timeout=10)
    spec.unlink()  # systemctl now answers "Unit flare-dashboard.service not found"
    try:
        hub.run("flare-health.service")
        result = hub.run("flare-health.service")
    finally:
        spec.write_text(registered)
        hub.start_dashboard()
    assert result.returncode == 1
    assert "could not restart flare-dashboard.service" in result.stdout
    wait_for(lambda: dashboard_answers(port), timeout=60)


def test_a_renamed_dashboard_serves_a_self_signed_certificate_for_its_new_name(hub: Hub, port: int) -> None:
    from cryptography import x509

    def served_names() -> list[str]:
        certificate = x509.load_pem_x509_certificate(served_certificate(port))
        return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)

    assert served_names() == ["localhost"]
    hub.settings["DASHBOARD_NAME"] = "renamed.hospital.test"
    hub.register("flare-proxy.service")
    try:
        hub.systemctl("restart", "flare-proxy.service")
        wait_for(lambda: served_names() == ["renamed.hospital.test"], timeout=90, interval=1)
        assert "the self-signed certificate is for localhost; the dashboard is now renamed.hospital.test" in hub.log("flare-proxy.service")
    finally:
        hub.settings["DASHBOARD_NAME"] = "localhost"
        hub.register("flare-proxy.service")
        hub.systemctl("restart", "flare-proxy.service")
    wait_for(lambda: served_names() == ["localhost"], timeout=90, interval=1)
