"""`flarectl site-kit fetch`: an Org Admin downloads their site's startup kit from the
dashboard's JSON API, without a browser, and unzips it where the federation file's `kit:`
says (private key mode 600), checking that it dials the server and port the file names."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import shutil
import socket
import ssl
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flarectl.hosts.common import startup_kit
from flarectl.hosts.common.dashboard_api import API, DashboardApi, DashboardUnreachable, is_zip


class SiteKitError(Exception):
    pass


def normal_fingerprint(text: str) -> str:
    """A SHA-256 certificate fingerprint as `AB:CD:...` (accepts colons or none, any case), or
    SiteKitError."""
    digits = text.replace(":", "").strip().upper()
    if len(digits) != 64 or any(c not in "0123456789ABCDEF" for c in digits):
        raise SiteKitError(f"--fingerprint {text!r} is not a SHA-256 fingerprint (64 hex digits, colons allowed)")
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


def certificate_fingerprint(der: bytes) -> str:
    return normal_fingerprint(hashlib.sha256(der).hexdigest())


class DashboardClient(DashboardApi):
    """The dashboard's JSON API (flarectl/hosts/common/dashboard_api.py, which the hub speaks too)
    over HTTPS through the hub's proxy, with an Org Admin's messages."""

    def __init__(self, url: str, *, fingerprint: str | None = None):
        """fingerprint: a hub without DNS has a self-signed certificate, which no CA vouches for;
        it is accepted only when it is exactly the one the Project Admin read off the hub."""
        self.url = url.rstrip("/")
        address = urlsplit(self.url)
        self.host, self.port = address.hostname or "", address.port or 443
        super().__init__(self.https, self.url + API)
        self.context = ssl.create_default_context()
        self.fingerprint = fingerprint and normal_fingerprint(fingerprint)
        self.pinned = not self.fingerprint  # nothing to pin: the CAs decide

    def https(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, timeout=120, context=self.context)

    def check_pin(self) -> None:
        """Before anything is sent: the certificate the dashboard presents is the pinned one. From
        then on it is the only certificate this client trusts, on every connection."""
        if self.pinned:
            return
        look = ssl.create_default_context()
        look.check_hostname, look.verify_mode = False, ssl.CERT_NONE  # only to read the certificate, compared below
        try:
            with socket.create_connection((self.host, self.port), timeout=30) as connection:
                with look.wrap_socket(connection, server_hostname=self.host) as tls:
                    der = tls.getpeercert(binary_form=True) or b""
                    presented = certificate_fingerprint(der)
        except OSError as error:
            raise SiteKitError(f"cannot reach the dashboard at {self.where}: {error}") from None
        if presented != self.fingerprint:
            raise SiteKitError(
                f"the dashboard at {self.host} presented a certificate with SHA-256 fingerprint {presented}, not the "
                f"{self.fingerprint} you pinned: it is not the hub you meant, or its certificate changed (ask the Project Admin)"
            )
        # That certificate alone is the trust anchor (a partial chain: it may be a CA-issued leaf).
        self.context = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
        self.context.check_hostname = False  # an address, not a name: the pin is the identity
        self.context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        self.pinned = True

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        self.check_pin()
        try:
            return super().call(method, path, body)
        except DashboardUnreachable as error:
            if isinstance(error.__cause__, ssl.SSLCertVerificationError):
                raise SiteKitError(
                    f"{self.where}: the dashboard's certificate does not verify; for a hub without DNS (self-signed), pass "
                    "--fingerprint <its SHA-256>, which the Project Admin reads off the hub (stack output DashboardFingerprintCommand)"
                ) from None
            raise SiteKitError(f"cannot reach the dashboard at {self.where}: {error.__cause__}") from None

    def check_reachable(self) -> None:
        """The dashboard answers (and its certificate verifies), before anyone types a password."""
        self.call("GET", "/project")

    def login(self, email: str, password: str) -> int:
        status = super().login(email, password)
        if status == 429:
            raise SiteKitError("too many login attempts from this address; wait a minute and try again")
        if status != 200:
            raise SiteKitError(f"the dashboard refused the login of {email}; check the email and password")
        return status

    def site(self, name: str) -> dict[str, Any]:
        status, clients = self.clients()
        if status == 403:
            raise SiteKitError("your dashboard account is not approved yet; ask the Project Admin to approve it")
        found = [client for client in clients if client.get("name") == name]
        if not found:
            names = ", ".join(sorted(str(client.get("name")) for client in clients)) or "none"
            raise SiteKitError(f"no site {name!r} registered on the dashboard (registered: {names}); register it there first")
        return found[0]

    def kit(self, site: dict[str, Any]) -> tuple[bytes, str]:
        status, archive, pin = self.client_kit(site["id"])
        if status == 200 and is_zip(archive):
            return archive, pin
        if b"not approved" in archive:
            raise SiteKitError(f"site {site['name']!r} is not approved yet; ask the Project Admin to approve it in the dashboard")
        raise SiteKitError(f"the dashboard made no kit for {site['name']!r} ({status}): {archive[:200]!r}")


def check_kit(kit: Path, site: str, server_name: str | None, fl_port: int) -> str:
    """What the kit dials, or SiteKitError when it is not this site's or not this federation's server."""
    dials = startup_kit.identity(json.loads((kit / "startup" / "fed_client.json").read_text()))
    if dials.site not in (None, site):
        raise SiteKitError(f"the kit is for site {dials.site!r}, not {site!r}")
    if server_name and dials.host != server_name:
        raise SiteKitError(
            f"the kit dials {dials.host}, the federation file names the server {server_name}: the dashboard's project differs"
        )
    if dials.port != fl_port:
        raise SiteKitError(f"the kit dials port {dials.port}, the federation file's hub.fl_port is {fl_port}")
    return dials.address


def unignored_in_git(target: Path) -> str | None:
    """The git work tree that would show the kit as an untracked file (one `git add .` from a
    commit of a private key), or None."""
    import subprocess

    folder = next(path for path in (target, *target.parents) if path.exists())
    top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0:
        return None
    ignored = subprocess.run(["git", "-C", top.stdout.strip(), "check-ignore", "-q", str(target / "startup" / "client.key")])
    return None if ignored.returncode == 0 else top.stdout.strip()


def fetch(client: DashboardClient, *, email: str, password: str, site: str, target: Path, server_name: str | None, fl_port: int) -> str:
    """Download, unzip beside the target, check, then move into place: nothing half-written."""
    if target.exists() and any(target.iterdir()):
        raise SiteKitError(f"{target} already holds files; move them away first (a kit is a private key: nothing is overwritten)")
    client.login(email, password)
    archive, pin = client.kit(client.site(site))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            try:
                startup_kit.extract(bundle, staging, pin.encode())
            except startup_kit.UnsafeKit as error:
                raise SiteKitError(str(error)) from None
        dials = check_kit(staging, site, server_name, fl_port)
        os.chmod(staging / "startup" / "client.key", 0o600)
        os.chmod(staging, 0o700)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dials
