"""The FL server unit against a real provisioned kit, and kit publish/switch/rollback.

The Project Admin publishes with `flarectl server-kit install`; the hub's kit-sync unit
installs it and restarts the server; a real NVFlare client connects."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from flarectl.cli import main as flarectl
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.local import emulator_client, free_port
from tests.harness.provision import ADMIN, client_command, provision

BUCKET = "hubtest-kits"


@pytest.fixture(scope="module")
def s3(aws_emulator: dict[str, str]):
    client = emulator_client(aws_emulator, "s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def kits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    fl_port = free_port()
    return provision(tmp_path_factory.mktemp("provision"), project="hubtest", fl_port=fl_port, clients=["site-1"]), fl_port


@pytest.fixture(scope="module")
def hub(aws_emulator: dict[str, str], s3, kits: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    _, fl_port = kits
    hub = Hub(tmp_path_factory.mktemp("hub"), {**aws_emulator, "PROJECT": "hubtest", "FL_PORT": str(fl_port), "KIT_BUCKET": BUCKET,
                                              "DASHBOARD_PORT": str(free_port()), "CERTIFICATE_MODE": "self-signed"})  # fmt: skip
    yield hub
    hub.stop_all()


@pytest.fixture(scope="module")
def client(kits: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    prod, _ = kits
    site = tmp_path_factory.mktemp("site") / "site-1"
    shutil.copytree(prod / "site-1", site)
    log = (site / "client.log").open("w")
    process = subprocess.Popen(client_command(site, "site-1"), cwd=site, stdout=log, stderr=subprocess.STDOUT)
    yield site
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def federation_file(kits: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Project Admin's federation file for this hub (no DNS: the server name is not checked)."""
    _, fl_port = kits
    path = tmp_path_factory.mktemp("federation") / "hubtest.yaml"
    path.write_text(f"project: hubtest\nproject_admin_email: it@hospital.test\nhub: {{fl_port: {fl_port}}}\n")
    return path


def publish(monkeypatch: pytest.MonkeyPatch, aws_emulator: dict[str, str], *args: str, config: Path | None = None) -> int:
    for key, value in aws_emulator.items():
        monkeypatch.setenv(key, value)
    return flarectl(["server-kit", *args, "--bucket", BUCKET, *(["-c", str(config)] if config else [])])


def connected_clients(prod: Path) -> list[str]:
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    session = new_secure_session(ADMIN, str(prod / ADMIN), timeout=30)
    try:
        return [client.name for client in session.get_system_info().client_info]
    finally:
        session.close()


def current(hub: Hub) -> str:
    return (hub.data / "kits" / "current").readlink().name


def test_server_unit_waits_for_a_kit(hub: Hub) -> None:
    result = hub.run("flare-kit-sync.service")
    assert result.returncode == 0 and "no server kit published yet" in result.stdout
    argv, env = hub.command("flare-server.service")
    finished = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 1 and "no server kit installed" in finished.stdout


def test_published_kit_is_installed_and_the_server_serves_clients(
    hub: Hub, kits: tuple[Path, int], client: Path, monkeypatch: pytest.MonkeyPatch, aws_emulator: dict[str, str], capsys, federation_file
) -> None:
    prod, fl_port = kits
    assert publish(monkeypatch, aws_emulator, "install", str(prod / "localhost"), config=federation_file) == 0
    assert "published localhost" in capsys.readouterr().out
    result = hub.run("flare-kit-sync.service")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hub.calls()[-1] == "restart flare-server.service"
    kit = hub.data / "kits" / current(hub)
    assert oct((kit / "startup" / "server.key").stat().st_mode & 0o777) == "0o600"
    wait_for(lambda: (kit / "local" / "resources.json").exists(), timeout=30)  # written by the restarted unit
    resources = json.loads((kit / "local" / "resources.json").read_text())
    assert str(hub.data / "server" / "jobs-storage") in json.dumps(resources)
    assert "/tmp/nvflare" not in json.dumps(resources)
    wait_for(lambda: "site-1" in connected_clients(prod), timeout=120, interval=2)
    # The file the CloudWatch agent ships as the audit trail (flarectl/hosts/hub/cloudwatch_agent.py)
    # names the admin who ran each command: the session above asked for the system info.
    audit = (hub.data / "kits" / "current" / "audit.log").read_text()
    assert f"[U:{ADMIN}]" in audit and "check_status" in audit, audit[-2000:]


