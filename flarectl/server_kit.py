"""Publish the FL server's startup kit to the hub without ssh.

The Project Admin downloads the server kit from the dashboard and runs
`flarectl server-kit install PATH`: the kit goes to the kit store under server/kits/, and
server/current.json names it. The hub's flare-kit-sync timer (every minute) verifies the
sha256, unpacks it next to the previous kit, switches to it and restarts the FL server.
`flarectl server-kit rollback` points current.json back at the kit it replaced.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

REQUIRED = ("startup/fed_server.json", "startup/server.crt", "startup/server.key", "startup/rootCA.pem")
POINTER = "server/current.json"


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
                    raise KitError(f"{path} is password-protected; pass the password the dashboard showed with --zip-password")
                source.setpassword(password.encode())
            buffer = io.BytesIO()
            try:
                with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
                    for info in source.infolist():
                        bundle.writestr(info.filename, source.read(info))
            except RuntimeError as error:
                raise KitError(f"{path}: cannot read the zip ({error}); check --zip-password") from None
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


def read_pointer(s3: Any, bucket: str) -> dict | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=POINTER)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def install(s3: Any, bucket: str, path: Path, password: str | None = None) -> dict:
    archive = kit_archive(path, password)
    digest = hashlib.sha256(archive).hexdigest()
    key = f"server/kits/{digest}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=archive, ServerSideEncryption="aws:kms")
    previous = read_pointer(s3, bucket)
    if previous is not None:
        previous.pop("previous", None)
        if previous["sha256"] == digest:
            return previous
    pointer = {
        "key": key,
        "sha256": digest,
        "name": path.name,
        "published": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "previous": previous,
    }
    s3.put_object(Bucket=bucket, Key=POINTER, Body=json.dumps(pointer, indent=2).encode(), ServerSideEncryption="aws:kms")
    return pointer


def rollback(s3: Any, bucket: str) -> dict:
    current = read_pointer(s3, bucket)
    if current is None or not current.get("previous"):
        raise KitError("no earlier server kit to roll back to")
    pointer = {**current["previous"], "previous": {k: v for k, v in current.items() if k != "previous"}}
    s3.put_object(Bucket=bucket, Key=POINTER, Body=json.dumps(pointer, indent=2).encode(), ServerSideEncryption="aws:kms")
    return pointer


def kit_bucket_from_stack(stack_name: str) -> str:
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == "KitBucket":
            return output["OutputValue"]
    raise KitError(f"stack {stack_name} has no KitBucket output; is it a FlareServerStack?")
