"""Let's Encrypt end to end, offline: pebble (Let's Encrypt's test ACME server) issues and
renews through certbot's dns-route53 plugin, whose Route53 is moto_server. The hub's own
cert-renew unit does the work; the dashboard unit serves the result."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.harness.acme import running_pebble
from tests.harness.hub_harness import Hub, served_certificate, wait_for
from tests.harness.local import emulator_client, free_port

FIGURES: dict[str, float] = {}
DASHBOARD_NAME = "dashboard.acme.test"


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_pebble(tmp_path_factory.mktemp("pebble")) as settings:
        yield settings


@pytest.fixture(scope="module")
def hub(aws_emulator: dict[str, str], pebble: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    route53 = emulator_client(aws_emulator, "route53")
    route53.create_hosted_zone(Name="acme.test", CallerReference=f"certs-{time.time()}")
    secrets = emulator_client(aws_emulator, "secretsmanager")
    secrets.create_secret(Name="certtest/dashboard-admin", SecretString=json.dumps({"email": "it@flare.test", "password": "x" * 24}))
    hub = Hub(tmp_path_factory.mktemp("hub"), {
        **aws_emulator, **pebble, "PROJECT": "certtest", "ADMIN_SECRET_NAME": "certtest/dashboard-admin",
        "ADMIN_EMAIL": "it@flare.test", "DASHBOARD_NAME": DASHBOARD_NAME, "CERTIFICATE_MODE": "letsencrypt",
        "DASHBOARD_PORT": str(free_port()), "FL_PORT": str(free_port()),
    })  # fmt: skip
    hub.start_dashboard()
    try:  # the units stop even when the dashboard never answered
        hub.wait_for_dashboard()
        yield hub
    finally:
        hub.stop_all()
    if FIGURES:
        print("\ncertificate figures: " + ", ".join(f"{k} {v:.1f} s" for k, v in FIGURES.items()))


def installed(hub: Hub) -> x509.Certificate:
    return x509.load_pem_x509_certificate((hub.data / "certs" / "web.crt").read_bytes())


def serving(hub: Hub) -> x509.Certificate:
    return x509.load_pem_x509_certificate(served_certificate(int(hub.settings["DASHBOARD_PORT"])))


def test_dashboard_starts_with_a_placeholder_before_issuance(hub: Hub) -> None:
    certificate = serving(hub)
    assert certificate.issuer == certificate.subject  # self-signed until Let's Encrypt answers
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == DASHBOARD_NAME


def test_first_issuance_installs_the_certificate_and_the_dashboard_serves_it(hub: Hub) -> None:
    start = time.monotonic()
    result = hub.run("flare-cert-renew.service")
    FIGURES["first issuance"] = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
    certificate = installed(hub)
    assert "Pebble" in certificate.issuer.rfc4514_string()
    assert certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [
        DASHBOARD_NAME
    ]
    assert oct((hub.data / "certs" / "web.key").stat().st_mode & 0o777) == "0o600"
    assert "reload-or-restart flare-proxy.service" in hub.calls()
    wait_for(lambda: serving(hub).serial_number == certificate.serial_number, timeout=60)


def test_forced_renewal_installs_a_new_serial_and_the_proxy_serves_it_without_a_restart(hub: Hub) -> None:
    before = installed(hub).serial_number
    proxy = hub.pid("flare-proxy.service")
    reloads = hub.calls().count("reload-or-restart flare-proxy.service")
    start = time.monotonic()
    result = hub.run("flare-cert-renew.service", FLARE_FORCE_RENEWAL="1")
    FIGURES["forced renewal"] = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
    after = installed(hub).serial_number
    assert after != before
    assert hub.calls().count("reload-or-restart flare-proxy.service") == reloads + 1
    wait_for(lambda: serving(hub).serial_number == after, timeout=60)
    assert hub.pid("flare-proxy.service") == proxy  # nginx re-read the certificate (SIGHUP): no connection dropped


def test_a_failing_renewal_keeps_the_current_certificate_serving(hub: Hub) -> None:
    before = installed(hub).serial_number
    result = hub.run("flare-cert-renew.service", FLARE_FORCE_RENEWAL="1", ACME_SERVER=f"https://127.0.0.1:{free_port()}/dir")
    assert result.returncode != 0
    assert "renewal failed" in result.stdout
    assert installed(hub).serial_number == before
    assert serving(hub).serial_number == before


def test_a_renamed_dashboard_gets_a_certificate_for_its_new_name(hub: Hub) -> None:
    renamed = "board.acme.test"
    result = hub.run("flare-cert-renew.service", DASHBOARD_NAME=renamed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"issuing a certificate for {renamed} (the current one is for {DASHBOARD_NAME})" in result.stdout
    names = installed(hub).extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == [renamed]
    again = hub.run("flare-cert-renew.service", DASHBOARD_NAME=renamed)
    assert again.returncode == 0 and "issuing" not in again.stdout  # renewals from now on


def test_dns_challenge_went_through_route53_and_was_cleaned_up(hub: Hub, aws_emulator: dict[str, str]) -> None:
    route53 = emulator_client(aws_emulator, "route53")
    zone = next(z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == "acme.test.")
    certbot_log = "".join(p.read_text() for p in (hub.data / "letsencrypt" / "logs").glob("letsencrypt.log*"))
    assert f"{zone['Id']}/rrset" in certbot_log  # the plugin wrote the TXT record into this zone
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert not [r for r in records if r["Type"] == "TXT"]
