"""The FL server's kits under the data volume: the one the Project Admin publishes (kit-sync),
or the hub's own, made by its dashboard from the federation file (project); switching and
unpacking them so the server never sees half a kit, even when the power goes mid-way (what a
cut leaves behind is never used, and is cleared by the next run)."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import startup_kit
from hub_host import log, own, restart, secret_json, write_private
from hub_settings import Hub

REQUIRED_SERVER_FILES = ("fed_server.json", "server.crt", "server.key", "rootCA.pem")


def current_kit(hub: Hub) -> Path:
    return hub.kits / "current"


@contextmanager
def kits_locked(hub: Hub) -> Iterator[None]:
    """One writer of the kits folder at a time (project and kit-sync are separate units), which
    then clears what an interrupted writer left: unpacked halves and temporary files."""
    hub.kits.mkdir(parents=True, exist_ok=True)
    with (hub.kits / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stray in hub.kits.glob(".staging-*"):
            shutil.rmtree(stray, ignore_errors=True)
        for stray in hub.kits.glob(".*.*"):  # write_private's and replace_link's temporaries
            if stray.is_symlink() or stray.is_file():
                stray.unlink()
        yield


def prune_unused_dashboard_kits(hub: Hub) -> None:
    """The hub's own kits that are neither current nor previous: made by a run the power cut
    before it switched to them."""
    linked = {os.readlink(link) for link in (hub.kits / "current", hub.kits / "previous") if link.is_symlink()}
    for kit in hub.kits.glob("dashboard-*"):
        if kit.name not in linked:
            shutil.rmtree(kit)


def write_resources(hub: Hub, kit: Path) -> None:
    """Job and snapshot stores on the data volume, not in /tmp shared by every process."""
    resources = json.loads((kit / "local" / "resources.json.default").read_text())
    stores = hub.data / "server"
    resources["snapshot_persistor"]["args"]["storage"]["args"]["root_dir"] = str(stores / "snapshot-storage")
    for component in resources["components"]:
        if component["id"] == "job_manager":
            component["args"]["uri_root"] = str(stores / "jobs-storage")
    # fl_server/site_watch.py (on the server's PYTHONPATH): a job learns that a site restarted.
    resources["components"].append({"id": "restarted_site_watch", "path": "site_watch.RestartedSiteWatch", "args": {}})
    (kit / "local" / "resources.json").write_text(json.dumps(resources, indent=2))


def write_authorization(hub: Hub, kit: Path) -> None:
    """The federation file's governance.hub as the server's local/authorization.json (NVFlare
    reads it at start; the hub's kit is the Project Admin's, so it is always rewritten)."""
    policy = json.loads(hub.server_authorization)
    (kit / "local" / "authorization.json").write_text(json.dumps(policy, indent=2) + "\n")


def kit_org(kit: Path) -> str:
    for word in (kit / "startup" / "sub_start.sh").read_text().split():
        if word.startswith("org="):
            return word.split("=", 1)[1]
    raise SystemExit(f"hubctl: {kit}/startup/sub_start.sh names no org; is this a server startup kit?")


def kit_sync(hub: Hub) -> int:
    """Install the kit named by s3://KIT_BUCKET/server/current.json (written by flarectl), if it
    is this hub's: its project, server name and port are hub.env's."""
    with kits_locked(hub):
        return sync_published_kit(hub)


def sync_published_kit(hub: Hub) -> int:
    import boto3
    import dashboard_project as dp  # beside this file
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3")
    try:
        pointer = json.loads(s3.get_object(Bucket=hub.kit_bucket, Key="server/current.json")["Body"].read())
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            log("no server kit published yet")
            return 0
        raise
    kit_id = pointer["sha256"][:16]
    target = hub.kits / kit_id
    current = current_kit(hub)
    applied = hub.kits / "published.sha256"  # the last pointer applied: a kit the hub made itself stays until a new one
    if applied.exists() and applied.read_text() == pointer["sha256"]:
        return 0
    if current.is_symlink() and os.readlink(current) == kit_id:  # switched to by a run cut before it restarted the server
        restart("flare-server.service")
        write_private(applied, pointer["sha256"].encode())
        log(
            f"server kit {kit_id} ({pointer.get('name', pointer['key'])}) was current but not yet noted as applied; the server restarted with it"
        )
        return 0
    if not target.exists():
        archive = s3.get_object(Bucket=hub.kit_bucket, Key=pointer["key"])["Body"].read()
        if hashlib.sha256(archive).hexdigest() != pointer["sha256"]:
            log(f"kit {pointer['key']} does not match its sha256; not installed")
            return 1
        unpack_kit(archive, target)
    mismatch = dp.kit_mismatch(target, project=hub.project, server_name=hub.server_name or None, port=hub.fl_port)
    if mismatch:
        shutil.rmtree(target)
        log(f"server kit {kit_id} ({pointer.get('name', pointer['key'])}) is not this hub's: {mismatch}; not installed "
            "(publish the server kit of this project: flarectl server-kit install)")  # fmt: skip
        return 1
    switch_kit(hub, kit_id)
    restart("flare-server.service")
    write_private(applied, pointer["sha256"].encode())
    log(f"server kit {kit_id} ({pointer.get('name', pointer['key'])}) is now current")
    return 0


def published_kit_in_use(hub: Hub) -> bool:
    """Is the current kit the one `flarectl server-kit install` published (as kit-sync applied it)?"""
    applied, current = hub.kits / "published.sha256", current_kit(hub)
    return applied.exists() and current.is_symlink() and os.readlink(current) == applied.read_text()[:16]


def unpack_kit(archive: bytes, target: Path, password: bytes | None = None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    own(target.parent, recursive=False)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        try:
            startup_kit.extract(bundle, staging, password)
        except startup_kit.UnsafeKit as error:
            shutil.rmtree(staging)
            raise SystemExit(f"hubctl: {error}") from None
    root = next((p.parent.parent for p in staging.rglob("startup/fed_server.json")), None)
    missing = [name for name in REQUIRED_SERVER_FILES if root is None or not (root / "startup" / name).exists()]
    if missing or root is None:
        shutil.rmtree(staging)
        raise SystemExit(f"hubctl: not a server startup kit; missing startup/{', startup/'.join(missing)}")
    os.chmod(root / "startup" / "server.key", 0o600)
    own(root)  # before it appears under its name: a kit there is whole and the server's to read
    root.rename(target)
    shutil.rmtree(staging, ignore_errors=True)


def switch_kit(hub: Hub, kit_id: str) -> None:
    """current -> new kit, previous -> the kit it replaces (kept for rollback)."""
    current = current_kit(hub)
    if current.is_symlink():
        replace_link(hub.kits / "previous", os.readlink(current))
    replace_link(current, kit_id)


def replace_link(link: Path, target: str) -> None:
    temporary = link.with_name(f".{link.name}.new")
    if temporary.is_symlink():
        temporary.unlink()
    temporary.symlink_to(target)
    os.replace(temporary, link)


def project(hub: Hub) -> int:
    """See dashboard_project.py; exit 0 done, 1 retry later, 2 the Project Admin must act."""
    with kits_locked(hub):
        return install_dashboard_kit(hub)


def install_dashboard_kit(hub: Hub) -> int:
    import dashboard_project as dp  # beside this file
    import hub_health

    if not hub_health.dashboard_answers(hub.dashboard_socket, timeout=10):
        log("project: the dashboard does not answer yet; trying again in 5 s")
        return 1
    try:
        wanted = dp.wanted_settings(project=hub.project, title=hub.project_title, description=hub.project_description,
                                    server_name=hub.server_name or dp.public_address(), fl_port=hub.fl_port)  # fmt: skip
        admin = secret_json(hub.admin_secret_name)
        dashboard = dp.Dashboard(hub.dashboard_socket)
        dashboard.login(admin["email"], admin["password"])
        settings = dp.configure(dashboard, wanted, hub.freeze_project, log)
        if not settings.get("frozen"):
            return 0
        if published_kit_in_use(hub):
            log("project: the server kit the Project Admin published is in use; the hub does not replace it with its own")
            return 0
        state = hub.kits / dp.STATE_FILE
        mark = dp.fingerprint(wanted)
        if state.exists() and json.loads(state.read_text()).get("fingerprint") == mark:
            log("project: as the federation file says; the hub's server kit for it is installed")
            return 0
        archive, pin = dp.server_kit(dashboard)
        kit_id = "dashboard-" + hashlib.sha256(archive).hexdigest()[:12]
        target = hub.kits / kit_id
        if not target.exists():
            unpack_kit(archive, target, password=pin.encode())
        try:
            dp.check_kit(target, wanted)
        except dp.DashboardError:
            shutil.rmtree(target)
            raise
    except dp.FrozenProject as error:
        log(f"project: {error}")
        return 2
    except dp.DashboardError as error:
        log(f"project: {error}; trying again in 5 s")
        return 1
    switch_kit(hub, kit_id)
    prune_unused_dashboard_kits(hub)
    restart("flare-server.service")
    # Last: a run cut before this makes and installs a kit again (the project is frozen by then).
    write_private(state, json.dumps({"fingerprint": mark, "kit": kit_id}).encode())
    log(f"project: made and installed the server kit {kit_id} for {wanted['server1']}:{hub.fl_port}; the FL server starts with it")
    return 0
