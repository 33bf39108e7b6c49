"""Zero-touch hub, in the hub runtime sandbox with the real dashboard and the real FL server:
flare-project.service (hubctl project) sets the dashboard's project from hub.env, freezes it,
makes the hub's own server kit and starts the FL server with it; an Org Admin registered and
approved through the API fetches the site kit with `flarectl site-kit fetch`, and that client
connects and runs a job. A second run changes nothing; a dashboard that is not up, a wrong
credential and a frozen project with other values each say so and leave nothing half-done."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.hub_harness import Hub, served_certificate, wait_for
from tests.harness.imds import imds
from tests.harness.jobs import numpy_job
from tests.harness.local import emulator_client, free_port
from tests.harness.provision import client_command

PROJECT = "zerotouch"
FIGURES: dict[str, float] = {}


def logged_fingerprint(hub: Hub) -> str:
    """The dashboard certificate's fingerprint as the proxy logged it at its (last) start: what
    the Project Admin reads off the hub (README: DashboardFingerprintCommand)."""
    lines = [
        line
        for line in hub.log("flare-proxy.service").splitlines()
        if line.startswith("hubctl: dashboard certificate SHA-256 fingerprint: ")
    ]
    return lines[-1].rsplit(" ", 1)[1]


def served_fingerprint(port: int) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(served_certificate(port)).fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2))


class Api:
    """The dashboard's JSON API, as a test participant (a browser would do the same calls)."""

    def __init__(self, port: int, fingerprint: str):
        from flarectl.site_kit import DashboardClient

        self.client = DashboardClient(f"https://127.0.0.1:{port}", fingerprint=fingerprint)

    def as_user(self, email: str, password: str) -> Api:
        self.client.token = ""
        self.client.login(email, password)
        return self

    def __call__(self, method: str, path: str, body: dict | None = None) -> dict:
        status, payload = self.client.call(method, path, body)
        assert status in (200, 201), (method, path, status, payload[:300])
        return json.loads(payload)


@pytest.fixture(scope="module")
def admin(aws_emulator: dict[str, str]) -> dict[str, str]:
    client = emulator_client(aws_emulator, "secretsmanager")
    credential = {"email": "it-admin@hospital.test", "password": secrets.token_urlsafe(18), "name": f"{PROJECT}/dashboard-admin"}
    client.create_secret(
        Name=credential["name"], SecretString=json.dumps({"email": credential["email"], "password": credential["password"]})
    )
    wrong = {"email": credential["email"], "password": "not-the-password"}
    client.create_secret(Name=f"{PROJECT}/wrong-admin", SecretString=json.dumps(wrong))
    return credential


