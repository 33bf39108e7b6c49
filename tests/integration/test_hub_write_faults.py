"""Issue 32, faults while the hub writes: power loss while it writes its project, and a data
volume that fills under the dashboard.

Power loss: flare-project (`hubctl project`, run
by the hub's own unit against the real dashboard) killed with SIGKILL at each of its steps in
turn: the freeze request, the kit download, the unpacking, each link of the kit switch, the
server's restart, the state file (tests/harness/power_cut.py). After every cut the hub's state
is consistent: the project is frozen or not, `current` is absent or a whole kit of this
project, no half-unpacked kit is in use; the next run, as systemd's retry or the next boot
makes it, completes with nothing left over.

A full volume: the dashboard refuses what it cannot write (a registration), its database
passes SQLite's `PRAGMA integrity_check`, and once space is freed it takes the same write
and the project step finds everything as it left it. The hub's data folder here is a small
file system of its own (a tmpfs), as the hub's is an EBS volume of its own."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import needs
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.local import emulator_client, fill_volume, free_port

PROJECT = "powercut"
WHOLE_KIT = ("startup/fed_server.json", "startup/server.crt", "startup/server.key", "startup/rootCA.pem", "local/resources.json.default")


ADMIN = {"email": "it-admin@hospital.test", "password": secrets.token_urlsafe(18)}


@pytest.fixture(scope="module")
def hub(aws_emulator: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    needs(os.geteuid() == 0, "root, to mount a small file system as the hub's data volume")
    emulator_client(aws_emulator, "secretsmanager").create_secret(Name=f"{PROJECT}/dashboard-admin", SecretString=json.dumps(ADMIN))
    root = tmp_path_factory.mktemp("hub")
    (root / "data").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", str(root / "data")], check=True)
    hub = Hub(root, {
        **aws_emulator, "PROJECT": PROJECT, "FL_PORT": str(free_port()), "ADMIN_SECRET_NAME": f"{PROJECT}/dashboard-admin",
        "ADMIN_EMAIL": ADMIN["email"], "DASHBOARD_NAME": "localhost", "DASHBOARD_PORT": str(free_port()),
        "SERVER_NAME": "localhost", "FREEZE_PROJECT": "true"})  # fmt: skip
    hub.start_dashboard()
    hub.wait_for_dashboard()
    yield hub
    hub.stop_all()
    subprocess.run(["umount", "--lazy", str(root / "data")], check=False)


def frozen(hub: Hub) -> bool:
    database = hub.data / "dashboard" / "db.sqlite"
    import sqlite3

    with sqlite3.connect(database) as connection:
        return bool(connection.execute("SELECT frozen FROM project").fetchone()[0])


def assert_consistent(hub: Hub, where: str) -> None:
    kits = hub.data / "kits"
    current = kits / "current"
    if current.is_symlink():
        assert frozen(hub), f"cut at {where}: a kit is current while the project is not frozen"
        missing = [name for name in WHOLE_KIT if not (current / name).is_file()]
        assert not missing, f"cut at {where}: the current kit lacks {missing}"
        server = json.loads((current / "startup" / "fed_server.json").read_text())["servers"][0]
        assert server["service"]["target"] == f"localhost:{hub.settings['FL_PORT']}", where
    else:
        assert not current.exists(), f"cut at {where}: current is not a link"
    state = kits / "dashboard-kit.json"
    if state.exists():
        assert json.loads(state.read_text())["kit"] == os.readlink(current), f"cut at {where}: the state names another kit"


# Each cut in turn, each run starting from what the cuts before it left (a run that never
# reaches its point fails the test: the step is not where the hub's code says it is).
CUTS = [
    "answer PATCH /nvflare-dashboard/api/v1/project",  # the freeze: the dashboard has it, the hub never heard
    "answer POST /nvflare-dashboard/api/v1/servers/1/blob",  # the server kit: made by the dashboard, never received
    "rename ",  # the kit unpacked, not yet under its name
    "rmtree ",  # the kit under its name, its staging folder left
    "replace {kits}/.current.new",  # no kit current yet
    "run systemctl restart flare-server.service",  # the new kit current, the server not restarted
    "replace {kits}/.previous.new",  # a second kit: previous not yet moved
    "replace {kits}/.current.new",  # previous moved, current not
    "replace {kits}/.dashboard-kit.json.",  # installed and restarted, not yet noted
]


def test_a_power_cut_at_each_step_of_freeze_and_kit_creation_leaves_a_consistent_hub(hub: Hub, tmp_path: Path) -> None:
    kits = hub.data / "kits"
    assert not frozen(hub)
    for number, cut in enumerate(CUTS):
        point = cut.format(kits=kits)
        points = tmp_path / f"points-{number}"
        result = hub.run_cut_at("flare-project.service", point, points)
        assert result.returncode == -9, f"never reached {point!r}; the steps were: {points.read_text()}"
        assert_consistent(hub, point)
        if number == 0:
            assert frozen(hub)
    result = hub.run("flare-project.service")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_consistent(hub, "no cut")
    linked = {os.readlink(kits / name) for name in ("current", "previous") if (kits / name).is_symlink()}
    left = {p.name for p in kits.iterdir()} - linked - {"current", "previous", "dashboard-kit.json", ".lock"}
    assert left == set(), f"left over from the cuts: {left}"

    def server_command() -> str:
        return Path(f"/proc/{hub.pid('flare-server.service')}/cmdline").read_bytes().replace(b"\0", b" ").decode()

    wait_for(lambda: "server_train" in server_command(), timeout=60)  # hubctl server has exec'd NVFlare
    assert f"-m {(kits / 'current').resolve()} " in server_command()  # the FL server runs the current kit
    again = hub.run("flare-project.service")
    assert again.returncode == 0 and "as the federation file says; the hub's server kit for it is installed" in again.stdout + again.stderr


def dashboard(hub: Hub) -> Any:
    """The dashboard's API as a browser uses it, through the hub's proxy (its certificate pinned
    by the fingerprint the proxy logged)."""
    from flarectl.site_kit import DashboardClient

    line = [line for line in hub.log("flare-proxy.service").splitlines() if "dashboard certificate SHA-256 fingerprint: " in line][-1]
    return DashboardClient(f"https://127.0.0.1:{hub.settings['DASHBOARD_PORT']}", fingerprint=line.rsplit(" ", 1)[1])


def integrity(hub: Hub) -> str:
    import sqlite3

    with sqlite3.connect(f"file:{hub.data / 'dashboard' / 'db.sqlite'}?mode=ro", uri=True) as connection:
        return ", ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))


def test_a_full_data_volume_leaves_the_dashboard_database_whole(hub: Hub, tmp_path: Path) -> None:
    api = dashboard(hub)
    user = {"email": "lab-admin@clinic.test", "password": secrets.token_urlsafe(12), "name": "Lab Admin", "organization": "clinic",
            "role": "org_admin"}  # fmt: skip
    ballast = fill_volume(hub.data)
    try:
        status, answer = api.call("POST", "/users", user)
        assert status >= 500, (status, answer[:300])  # refused, not half-stored
        assert integrity(hub) == "ok"
    finally:
        ballast.unlink()
    assert integrity(hub) == "ok"
    status, answer = api.call("POST", "/users", user)
    assert status in (200, 201), (status, answer[:300])
    api.login(ADMIN["email"], ADMIN["password"])
    status, answer = api.call("GET", "/users")
    assert [entry["email"] for entry in json.loads(answer)["user_list"]] == [ADMIN["email"], user["email"]]
    assert integrity(hub) == "ok"
    again = hub.run("flare-project.service")
    assert again.returncode == 0 and "as the federation file says; the hub's server kit for it is installed" in again.stdout + again.stderr