def test_new_kit_switches_and_rollback_restores(
    hub: Hub,
    kits: tuple[Path, int],
    client: Path,
    monkeypatch: pytest.MonkeyPatch,
    aws_emulator: dict[str, str],
    tmp_path: Path,
    federation_file: Path,
    capsys,
) -> None:
    prod, _ = kits
    first, first_pid = current(hub), hub.pid("flare-server.service")
    renewed = tmp_path / "localhost"
    shutil.copytree(prod / "localhost", renewed)
    (renewed / "local" / "note.txt").write_text("second publication of the same server")
    assert publish(monkeypatch, aws_emulator, "install", str(renewed), config=federation_file) == 0
    assert hub.run("flare-kit-sync.service").returncode == 0
    second = current(hub)
    assert second != first
    assert (hub.data / "kits" / "previous").readlink().name == first
    assert hub.pid("flare-server.service") not in (None, first_pid)
    assert hub.run("flare-kit-sync.service").returncode == 0 and current(hub) == second  # idempotent
    wait_for(lambda: "site-1" in connected_clients(prod), timeout=120, interval=2)

    capsys.readouterr()
    assert publish(monkeypatch, aws_emulator, "rollback") == 0
    said = capsys.readouterr().out
    assert (
        said.startswith("rolled back to localhost (sha256 ")
        and "; localhost (" in said
        and "is withdrawn and is not rolled back to again" in said
    )
    assert hub.run("flare-kit-sync.service").returncode == 0
    assert current(hub) == first
    assert (hub.data / "kits" / "previous").readlink().name == second
    wait_for(lambda: "site-1" in connected_clients(prod), timeout=120, interval=2)
    # A second rollback does not re-publish the kit rolled away from: there is nothing earlier.
    assert publish(monkeypatch, aws_emulator, "rollback") == 2
    assert "no earlier server kit to roll back to from localhost" in capsys.readouterr().err
    assert publish(monkeypatch, aws_emulator, "list") == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and "  localhost, rolled back from on " in listed[0] and not listed[0].startswith("*")
    assert listed[1].startswith("* ") and listed[1].endswith("  localhost")


def test_a_power_cut_during_kit_sync_is_completed_by_the_next_run(
    hub: Hub, kits: tuple[Path, int], monkeypatch: pytest.MonkeyPatch, aws_emulator: dict[str, str], tmp_path: Path, federation_file: Path
) -> None:
    """kit-sync killed (SIGKILL, tests/harness/power_cut.py) after it switched to the published
    kit and before it restarted the server and noted the kit as applied: the next run restarts
    the server with it and notes it, so the hub's own project step never replaces it."""
    prod, _ = kits
    third = tmp_path / "localhost"
    shutil.copytree(prod / "localhost", third)
    (third / "local" / "note.txt").write_text("third publication of the same server")
    assert publish(monkeypatch, aws_emulator, "install", str(third), config=federation_file) == 0
    cut = hub.run_cut_at("flare-kit-sync.service", "run systemctl restart", tmp_path / "points")
    assert cut.returncode == -9, (tmp_path / "points").read_text()
    switched, pid = current(hub), hub.pid("flare-server.service")
    assert not (hub.data / "kits" / "published.sha256").read_text().startswith(switched)  # not yet noted
    result = hub.run("flare-kit-sync.service")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"server kit {switched} " in result.stdout + result.stderr and "the server restarted with it" in result.stdout + result.stderr
    assert current(hub) == switched and (hub.data / "kits" / "published.sha256").read_text().startswith(switched)
    assert hub.pid("flare-server.service") not in (None, pid)


def test_a_tampered_kit_is_refused(hub: Hub, s3, monkeypatch: pytest.MonkeyPatch) -> None:
    before = current(hub)
    pointer = json.loads(s3.get_object(Bucket=BUCKET, Key="server/current.json")["Body"].read())
    s3.put_object(Bucket=BUCKET, Key="server/current.json", Body=json.dumps({**pointer, "sha256": "0" * 64}).encode())
    result = hub.run("flare-kit-sync.service")
    assert result.returncode == 1 and "does not match its sha256" in result.stdout
    assert current(hub) == before
    s3.put_object(Bucket=BUCKET, Key="server/current.json", Body=json.dumps(pointer).encode())


def test_flarectl_refuses_what_is_not_a_server_kit(
    kits: tuple[Path, int], monkeypatch: pytest.MonkeyPatch, aws_emulator: dict[str, str], capsys, federation_file: Path
) -> None:
    prod, _ = kits
    assert publish(monkeypatch, aws_emulator, "install", str(prod / "site-1"), config=federation_file) == 2
    assert "is not a server startup kit" in capsys.readouterr().err


