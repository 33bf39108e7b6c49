#!/usr/bin/env python3
"""The site doctor: can this NVFlare client connect to its hub, and will its jobs run?

Runs where the client runs (`flare-client.sh SETTINGS doctor`, wrapped by every site kind)
and on a laptop before setup (`flarectl site doctor --kit PATH`). Standard library and the
`openssl` command only, so it works before NVFlare is installed. Each check prints `ok`,
`PROBLEM` with its fix, or `skipped` when a check it needs failed.

Exit status: 0 every check passed; 1 the site cannot connect (kit, server name, port, TLS);
2 it can connect but something will break jobs (clock, GPUs, NVFlare version, disk,
a certificate about to expire).
"""

from __future__ import annotations

import argparse
import email.utils
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import startup_kit  # beside this file (a link to flarectl/hosts/common/startup_kit.py in the repository)

KIT_FILES = ("fed_client.json", "client.crt", "client.key", "rootCA.pem")
CERT_WARN_DAYS = 30
CLOCK_TOLERANCE_SECONDS = 5
TIMEOUT = 5.0


class Problem(Exception):
    """A check failed; the message says what and how to fix it."""


class Doctor:
    # Checks whose failure means the client cannot connect (exit 1); the rest exit 2.
    CONNECTION = ("kit", "federation", "server name", "port", "tls")

    def __init__(self) -> None:
        self.results: dict[str, bool | None] = {}  # True ok, False problem, None skipped

    def check(self, name: str, needs: tuple[str, ...], run: Callable[[], tuple[Any, str]]) -> Any:
        failed = [need for need in needs if not self.results.get(need)]
        if failed:
            self.results[name] = None
            print(f"  skipped  {name:<12} (needs: {', '.join(failed)})")
            return None
        try:
            value, message = run()
        except Problem as problem:
            self.results[name] = False
            print(f"  PROBLEM  {name:<12} {problem}")
            return None
        self.results[name] = True
        print(f"  ok       {name:<12} {message}")
        return value

    def exit_code(self) -> int:
        if any(self.results.get(name) is False for name in self.CONNECTION):
            print("Result: this site cannot connect to the FL server; fix the problems above.")
            return 1
        problems = sum(1 for ok in self.results.values() if ok is False)
        if problems:
            print(f"Result: the site can connect, but fix {problems} problem(s) above before jobs run.")
            return 2
        print("Result: all checks passed.")
        return 0


def openssl(*args: str) -> str:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise Problem(f"openssl {args[0]} failed: {(result.stderr or result.stdout).strip().splitlines()[-1:]}")
    return result.stdout.strip()


