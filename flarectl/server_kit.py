"""Publish the FL server's startup kit to the hub without ssh.

The Project Admin downloads the server kit from the dashboard and runs
`flarectl server-kit install PATH`: the kit goes to the kit store under server/kits/, and
server/current.json names it. The hub's flare-kit-sync timer (every minute) verifies the
sha256, unpacks it next to the previous kit, switches to it and restarts the FL server.
The kit must be this federation's: its project, server name (with DNS) and port are checked
against the federation file before anything is published. `flarectl server-kit rollback`
points current.json at the newest earlier kit not rolled away from, and says which;
`flarectl server-kit list` shows the history (server/history.json).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from flarectl.hosts.common.startup_kit import KitIdentity, identity

REQUIRED = ("startup/fed_server.json", "startup/server.crt", "startup/server.key", "startup/rootCA.pem")
POINTER = "server/current.json"
HISTORY = "server/history.json"  # every kit published, newest first; withdrawn ones marked


class KitError(Exception):
    pass


def kit_archive(path: Path, password: str | None = None) -> bytes:
    """A plain zip of the kit, from a folder or from the dashboard's (optionally encrypted) zip."""
    if path.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                bundle.write(file, f"{path.name}/{file.relative_to(path)}")
        archive = buffer.getvalue()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as source:
            if any(info.flag_bits & 0x1 for info in source.infolist()):
                if not password:
                    raise KitError(
                        f"{path} is protected by the PIN the dashboard showed: type it when asked, or give it as one line on standard input"
                    )
                source.setpassword(password.encode())
            buffer = io.BytesIO()
            try:
                with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
                    for info in source.infolist():
                        bundle.writestr(info.filename, source.read(info))
            except RuntimeError as error:
                raise KitError(
                    f"{path}: the PIN does not open the zip ({error}); use the one the dashboard showed for this download"
                ) from None
        archive = buffer.getvalue()
    else:
        raise KitError(f"{path} is neither a folder nor a zip file; pass the server startup kit the dashboard gave you")
    check_server_kit(archive, path)
    return archive


def check_server_kit(archive: bytes, label: Path) -> None:
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    roots = {name[: -len(REQUIRED[0])] for name in names if name.endswith(REQUIRED[0])}
    if len(roots) != 1:
        raise KitError(f"{label} is not a server startup kit: it needs exactly one startup/fed_server.json (found {len(roots)})")
    root = roots.pop()
    missing = [name for name in REQUIRED if root + name not in names]
    if missing:
        raise KitError(f"{label} is not a server startup kit: missing {', '.join(missing)}")


def kit_identity(archive: bytes) -> KitIdentity:
    """What a server kit serves, from its startup/fed_server.json."""
    bundle = zipfile.ZipFile(io.BytesIO(archive))
    name = next(n for n in bundle.namelist() if n.endswith(REQUIRED[0]))
    return identity(json.loads(bundle.read(name)))


def check_identity(archive: bytes, label: Path, *, project: str, server_name: str | None, port: int) -> None:
    """The kit is for this federation: the project, the server's name (known with DNS) and port."""
    kit = kit_identity(archive)
    found = [
        f"{what} is {have!r}, the federation file says {want!r}"
        for what, have, want in (("project", kit.project, project), ("server name", kit.host, server_name), ("port", kit.port, port))
        if want is not None and have != want
    ]
    if found:
        raise KitError(
            f"{label} is not this federation's server kit: {'; '.join(found)}. Download the server kit of project {project} "
            "from its dashboard (or check -c names the right federation file); nothing was published"
        )


def read_pointer(s3: Any, bucket: str) -> dict | None:
    return _read_json(s3, bucket, POINTER)


def read_history(s3: Any, bucket: str) -> list[dict]:
    """Every kit published, newest first. A store from before the history: its pointer chain."""
    history = _read_json(s3, bucket, HISTORY)
    if history is not None:
        return list(history)
    chain, entry = [], read_pointer(s3, bucket)
    while entry:
        chain.append({k: v for k, v in entry.items() if k != "previous"})
        entry = entry.get("previous")
    return chain


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def _put_json(s3: Any, bucket: str, key: str, value: Any) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(value, indent=2).encode(), ServerSideEncryption="aws:kms")


def install(s3: Any, bucket: str, path: Path, password: str | None = None, *, expect: dict[str, Any] | None = None) -> dict:
    """Publish the kit; `expect` (project, server_name, port) is checked first."""
    archive = kit_archive(path, password)
    if expect is not None:
        check_identity(archive, path, **expect)
    digest = hashlib.sha256(archive).hexdigest()
    key = f"server/kits/{digest}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=archive, ServerSideEncryption="aws:kms")
    previous = read_pointer(s3, bucket)
    if previous is not None:
        previous.pop("previous", None)
        if previous["sha256"] == digest:
            return previous
    entry = {"key": key, "sha256": digest, "name": path.name, "published": _now()}
    history = [entry, *(e for e in read_history(s3, bucket) if e["sha256"] != digest)]
    _put_json(s3, bucket, HISTORY, history)
    _put_json(s3, bucket, POINTER, {**entry, "previous": previous})
    return {**entry, "previous": previous}


def rollback(s3: Any, bucket: str) -> dict:
    """Back to the newest earlier kit not rolled away from; the current one is marked withdrawn,
    so a second rollback goes further back instead of re-publishing it."""
    current = read_pointer(s3, bucket)
    history = read_history(s3, bucket)
    if current is None:
        raise KitError("no server kit is published; nothing to roll back")
    position = next((i for i, e in enumerate(history) if e["sha256"] == current["sha256"]), 0)
    earlier = [e for e in history[position + 1 :] if not e.get("withdrawn")]
    if not earlier:
        raise KitError(f"no earlier server kit to roll back to from {current.get('name', current['sha256'][:16])}")
    target = earlier[0]
    for entry in history:
        if entry["sha256"] == current["sha256"]:
            entry["withdrawn"] = _now()
    _put_json(s3, bucket, HISTORY, history)
    pointer = {k: v for k, v in target.items() if k != "withdrawn"}
    _put_json(s3, bucket, POINTER, {**pointer, "previous": {k: v for k, v in current.items() if k != "previous"}})
    return pointer


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def kit_bucket_from_stack(stack_name: str) -> str:
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == "KitBucket":
            return output["OutputValue"]
    raise KitError(f"stack {stack_name} has no KitBucket output; is it a FlareServerStack?")
