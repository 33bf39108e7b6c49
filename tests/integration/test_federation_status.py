"""`flarectl federation status` against a real FL server (the hub's unit) and real clients:
two sites connected, one stopped, one never started; a finished job; a dashboard stand-in
whose HTTPS certificate ends in 20 days."""

from __future__ import annotations

import datetime
import http.server
import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flarectl.cli import main as flarectl
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.jobs import numpy_job
from tests.harness.local import free_port
from tests.harness.provision import ADMIN, client_command, provision

UP, STOPPED, NEVER = ["site-up-1", "site-up-2"], "site-stopped", "site-never"


def dashboard_stand_in(directory: Path, days: int) -> http.server.HTTPServer:
    """An HTTPS server on localhost whose self-signed certificate ends in `days` days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days, hours=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))  # fmt: skip

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fl_port = free_port()
    prod = provision(tmp_path_factory.mktemp("provision"), project="statusfed", fl_port=fl_port, clients=[*UP, STOPPED, NEVER])
    hub = Hub(tmp_path_factory.mktemp("hub"), {"PROJECT": "statusfed", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    hub.serve(prod / "localhost")
    logs = tmp_path_factory.mktemp("logs")
    clients = {
        site: subprocess.Popen(
            client_command(prod / site, site), cwd=prod / site, stdout=(logs / f"{site}.log").open("w"), stderr=subprocess.STDOUT
        )  # fmt: skip
        for site in [*UP, STOPPED]
    }
    dashboard = dashboard_stand_in(tmp_path_factory.mktemp("dashboard"), days=20)
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    session = new_secure_session(ADMIN, str(prod / ADMIN), timeout=60)
    try:
        wait_for(lambda: {c.name for c in session.get_system_info().client_info} == {*UP, STOPPED}, timeout=120, interval=1)
        clients[STOPPED].terminate()
        clients[STOPPED].wait(timeout=30)
        stopped_at = time.time()
        job_id = session.submit_job(str(numpy_job(tmp_path_factory.mktemp("job") / "status-job", clients=len(UP), rounds=1)))
        session.monitor_job(job_id, timeout=300)
        # The server keeps a stopped client until its heartbeat times out; by then it has not been seen for a while.
        time.sleep(max(0.0, stopped_at + 35 - time.time()))
        yield {"prod": prod, "job_id": job_id, "dashboard": f"https://localhost:{dashboard.server_port}"}
    finally:
        session.close()
        dashboard.shutdown()
        for process in clients.values():
            process.terminate()
        for process in clients.values():
            process.wait(timeout=30)
        hub.stop_all()


def status(federation: dict, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = flarectl(["federation", "status", "--kit", str(federation["prod"] / ADMIN), "--dashboard", federation["dashboard"], *args])
    return code, capsys.readouterr().out


def server_certificate_days(federation: dict) -> int:
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate((federation["prod"] / "localhost" / "startup" / "server.crt").read_bytes())
    return int((certificate.not_valid_after_utc.timestamp() - time.time()) // 86400)


def test_the_table_shows_every_site_the_jobs_and_the_certificates(federation: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = status(federation, capsys, "--expect", NEVER)
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0].startswith("server: up since ") and lines[0].endswith(", no job running (NVFlare 2.9.0)")
    assert lines[1] == f"server certificate: {server_certificate_days(federation)} days left"
    assert lines[2] == f"dashboard certificate ({federation['dashboard']}): 20 days left"
    rows = {
        line.split()[0]: line
        for line in lines[lines.index(next(x for x in lines if x.startswith("SITE"))) + 1 :]
        if line.startswith("site-")
    }
    assert set(rows) == {*UP, STOPPED, NEVER}
    for site in UP:
        assert rows[site].split()[1] == "connected" and rows[site].endswith(" 2.9.0")
    assert rows[STOPPED].split()[1:3] == ["not", "connected"] and " s ago" in rows[STOPPED] and rows[STOPPED].endswith(" -")
    assert "not connected  not seen (unknown to the server)" in rows[NEVER]
    assert "running jobs (0):" in lines
    finished = lines[lines.index("recently finished jobs (1):") + 1]
    assert finished.startswith(f"  {federation['job_id']}  status-job  FINISHED:COMPLETED  submitted ")
    assert lines[-1] == f"MISSING (expected, not connected): {NEVER}"


def test_json_for_scripts(federation: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = status(federation, capsys, "--json", "--expect", UP[0], "--expect", UP[1])
    assert code == 0
    report = json.loads(out)
    assert {site["name"]: site["connected"] for site in report["sites"]} == {UP[0]: True, UP[1]: True, STOPPED: False}
    assert {site["name"]: site["nvflare_version"] for site in report["sites"]} == {UP[0]: "2.9.0", UP[1]: "2.9.0", STOPPED: None}
    stopped = next(site for site in report["sites"] if site["name"] == STOPPED)
    assert stopped["seconds_since_seen"] > 30 and stopped["known_to_server"] is True
    assert report["server"]["engine_status"] == "stopped" and report["server"]["state"].endswith("no job running")
    assert 0 < report["server"]["uptime_seconds"] < 900
    assert report["server"]["certificate_days_left"] == server_certificate_days(federation)
    assert report["dashboard"] == {"url": federation["dashboard"], "certificate_days_left": 20}
    assert [job["job_id"] for job in report["jobs"]["recent"]] == [federation["job_id"]] and report["jobs"]["running"] == []
    assert report["missing"] == []


def test_an_unreachable_dashboard_is_said_not_fatal(federation: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code = flarectl(["federation", "status", "--kit", str(federation["prod"] / ADMIN), "--dashboard", f"https://localhost:{free_port()}"])
    out = capsys.readouterr().out
    assert code == 0
    assert "dashboard certificate (https://localhost:" in out and "): cannot reach https://localhost:" in out


def test_without_a_kit_it_says_where_to_put_one(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert flarectl(["federation", "status"]) == 2
    assert "no admin startup kit found in ~/.nvflare/<project>/<user>" in capsys.readouterr().err


def test_a_server_clock_ahead_of_this_machine_never_shows_a_negative_last_seen(federation: dict) -> None:
    """Asked as if this machine's clock were 10 minutes behind the server's."""
    from flarectl import federation_status

    report = federation_status.collect(federation["prod"] / ADMIN, expected=[], dashboard=federation["dashboard"], now=time.time() - 600)
    up = [site for site in report["sites"] if site["name"] in UP]
    assert [(site["seconds_since_seen"], site["connected"]) for site in up] == [(0, True), (0, True)]
    rows = [line for line in federation_status.render(report).splitlines() if line.startswith(tuple(UP))]
    assert len(rows) == 2 and all(" just now " in row for row in rows), rows
    assert all(site["seconds_since_seen"] is None or site["seconds_since_seen"] >= 0 for site in report["sites"])


def test_an_unreachable_server_is_said_in_one_line_within_the_timeout(federation: dict, tmp_path: Path) -> None:
    """No NVFlare connector lines (they come with --debug), one line naming the server, within --timeout."""
    import shutil

    kit = tmp_path / ADMIN
    shutil.copytree(federation["prod"] / ADMIN, kit)
    config = kit / "startup" / "fed_admin.json"
    admin = json.loads(config.read_text())
    admin["admin"]["port"] = free_port()  # nothing listens there
    config.write_text(json.dumps(admin))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "flarectl", "federation", "status", "--kit", str(kit), "--timeout", "3"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"flarectl: cannot connect to the FL server at localhost:{admin['admin']['port']} within 3 s with the kit in {kit}"
    )
    assert line.endswith("is it running, and is its port open from here?")
    assert elapsed < 60, elapsed  # bounded by --timeout, not NVFlare's own retries (a generous bound: a noisy machine)
    debug = subprocess.run([sys.executable, "-m", "flarectl", "federation", "status", "--kit", str(kit), "--timeout", "3", "--debug"],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "Connecting to FLARE" in debug.stderr and "cannot send to 'server'" in debug.stderr  # NVFlare's own lines, when asked for