def days_left(not_after: str) -> int:
    return int((ssl.cert_time_to_seconds(not_after) - time.time()) // 86400)


def kit_pin(archive: zipfile.ZipFile) -> bytes | None:
    """A PIN-protected zip's PIN: asked on the terminal, or one line of standard input (what
    `flarectl site doctor` sends). Never an argument: `ps` shows arguments to every user."""
    if not any(info.flag_bits & 0x1 for info in archive.infolist()):
        return None
    import getpass

    pin = getpass.getpass("PIN the dashboard showed for this kit: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    return pin.encode()


def find_startup(kit: Path, scratch: Path) -> Path:
    """The kit's startup/ folder: the kit as a folder, or unpacked from the dashboard's zip."""
    if kit.is_file() and zipfile.is_zipfile(kit):
        with zipfile.ZipFile(kit) as archive:
            try:
                startup_kit.extract(archive, scratch, kit_pin(archive))
            except startup_kit.UnsafeKit as error:
                raise Problem(f"{kit}: {error}; download this site's kit from its dashboard again") from None
            except RuntimeError:  # zipfile's word for an encrypted member without the right password
                raise Problem(
                    f"{kit} is protected by the PIN the dashboard showed, and no PIN or another one was given: type it when asked, "
                    "or give it as one line on standard input"
                ) from None
        found = sorted(scratch.rglob("startup/fed_client.json"))
        if not found:
            raise Problem(f"{kit} holds no startup/fed_client.json; is it a client startup kit?")
        return found[0].parent
    if not kit.exists():
        raise Problem(f"{kit} does not exist: unzip the site's startup kit there, or point --kit at the folder or zip")
    if not (kit / "startup").is_dir():
        raise Problem(f"{kit} has no startup/ folder; point at the unzipped client kit (or its zip)")
    return kit / "startup"


def check_kit(startup: Path, site: str | None) -> tuple[dict, str]:
    missing = [name for name in KIT_FILES if not (startup / name).is_file()]
    if missing:
        raise Problem(f"{startup} lacks {', '.join(missing)}: the kit is incomplete; download this site's kit again")
    if shutil.which("openssl") is None:
        raise Problem("the openssl command is missing; install it (apt install openssl) and run the doctor again")
    certificate, root = str(startup / "client.crt"), str(startup / "rootCA.pem")
    subject = openssl("x509", "-in", certificate, "-noout", "-subject", "-nameopt", "multiline")
    common_name = next((line.split("=", 1)[1].strip() for line in subject.splitlines() if "commonName" in line), "")
    site = site or common_name  # no --site: the kit's own site
    if common_name != site:
        raise Problem(f"the kit's certificate is for site '{common_name}', not '{site}'; download this site's kit")
    verify = subprocess.run(["openssl", "verify", "-CAfile", root, certificate], capture_output=True, text=True)
    expiry = openssl("x509", "-in", certificate, "-noout", "-enddate").split("=", 1)[1]
    days = days_left(expiry)
    if verify.returncode != 0 and days >= 0:
        raise Problem("client.crt is not signed by the kit's rootCA.pem: the files come from different kits; download the kit again")
    try:
        ssl.create_default_context().load_cert_chain(certificate, str(startup / "client.key"))
    except ssl.SSLError:
        raise Problem("client.key does not belong to client.crt: the files come from different kits; download the kit again") from None
    if days < 0:
        raise Problem(f"the client certificate expired on {expiry}; ask the Project Admin for a new kit for {site} from the dashboard")
    settings = json.loads((startup / "fed_client.json").read_text())
    dials = startup_kit.identity(settings)
    identity = settings["servers"][0].get("identity", dials.host)
    found = {"host": dials.host, "port": dials.port, "identity": identity, "startup": startup, "days": days}
    return found, f"complete; client.crt for {site}, signed by the kit's root CA, valid {days} more days"


def check_federation(kit: dict, server: str | None, port: int) -> tuple[None, str]:
    """The kit dials the server and port the federation file names (not another project's hub)."""
    if (server and kit["host"] != server) or kit["port"] != port:
        raise Problem(
            f"the kit dials {kit['host']}:{kit['port']}, the federation file names {server or kit['host']}:{port}: "
            "a kit from another project or hub; download this site's kit from its dashboard"
        )
    return None, f"dials {kit['host']}:{kit['port']}, as the federation file says"


def check_certificate_lifetime(kit: dict) -> tuple[None, str]:
    if kit["days"] < CERT_WARN_DAYS:
        raise Problem(f"the client certificate expires in {kit['days']} days; get a new kit from the dashboard before then")
    return None, f"{kit['days']} days left (warns below {CERT_WARN_DAYS})"


def check_name(kit: dict) -> tuple[list[str], str]:
    host = kit["host"]
    try:
        addresses = sorted({str(info[4][0]) for info in socket.getaddrinfo(host, kit["port"], proto=socket.IPPROTO_TCP)})
    except socket.gaierror as error:
        raise Problem(f"the server name {host} does not resolve ({error.strerror}); check the hub's DNS record or /etc/hosts") from None
    loopback = [address for address in addresses if ipaddress.ip_address(address.split("%")[0]).is_loopback]
    if loopback and host != "localhost":
        raise Problem(
            f"the server name {host} resolves to {', '.join(loopback)}, a loopback address: this machine, not the hub. "
            f"Remove {host} from /etc/hosts (Debian and Ubuntu map the machine's own name to 127.0.1.1) or fix DNS"
        )
    return addresses, f"{host} resolves to {', '.join(addresses)}"


def check_port(kit: dict) -> tuple[None, str]:
    target = f"{kit['host']}:{kit['port']}"
    try:
        socket.create_connection((kit["host"], kit["port"]), timeout=TIMEOUT).close()
    except ConnectionRefusedError:
        raise Problem(
            f"nothing accepts connections on {target} (refused): the kit's port must be the hub's fl_port, "
            "and the FL server must be running (the Project Admin can check with `flarectl federation status`)"
        ) from None
    except TimeoutError:
        raise Problem(
            f"no answer from {target} within {TIMEOUT:g} s: a firewall drops it; allow outbound TCP {kit['port']} to the hub"
        ) from None
    except OSError as error:
        raise Problem(f"cannot reach {target}: {error.strerror or error}; check the network route to the hub") from None
    return None, f"{target} accepts connections"


def check_tls(kit: dict) -> tuple[float, str]:
    """mTLS as the client does it; returns the server's clock from its HTTP Date header."""
    startup, target = kit["startup"], f"{kit['host']}:{kit['port']}"
    context = ssl.create_default_context(cafile=str(startup / "rootCA.pem"))
    context.check_hostname = False  # NVFlare checks the certificate's name against the kit's identity, as below
    context.load_cert_chain(str(startup / "client.crt"), str(startup / "client.key"))
    try:
        with socket.create_connection((kit["host"], kit["port"]), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw) as tls:
                peer: dict[str, Any] = tls.getpeercert() or {}
                tls.sendall(f"HEAD / HTTP/1.1\r\nHost: {kit['host']}\r\nConnection: close\r\n\r\n".encode())
                sent = time.time()
                reply = tls.recv(4096).decode("latin-1")
    except ssl.SSLCertVerificationError:
        raise Problem(
            f"the server on {target} has a certificate that this kit's root CA did not sign: the kit comes from another "
            "provisioning (another project, or a reset dashboard); download this site's kit again"
        ) from None
    except ssl.SSLError as error:
        if "ALERT" in error.reason or "alert" in str(error):
            raise Problem(
                f"the server on {target} refused this site's certificate ({error.reason}); download this site's kit again"
            ) from None
        raise Problem(
            f"something answers on {target} but not as an NVFlare server ({error.reason}): another service holds the port"
        ) from None
    except OSError as error:
        raise Problem(f"the TLS connection to {target} failed: {error}") from None
    subject = dict(item[0] for item in peer["subject"])
    if subject.get("commonName") != kit["identity"]:
        raise Problem(
            f"the server's certificate names {subject.get('commonName')}, the kit expects {kit['identity']}: download the kit again"
        )
    date = next((line.split(":", 1)[1].strip() for line in reply.splitlines() if line.lower().startswith("date:")), "")
    server_time = email.utils.parsedate_to_datetime(date).timestamp() if date else sent
    return (
        server_time - sent,
        f"verified {kit['identity']} against the kit's root CA; server certificate valid {days_left(peer['notAfter'])} more days",
    )


def check_clock(skew: float) -> tuple[None, str]:
    if abs(skew) > CLOCK_TOLERANCE_SECONDS:
        way = "behind" if skew > 0 else "ahead of"
        raise Problem(f"this machine's clock is {abs(skew):.0f} s {way} the server's; turn on time sync (timedatectl set-ntp true)")
    return None, f"within {CLOCK_TOLERANCE_SECONDS} s of the server's"


def check_gpus(gpus: int, memory_gib: float) -> tuple[None, str]:
    if gpus == 0:
        return None, "no GPUs registered"
    if shutil.which("nvidia-smi") is None:
        raise Problem(f"nvidia-smi is not installed, the site registered {gpus} GPU(s): install the NVIDIA driver")
    query = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    if query.returncode != 0:
        raise Problem(f"nvidia-smi fails ({(query.stderr or query.stdout).strip()}): the NVIDIA driver is not working; reinstall or reboot")
    found = [line.rsplit(",", 1) for line in query.stdout.strip().splitlines() if line.strip()]
    if not all(len(gpu) == 2 and gpu[1].strip().isdigit() for gpu in found):
        raise Problem(f"nvidia-smi answered the GPU query with {query.stdout.strip()[:200]!r}: update the NVIDIA driver")
    if len(found) < gpus:
        raise Problem(
            f"nvidia-smi shows {len(found)} GPU(s), the site registered {gpus}: change gpus in the federation file or fix the machine"
        )
    smallest_mib = min(int(mib) for _, mib in found)
    # NVFlare's own rule (GPUResourceManager): the registration times 1024 may not exceed what
    # nvidia-smi reports in MiB for any GPU, or the client does not start.
    if memory_gib * 1024 > smallest_mib:
        raise Problem(
            f"the smallest GPU reports {smallest_mib} MiB, the site registered {memory_gib:g} GiB per GPU ({memory_gib * 1024:g} MiB), "
            f"which NVFlare refuses: set gpu_memory_gib to at most {int(smallest_mib / 102.4) / 10:g}"
        )
    return None, (
        f"{len(found)} GPU(s) ({', '.join(name.strip() for name, _ in found)}), {smallest_mib} MiB or more each "
        f"(the site may register up to {int(smallest_mib / 102.4) / 10:g} GiB; it registered {memory_gib:g})"
    )


def check_nvflare(venv: Path, version: str) -> tuple[None, str]:
    python = venv / "bin" / "python"
    if not python.exists():
        raise Problem(f"no venv at {venv}: run the site's setup (flare-client.sh SETTINGS install)")
    found = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('nvflare'))"],
                           capture_output=True, text=True, timeout=60).stdout.strip()  # fmt: skip
    if found != version:
        have = f"NVFlare {found}" if found else "no NVFlare"
        raise Problem(f"the venv {venv} has {have}, the federation runs {version}: run the site's setup again")
    return None, f"NVFlare {version} in {venv}"


