"""`flarectl kit install ZIP`: a startup kit zip from the dashboard, unpacked where it is used.

The dashboard's zips have no top folder (it zips from inside the participant's folder) and are
encrypted with the PIN it shows. A Lead's admin kit goes to ~/.nvflare/<project>/<user>, where
`flarectl submit` looks; a site's kit goes where `--to` says (its `kit:` in the federation
file). The PIN is asked for, never taken from the command line (it would show in `ps` and the
shell history). Private keys get mode 600; nothing is overwritten; a failure leaves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from flarectl.hosts.common import startup_kit

KINDS = {"startup/fed_admin.json": "admin", "startup/fed_client.json": "site", "startup/fed_server.json": "server"}


class KitInstallError(Exception):
    pass


def kind_and_root(names: list[str]) -> tuple[str, str]:
    """The kit's kind and the folder in the zip that holds startup/ ('' for the dashboard's)."""
    found = [(kind, name[: -len(marker)]) for name in names for marker, kind in KINDS.items() if name.endswith(marker)]
    if len(found) != 1:
        raise KitInstallError("not a startup kit: it needs exactly one startup/fed_admin.json, fed_client.json or fed_server.json")
    return found[0]


def encrypted(path: Path) -> bool:
    with zipfile.ZipFile(path) as bundle:
        return any(info.flag_bits & 0x1 for info in bundle.infolist())


def ask_pin(path: Path) -> str | None:
    """The PIN of a PIN-protected zip (None for a folder or a plain zip): from the terminal
    (getpass), or one line of standard input when that is not a terminal (`... < pin-file`).
    Never from the command line, which `ps` shows to every user, nor from shell history."""
    import getpass
    import sys

    if not (path.is_file() and zipfile.is_zipfile(path) and encrypted(path)):
        return None
    return getpass.getpass(f"PIN the dashboard showed for {path.name}: ") if sys.stdin.isatty() else sys.stdin.readline().strip()


def default_target(staged: Path, kind: str, home: Path) -> Path:
    if kind != "admin":
        raise KitInstallError(f"a {kind} kit goes where its federation file's kit: says; pass --to that folder")
    admin = json.loads((staged / "startup" / "fed_admin.json").read_text())["admin"]
    return home / ".nvflare" / str(admin["project_name"]) / str(admin["username"])


def install(path: Path, pin: str | None, *, to: Path | None, home: Path) -> tuple[Path, str]:
    """(where the kit now is, its kind)."""
    if not zipfile.is_zipfile(path):
        raise KitInstallError(f"{path} is not a zip file; pass the kit the dashboard downloaded")
    with zipfile.ZipFile(path) as bundle:
        unsafe = startup_kit.unsafe_members(bundle)
        if unsafe:
            raise KitInstallError(f"{path} has an unsafe path {unsafe[0]!r}; not unpacked")
        kind, root = kind_and_root(bundle.namelist())
        staging = Path(tempfile.mkdtemp(prefix=".flarectl-kit-"))
        try:
            try:
                startup_kit.extract(bundle, staging, pin.encode() if pin else None)
            except RuntimeError:
                raise KitInstallError("the PIN does not open the zip; use the one the dashboard showed for this download") from None
            staged = staging / root if root else staging
            target = to or default_target(staged, kind, home)
            if target.exists() and any(target.iterdir()):
                raise KitInstallError(
                    f"{target} already holds files; move them away first (a kit is a private key: nothing is overwritten)"
                )
            for key in staged.glob("startup/*.key"):
                os.chmod(key, 0o600)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target.rmdir()
            shutil.move(str(staged), str(target))
            os.chmod(target, 0o700)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target, kind