def test_another_projects_kit_is_refused_by_flarectl_and_by_the_hub(
    hub: Hub, s3, monkeypatch: pytest.MonkeyPatch, aws_emulator: dict[str, str], capsys, federation_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:  # fmt: skip
    """A kit provisioned for another project (server localhost, port 9999) is not published, and
    a pointer to one put in the store by other means is not installed."""
    other = provision(tmp_path_factory.mktemp("other"), project="otherfl", fl_port=9999, clients=["x-1"])
    pointer_before = s3.get_object(Bucket=BUCKET, Key="server/current.json")["Body"].read()
    assert publish(monkeypatch, aws_emulator, "install", str(other / "localhost"), config=federation_file) == 2
    err = capsys.readouterr().err
    assert "is not this federation's server kit: project is 'otherfl', the federation file says 'hubtest'; port is 9999" in err
    assert "nothing was published" in err
    assert s3.get_object(Bucket=BUCKET, Key="server/current.json")["Body"].read() == pointer_before
    before = current(hub)
    from flarectl import server_kit

    server_kit.install(s3, BUCKET, other / "localhost")  # no federation file: as if written into the store by hand
    try:
        result = hub.run("flare-kit-sync.service")
        assert result.returncode == 1
        assert "is not this hub's: project is 'otherfl', hub.env says 'hubtest'; port is 9999" in result.stdout
        assert current(hub) == before
    finally:
        s3.put_object(Bucket=BUCKET, Key="server/current.json", Body=pointer_before)


def test_health_check_restarts_a_server_whose_port_stopped_answering(hub: Hub, kits: tuple[Path, int], client: Path) -> None:
    """flare-server.service active, the FL port closed: the health check restarts the unit."""
    prod, fl_port = kits
    hub.systemctl("stop", "flare-server.service")
    spec = hub.systemd / "flare-server.service.json"
    real = spec.read_text()
    stand_in = json.loads(real)
    stand_in["argv"] = ["sleep", "600"]  # alive, listening on nothing: like a server that lost its listener
    spec.write_text(json.dumps(stand_in))
    hub.systemctl("start", "flare-server.service")
    spec.write_text(real)  # what a restart runs
    calls_before = len(hub.calls())
    first = hub.run("flare-health.service")
    assert f"hubctl: FL server on port {fl_port} did not answer (1 of 2 failed checks before a restart)" in first.stdout.splitlines()
    assert "restart flare-server.service" not in hub.calls()[calls_before:]
    result = hub.run("flare-health.service")
    assert result.returncode == 0, "a repair is not a failed unit (the metric says it failed)"
    assert f"hubctl: FL server on port {fl_port} did not answer 2 times in a row" in result.stdout.splitlines()
    assert hub.calls()[calls_before:].count("restart flare-server.service") == 1
    wait_for(lambda: "site-1" in connected_clients(prod), timeout=120, interval=2)


def test_health_check_restarts_a_frozen_server(hub: Hub, kits: tuple[Path, int], client: Path) -> None:
    """SIGSTOP: the kernel still accepts connections on the FL port, but the server says
    nothing; a TLS handshake the process must answer tells them apart."""
    prod, fl_port = kits
    frozen = hub.pid("flare-server.service")
    assert frozen is not None
    os.killpg(frozen, signal.SIGSTOP)
    calls_before = len(hub.calls())
    hub.run("flare-health.service")
    result = hub.run("flare-health.service")
    assert result.returncode == 0, "a repair is not a failed unit (the metric says it failed)"
    assert f"hubctl: FL server on port {fl_port} did not answer 2 times in a row" in result.stdout.splitlines()
    assert hub.calls()[calls_before:].count("restart flare-server.service") == 1
    assert hub.pid("flare-server.service") != frozen
    wait_for(lambda: "site-1" in connected_clients(prod), timeout=120, interval=2)
    healthy = hub.run("flare-health.service")
    assert f"hubctl: OK: FL server on port {fl_port}" in healthy.stdout.splitlines()


def test_health_check_starts_a_server_that_is_not_running_though_a_kit_is_installed(hub: Hub, kits: tuple[Path, int], client: Path) -> None:
    """The unit skipped at boot (volume mounted after its condition was checked) or stopped:
    the health check starts it, so a replacement host's FL server never stays down."""
    prod, _ = kits
    hub.systemctl("stop", "flare-server.service")
    calls_before = len(hub.calls())
    result = hub.run("flare-health.service")
    assert result.returncode == 0, "a repair is not a failed unit (the metric says it failed)"
    assert "FL server is not running though a server kit is installed; starting it" in result.stdout
    assert hub.calls()[calls_before:].count("restart flare-server.service") == 1
    wait_for(lambda: "site-1" in connected_clients(prod), timeout=120, interval=2)