@pytest.fixture(scope="module")
def hub(aws_emulator: dict[str, str], admin: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    settings = {
        **aws_emulator,
        "PROJECT": PROJECT,
        "FL_PORT": str(free_port()),
        "ADMIN_SECRET_NAME": admin["name"],
        "ADMIN_EMAIL": admin["email"],
        "DASHBOARD_NAME": "localhost",
        "DASHBOARD_PORT": str(free_port()),
        "SERVER_NAME": "localhost",
        "PROJECT_TITLE": "Zero touch test",
        "PROJECT_DESCRIPTION": "Breast cancer histology, 3 hospitals",
        "FREEZE_PROJECT": "true",
    }
    hub = Hub(tmp_path_factory.mktemp("hub"), settings)
    yield hub
    hub.stop_all()
    print("\nzero-touch figures: " + ", ".join(f"{k} {v:.1f} s" for k, v in FIGURES.items()))


def project_log(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_before_the_dashboard_answers_it_waits(hub: Hub) -> None:
    result = hub.run("flare-project.service")
    assert result.returncode == 1
    assert "hubctl: project: the dashboard does not answer yet; trying again in 5 s" in project_log(result)


@pytest.fixture(scope="module")
def port(hub: Hub) -> int:
    port = int(hub.settings["DASHBOARD_PORT"])
    hub.start_dashboard()
    hub.wait_for_dashboard()
    return port


def test_a_wrong_credential_changes_nothing(hub: Hub, port: int) -> None:
    result = hub.run("flare-project.service", ADMIN_SECRET_NAME=f"{PROJECT}/wrong-admin")
    assert result.returncode == 1
    assert "the dashboard refused the login of it-admin@hospital.test (401); check the admin secret; trying again in 5 s" in project_log(
        result
    )
    project = Api(port, logged_fingerprint(hub))("GET", "/project")["project"]
    assert project["frozen"] is False and project["server1"] == ""
    assert not (hub.data / "kits" / "current").exists()


def test_the_hub_configures_freezes_and_serves_its_own_kit(hub: Hub, port: int, admin: dict[str, str]) -> None:
    start = time.monotonic()
    result = hub.run("flare-project.service")
    assert result.returncode == 0, project_log(result)
    log = project_log(result)
    fl_port = int(hub.settings["FL_PORT"])
    assert f"hubctl: project {PROJECT}: server localhost:{fl_port}, frozen" in log
    assert "hubctl: project: made and installed the server kit dashboard-" in log
    project = Api(port, logged_fingerprint(hub)).as_user(admin["email"], admin["password"])("GET", "/project")["project"]
    assert {key: project[key] for key in ("short_name", "title", "description", "server1", "frozen")} == {
        "short_name": PROJECT, "title": "Zero touch test", "description": "Breast cancer histology, 3 hospitals",
        "server1": "localhost", "frozen": True,
    }  # fmt: skip
    current = hub.data / "kits" / "current"
    assert current.resolve().name.startswith("dashboard-")
    assert oct((current / "startup" / "server.key").stat().st_mode & 0o777) == "0o600"
    server = json.loads((current / "startup" / "fed_server.json").read_text())["servers"][0]
    assert server["service"]["target"] == f"localhost:{fl_port}"
    wait_for(lambda: subprocess.run(["bash", "-c", f"</dev/tcp/127.0.0.1/{fl_port}"]).returncode == 0, timeout=120, interval=0.5)
    FIGURES["dashboard answering to FL server accepting"] = time.monotonic() - start
    assert pin_nowhere(hub, log)


def pin_nowhere(hub: Hub, log: str) -> bool:
    """The PIN is never logged or stored: no 32-hex-digit word in the log or the kit state."""
    import re

    state = (hub.data / "kits" / "dashboard-kit.json").read_text()
    return not re.search(r"\b[0-9a-f]{32}\b", log) and set(json.loads(state)) == {"fingerprint", "kit"}


def test_a_second_run_changes_nothing(hub: Hub, port: int) -> None:
    kit, pid = (hub.data / "kits" / "current").resolve(), hub.pid("flare-server.service")
    result = hub.run("flare-project.service")
    assert result.returncode == 0
    assert "hubctl: project: as the federation file says; the hub's server kit for it is installed" in project_log(result)
    assert (hub.data / "kits" / "current").resolve() == kit and hub.pid("flare-server.service") == pid
    assert sorted(p.name for p in (hub.data / "kits").iterdir() if p.is_dir() and p.name.startswith("dashboard-")) == [kit.name]


def test_an_org_admin_fetches_the_site_kit_and_the_site_trains(hub: Hub, port: int, admin: dict[str, str], tmp_path: Path) -> None:
    api = Api(port, logged_fingerprint(hub))
    org_admin = {"email": "lab-admin@clinic.test", "password": secrets.token_urlsafe(12)}
    user = api("POST", "/users", {**org_admin, "name": "Lab Admin", "organization": "clinic", "role": "org_admin"})["user"]
    api.as_user(admin["email"], admin["password"])("PATCH", f"/users/{user['id']}", {"approval_state": 100})
    api.as_user(org_admin["email"], org_admin["password"])
    site = api("POST", "/clients", {"name": "site-a", "organization": "clinic", "capacity": {"num_of_gpus": 0, "mem_per_gpu_in_GiB": 0}})[
        "client"
    ]
    api.as_user(admin["email"], admin["password"])("PATCH", f"/clients/{site['id']}", {"approval_state": 100})

    kit = tmp_path / "kits" / "site-a"
    config = tmp_path / "federation.yaml"
    config.write_text(f"project: {PROJECT}\nproject_admin_email: {admin['email']}\nhub: {{fl_port: {hub.settings['FL_PORT']}}}\n"
                      f"sites:\n  - {{name: site-a, kind: linux, kit: {kit}, workdir: /srv/site-a, gpus: 0}}\n")  # fmt: skip
    env = {"FLARE_DASHBOARD_EMAIL": org_admin["email"], "FLARE_DASHBOARD_PASSWORD": org_admin["password"], "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "flarectl", "site-kit", "fetch", "--site", "site-a", "-c", str(config),
               "--dashboard", f"https://localhost:{port}"]  # fmt: skip
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and refused.stderr.strip().endswith(
        "the dashboard's certificate does not verify; for a hub without DNS (self-signed), pass --fingerprint <its SHA-256>, "
        "which the Project Admin reads off the hub (stack output DashboardFingerprintCommand)"
    )
    fingerprint = logged_fingerprint(hub)
    assert fingerprint == served_fingerprint(port)
    # Another certificate (a hub impostor, or a changed one) is refused before a password is sent.
    other = fingerprint[:-2] + ("00" if not fingerprint.endswith("00") else "11")
    impostor = subprocess.run([*command, "--fingerprint", other.replace(":", "").lower()], env={**env, "FLARE_DASHBOARD_PASSWORD": ""},
                              input="", capture_output=True, text=True, timeout=120)  # fmt: skip
    assert impostor.returncode == 2 and impostor.stderr.strip() == (
        f"flarectl: the dashboard at localhost presented a certificate with SHA-256 fingerprint {fingerprint}, not the {other} you "
        "pinned: it is not the hub you meant, or its certificate changed (ask the Project Admin)"
    )
    assert not (kit / "startup").exists()
    result = subprocess.run([*command, "--fingerprint", fingerprint], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        result.stdout.strip()
        == f"{kit}: the startup kit of site-a (dials localhost:{hub.settings['FL_PORT']}); its private key is startup/client.key (mode 600)"
    )
    assert oct((kit / "startup" / "client.key").stat().st_mode & 0o777) == "0o600"
    again = subprocess.run([*command, "--fingerprint", fingerprint], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "already holds files; move them away first" in again.stderr

    client = subprocess.Popen(client_command(kit, "site-a"), cwd=kit, stdout=(tmp_path / "client.log").open("w"), stderr=subprocess.STDOUT)
    try:
        from nvflare.fuel.flare_api.flare_api import new_secure_session

        admin_kit = fetch_admin_kit(api, admin, tmp_path)
        session = new_secure_session(admin["email"], str(admin_kit), timeout=60)
        try:
            wait_for(lambda: [c.name for c in session.get_system_info().client_info] == ["site-a"], timeout=120, interval=1)
            job = session.submit_job(str(numpy_job(tmp_path / "zero-touch-job", clients=1, rounds=1)))
            session.monitor_job(job, timeout=300)
            assert session.get_job_meta(job)["status"] == "FINISHED:COMPLETED"
        finally:
            session.close()
    finally:
        client.terminate()
        client.wait(timeout=30)


def fetch_admin_kit(api: Api, admin: dict[str, str], tmp_path: Path) -> Path:
    """The project admin's own console kit, from the same dashboard (to submit the job)."""
    import io
    import zipfile

    api.as_user(admin["email"], admin["password"])
    pin = secrets.token_hex(8)
    status, archive = api.client.call("POST", "/users/1/blob", {"pin": pin})
    assert status == 200 and archive.startswith(b"PK")
    target = tmp_path / "admin-kit" / admin["email"]
    zipfile.ZipFile(io.BytesIO(archive)).extractall(target, pwd=pin.encode())
    return target


def test_a_frozen_project_with_other_values_is_refused_plainly(hub: Hub, port: int) -> None:
    kit = (hub.data / "kits" / "current").resolve()
    result = hub.run("flare-project.service", PROJECT_TITLE="Another title", FL_PORT=str(int(hub.settings["FL_PORT"]) + 1))
    assert result.returncode == 2
    log = project_log(result)
    assert (
        "hubctl: project: the dashboard's project is frozen with other settings: title is 'Zero touch test', the federation file says 'Another title'"
        in log
    )
    assert "server_props is {'fed_learn_port': " in log and "Frozen settings cannot change" in log
    assert (hub.data / "kits" / "current").resolve() == kit


def test_without_dns_the_server_name_is_the_elastic_ip_ec2_associated(hub: Hub, port: int, aws_emulator: dict[str, str]) -> None:
    """The instance (IMDSv2 stand-in: its id, and its launch address as public-ipv4) has no
    Elastic IP yet: the project waits rather than freeze on the launch address. Once EC2 has
    the Elastic IP associated, that address is the one compared with the frozen project."""
    ec2 = emulator_client(aws_emulator, "ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance_id = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    with imds({"instance-id": instance_id, "public-ipv4": "198.51.100.23"}) as endpoint:
        waiting = hub.run("flare-project.service", SERVER_NAME="", AWS_EC2_METADATA_SERVICE_ENDPOINT=endpoint)
        assert waiting.returncode == 1
        assert f"hubctl: project: no Elastic IP is associated with {instance_id} yet; the project waits for it" in project_log(waiting)
        allocation = ec2.allocate_address(Domain="vpc")
        ec2.associate_address(AllocationId=allocation["AllocationId"], InstanceId=instance_id)
        result = hub.run("flare-project.service", SERVER_NAME="", AWS_EC2_METADATA_SERVICE_ENDPOINT=endpoint)
    assert result.returncode == 2  # the test project is frozen for localhost: the Elastic IP reached the comparison
    assert f"server1 is 'localhost', the federation file says '{allocation['PublicIp']}'" in project_log(result)
    unreachable = hub.run("flare-project.service", SERVER_NAME="", AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 1
    assert "hubctl: project: cannot read the hub's public address: cannot read instance-id from the instance metadata" in project_log(
        unreachable
    )


def test_a_kit_the_project_admin_published_is_not_replaced(hub: Hub, port: int) -> None:
    """kit-sync applied a published kit (published.sha256 names it, current points to it): the
    zero-touch step, even with its state gone, leaves it in use."""
    kits = hub.data / "kits"
    own_kit = (kits / "current").resolve()
    sha = "ab" * 32
    shutil.copytree(own_kit, kits / sha[:16])
    (kits / "published.sha256").write_text(sha)
    (kits / "current").unlink()
    (kits / "current").symlink_to(sha[:16])
    state = kits / "dashboard-kit.json"
    saved = state.read_bytes()
    state.unlink()
    try:
        result = hub.run("flare-project.service")
        assert result.returncode == 0
        assert "the server kit the Project Admin published is in use; the hub does not replace it with its own" in project_log(result)
        assert os.readlink(kits / "current") == sha[:16]
    finally:
        (kits / "current").unlink()
        (kits / "current").symlink_to(own_kit.name)
        (kits / "published.sha256").unlink()
        state.write_bytes(saved)


def test_a_lead_installs_the_dashboards_admin_kit_zip_with_one_command(hub: Hub, port: int, admin: dict[str, str], tmp_path: Path) -> None:
    """The zip the real dashboard serves (no top folder, PIN-encrypted) lands where flarectl looks,
    the PIN read from standard input (never argv), the key mode 600; a second install overwrites nothing."""
    api = Api(port, logged_fingerprint(hub)).as_user(admin["email"], admin["password"])
    pin = secrets.token_hex(8)
    status, archive = api.client.call("POST", "/users/1/blob", {"pin": pin})
    assert status == 200 and archive.startswith(b"PK")
    download = tmp_path / f"{admin['email']}.zip"
    download.write_bytes(archive)
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home)}
    command = [sys.executable, "-m", "flarectl", "kit", "install", str(download)]
    wrong = subprocess.run(command, input="not-the-pin\n", env=env, capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "the PIN does not open the zip" in wrong.stderr and not home.exists()
    result = subprocess.run(command, input=f"{pin}\n", env=env, capture_output=True, text=True, timeout=60)
    kit = home / ".nvflare" / PROJECT / admin["email"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{kit}: your admin startup kit; its private key is startup/client.key (mode 600)"
    assert oct((kit / "startup" / "client.key").stat().st_mode & 0o777) == "0o600"
    found = subprocess.run([sys.executable, "-c", "from flarectl.lead import find_kit; print(find_kit(None, False))"], env=env,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert found.stdout.strip() == str(kit.resolve())  # where `flarectl submit` looks
    again = subprocess.run(command, input=f"{pin}\n", env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already holds files; move them away first" in again.stderr


def test_site_kit_fetch_checks_the_dashboard_before_asking_for_a_password(tmp_path: Path) -> None:
    """An address nothing answers on: said at once; no email or password is asked for first."""
    config = tmp_path / "federation.yaml"
    config.write_text(f"project: {PROJECT}\nproject_admin_email: it@hospital.test\n"
                      f"sites:\n  - {{name: site-a, kind: linux, kit: {tmp_path / 'kit'}, workdir: /srv/site-a}}\n")  # fmt: skip
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "flarectl", "site-kit", "fetch", "--site", "site-a", "-c", str(config),
                             "--dashboard", f"https://localhost:{port}"], input="", env={"PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f"flarectl: cannot reach the dashboard at https://localhost:{port}/nvflare-dashboard/api/v1:")
    assert "email" not in result.stdout + result.stderr and "password" not in result.stdout + result.stderr