def check_disk(workdir: Path, min_free_gib: float) -> tuple[None, str]:
    existing = next(path for path in (workdir, *workdir.parents) if path.exists())
    free = shutil.disk_usage(existing).free / 2**30
    if free < min_free_gib:
        raise Problem(f"{free:.1f} GiB free under {existing}; jobs need at least {min_free_gib:g} GiB: free space or move the workdir")
    return None, f"{free:.0f} GiB free under {existing}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kit", required=True, type=Path, help="the client startup kit: folder or zip")
    parser.add_argument("--site", help="the site's name (default: the site the kit was made for)")
    parser.add_argument("--gpus", type=int, default=0)
    parser.add_argument("--gpu-memory-gib", type=float, default=0)
    parser.add_argument("--venv", type=Path, help="the site's venv (skipped when not given)")
    parser.add_argument("--nvflare-version", help="the federation's NVFlare version")
    parser.add_argument("--workdir", type=Path, default=Path.cwd(), help="where jobs run (disk space)")
    parser.add_argument("--min-free-gib", type=float, default=5)
    parser.add_argument("--server", help="the server name the federation file gives (checked against the kit)")
    parser.add_argument("--port", type=int, help="the FL port the federation file gives (checked against the kit)")
    args = parser.parse_args(argv)
    print(f"Site doctor for {args.site or 'the site the kit names'} (kit {args.kit})")
    doctor = Doctor()
    with tempfile.TemporaryDirectory() as scratch:
        kit = doctor.check("kit", (), lambda: check_kit(find_startup(args.kit, Path(scratch)), args.site))
        if args.port:
            doctor.check("federation", ("kit",), lambda: check_federation(kit, args.server, args.port))
        doctor.check("certificate", ("kit",), lambda: check_certificate_lifetime(kit))
        doctor.check("server name", ("kit",), lambda: check_name(kit))
        doctor.check("port", ("server name",), lambda: check_port(kit))
        skew = doctor.check("tls", ("kit", "port"), lambda: check_tls(kit))
        doctor.check("clock", ("tls",), lambda: check_clock(skew))
    doctor.check("gpus", (), lambda: check_gpus(args.gpus, args.gpu_memory_gib))
    if args.venv and args.nvflare_version:
        doctor.check("nvflare", (), lambda: check_nvflare(args.venv, args.nvflare_version))
    doctor.check("disk", (), lambda: check_disk(args.workdir, args.min_free_gib))
    return doctor.exit_code()


if __name__ == "__main__":
    sys.exit(main())
