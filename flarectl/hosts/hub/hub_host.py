"""Host operations every hubctl command shares: the log line, handing files to the service
user, systemctl, private files written atomically, and Secrets Manager."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path


def log(message: str) -> None:
    print(f"hubctl: {message}", flush=True)


PROXY = "flare-proxy.service"

SERVICE_USER = "nvflare"


def own(path: Path, recursive: bool = True) -> None:
    """Root-run helpers (timers, certbot hooks) hand what they write to the service user (with
    UMask=0077 a folder root makes is root's alone: the services could not even look inside)."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:  # only on a test machine: the bootstrap creates the user first
        return
    for item in [path, *(path.rglob("*") if recursive and path.is_dir() else [])]:
        shutil.chown(item, SERVICE_USER, SERVICE_USER)


def systemctl(verb: str, unit: str, saying: str) -> bool:
    """systemctl VERB UNIT, said in the log; False when systemctl failed."""
    log(f"{saying} {unit}")
    if subprocess.run(["systemctl", verb, unit], check=False).returncode == 0:
        return True
    log(f"could not {saying.removesuffix('ing')} {unit}")
    return False


def restart(unit: str) -> bool:
    return systemctl("restart", unit, "restarting")


def reload(unit: str) -> bool:
    """The unit's ExecReload (nginx re-reads its certificate), or a start when it is not running."""
    return systemctl("reload-or-restart", unit, "reloading")


def write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 600, so a reader never sees half a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def secret_json(name: str) -> dict:
    import boto3

    return json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])


def unit_active(unit: str) -> bool:
    return subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False).returncode == 0
