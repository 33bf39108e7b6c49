"""What a startup kit says, read one way everywhere: which server and port it dials (a client's
or an admin's kit) or serves (the server's), for which project and site; and unpacking a kit
zip with no path that escapes its folder. Standard library only, for hosts, which have no
flarectl; flarectl imports it as flarectl.hosts.common.startup_kit."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

SETTINGS_FILES = ("fed_server.json", "fed_client.json", "fed_admin.json")


@dataclass(frozen=True)
class KitIdentity:
    project: str  # fed_server.json's servers[0].name is the project's name
    host: str
    port: int
    site: str | None  # a client kit's fqsn; None for a server's or an admin's

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def identity(settings: dict) -> KitIdentity:
    """From the parsed startup/fed_*.json: `servers[0].service.target` is "host:port"."""
    server = settings["servers"][0]
    host, _, port = str(server["service"]["target"]).rpartition(":")
    return KitIdentity(project=str(server["name"]), host=host, port=int(port), site=settings.get("client", {}).get("fqsn"))


def read_identity(startup: Path) -> KitIdentity:
    """The identity of the kit whose startup/ folder this is."""
    found = [startup / name for name in SETTINGS_FILES if (startup / name).exists()]
    if not found:
        raise FileNotFoundError(f"{startup} holds none of {', '.join(SETTINGS_FILES)}")
    return identity(json.loads(found[0].read_text()))


def unsafe_members(bundle: zipfile.ZipFile) -> list[str]:
    """Members that would land outside the folder they are unpacked into."""
    return [name for name in bundle.namelist() if name.startswith("/") or ".." in Path(name).parts]


class UnsafeKit(ValueError):
    """A kit zip with a member whose path leaves its folder; nothing was unpacked."""


def extract(bundle: zipfile.ZipFile, folder: Path, password: bytes | None = None) -> None:
    """Unpack into `folder` (a fresh staging folder the caller moves into place), refusing the
    whole zip when any member's path leaves it. A wrong PIN raises RuntimeError (zipfile's)."""
    unsafe = unsafe_members(bundle)
    if unsafe:
        raise UnsafeKit(f"the kit has an unsafe path {unsafe[0]!r}; not unpacked")
    bundle.extractall(folder, pwd=password)
