#!/usr/bin/env python3
"""hubctl: what the hub's systemd units run.

  proxy         make a certificate if there is none, write nginx's configuration and exec nginx
                (HTTPS on 443 in front of the dashboard; nginx.conf says why each setting)
  dashboard     prepare and exec the NVFlare dashboard (gunicorn on a local socket)
  server        write local/resources.json and exec the FL server from the current kit
  health        check the proxy, the dashboard and the FL port; restart a unit that failed twice
                in a row (hub_health.py); publish the figures the alarms watch (hub_metrics.py)
  cert-renew    issue or renew the Let's Encrypt certificate (timer, twice a day)
  cert-deploy   certbot deploy hook: install the renewed lineage and reload the proxy
  kit-sync      install the server kit the Project Admin published in the kit store
  project       set the dashboard's project from the federation file, then make and install
                the hub's own server kit (dashboard_project.py)

Settings come from the environment (systemd's EnvironmentFile=/etc/nvflare/hub.env).
Only the standard library, boto3 and cryptography (an NVFlare dependency) are used.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REQUIRED_SERVER_FILES = ("fed_server.json", "server.crt", "server.key", "rootCA.pem")


def log(message: str) -> None:
    print(f"hubctl: {message}", flush=True)


# What bootstrap.sh writes to /etc/nvflare/hub.env (a test keeps the two in step), and what
# every unit sets with Environment=.
HUB_ENV = ("PROJECT", "FL_PORT", "KIT_BUCKET", "ADMIN_SECRET_NAME", "ADMIN_EMAIL", "DASHBOARD_NAME", "CERTIFICATE_MODE",
           "CERT_SECRET_NAME", "ACME_SERVER", "SERVER_NAME", "PROJECT_TITLE", "PROJECT_DESCRIPTION", "FREEZE_PROJECT")  # fmt: skip
UNIT_ENV = ("FLARE_DATA", "FLARE_VENV")
PROXY = "flare-proxy.service"


@dataclass(frozen=True)
class Hub:
    data: Path
    venv: Path
    project: str
    fl_port: int
    dashboard_port: int
    dashboard_name: str
    certificate_mode: str
    admin_secret_name: str
    cert_secret_name: str
    kit_bucket: str
    admin_email: str
    acme_server: str
    certbot: str
    server_name: str  # the FL server's DNS name; empty: the hub's public IP
    project_title: str
    project_description: str
    freeze_project: bool
    dashboard_socket: str  # gunicorn's socket (flare-dashboard.socket); set by the units that use it

    @classmethod
    def from_env(cls) -> Hub:
        """From what hub.env always holds (HUB_ENV) and every unit sets (UNIT_ENV): no defaults
        here, so a value is decided in one place (the stack, or the unit)."""
        env = os.environ
        missing = [name for name in (*HUB_ENV, *UNIT_ENV) if name not in env]
        if missing:
            raise SystemExit(
                f"hubctl: {', '.join(missing)} not set; run hubctl from its systemd units (EnvironmentFile=/etc/nvflare/hub.env)"
            )
        return cls(
            data=Path(env["FLARE_DATA"]),
            venv=Path(env["FLARE_VENV"]),
            project=env["PROJECT"],
            fl_port=int(env["FL_PORT"]),
            dashboard_port=int(env.get("DASHBOARD_PORT", "443")),  # the product's port; tests move it
            dashboard_name=env["DASHBOARD_NAME"],
            certificate_mode=env["CERTIFICATE_MODE"],
            admin_secret_name=env["ADMIN_SECRET_NAME"],
            cert_secret_name=env["CERT_SECRET_NAME"],
            kit_bucket=env["KIT_BUCKET"],
            admin_email=env["ADMIN_EMAIL"],
            acme_server=env["ACME_SERVER"],
            certbot=env.get("FLARE_CERTBOT", ""),  # set by the units that run certbot
            server_name=env["SERVER_NAME"],
            project_title=env["PROJECT_TITLE"],
            project_description=env["PROJECT_DESCRIPTION"],
            freeze_project=env["FREEZE_PROJECT"] == "true",
            dashboard_socket=env.get("FLARE_DASHBOARD_SOCKET", ""),
        )

    @property
    def web_root(self) -> Path:
        return self.data / "dashboard"

    @property
    def cert_dir(self) -> Path:
        return self.data / "certs"

    @property
    def kits(self) -> Path:
        return self.data / "kits"

    @property
    def letsencrypt(self) -> Path:
        return self.data / "letsencrypt"


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


# --- certificates -------------------------------------------------------------------------


def install_certificate(hub: Hub, certificate: bytes, key: bytes) -> None:
    hub.cert_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(hub.cert_dir / "web.key", key)
    write_private(hub.cert_dir / "web.crt", certificate)
    own(hub.cert_dir)


def self_signed(hub: Hub) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    name = hub.dashboard_name or socket.gethostname()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    install_certificate(
        hub,
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    log(f"generated a self-signed certificate for {name} (browsers will warn; configure dns for Let's Encrypt)")


def certbot_args(hub: Hub) -> list[str]:
    return [
        hub.certbot,
        "--config-dir", str(hub.letsencrypt / "config"),
        "--work-dir", str(hub.letsencrypt / "work"),
        "--logs-dir", str(hub.letsencrypt / "logs"),
        "--server", hub.acme_server,
        "--non-interactive",
    ]  # fmt: skip


def letsencrypt_issue(hub: Hub) -> bool:
    """First issuance through Route53 DNS-01 with the instance role (no keys on the host)."""
    result = subprocess.run(
        [
            *certbot_args(hub), "certonly", "--dns-route53", "--agree-tos", "--email", hub.admin_email,
            "--cert-name", "dashboard", "-d", hub.dashboard_name, "--keep-until-expiring",
        ],
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        log(f"Let's Encrypt issuance failed (exit {result.returncode}); the current certificate keeps serving, retrying later")
        return False
    install_lineage(hub, hub.letsencrypt / "config" / "live" / "dashboard")
    own(hub.letsencrypt)
    return True


def install_lineage(hub: Hub, lineage: Path) -> None:
    certificate, key = (lineage / "fullchain.pem").read_bytes(), (lineage / "privkey.pem").read_bytes()
    check_pair(certificate, key)
    install_certificate(hub, certificate, key)
    log(f"installed certificate from {lineage}")


def check_pair(certificate: bytes, key: bytes) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    public = x509.load_pem_x509_certificate(certificate).public_key()
    private = serialization.load_pem_private_key(key, password=None)
    encoding, form = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    if public.public_bytes(encoding, form) != private.public_key().public_bytes(encoding, form):
        raise SystemExit("hubctl: certificate and private key do not match; keeping the current certificate")


def certificate_names(path: Path) -> tuple[set[str], bool]:
    """The DNS names a PEM certificate is for, and whether it is self-signed."""
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        names = set(certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = set()
    return names, certificate.issuer == certificate.subject


FINGERPRINT_LABEL = "SHA-256 fingerprint"


def certificate_fingerprint(path: Path) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(path.read_bytes()).fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def ensure_certificate(hub: Hub) -> None:
    """Before the dashboard starts: the provided certificate, or any certificate at all.

    Let's Encrypt issuance runs in flare-cert-renew.service; until it succeeds a
    self-signed certificate serves, so the dashboard never starts without one."""
    if hub.certificate_mode == "provided":
        document = secret_json(hub.cert_secret_name)
        certificate, key = document["certificate"].encode(), document["private_key"].encode()
        check_pair(certificate, key)
        install_certificate(hub, certificate, key)
        log(f"installed the provided certificate from secret {hub.cert_secret_name}")
    elif not ((hub.cert_dir / "web.crt").exists() and (hub.cert_dir / "web.key").exists()):
        self_signed(hub)
    else:
        names, own_making = certificate_names(hub.cert_dir / "web.crt")
        if own_making and (hub.dashboard_name or socket.gethostname()) not in names:
            log(f"the self-signed certificate is for {', '.join(sorted(names))}; the dashboard is now {hub.dashboard_name}")
            self_signed(hub)


def cert_renew(hub: Hub) -> int:
    if hub.certificate_mode != "letsencrypt":
        log(f"certificate mode {hub.certificate_mode}: nothing to renew")
        return 0
    lineage = hub.letsencrypt / "config" / "live" / "dashboard"
    names = certificate_names(lineage / "fullchain.pem")[0] if lineage.exists() else set()
    if hub.dashboard_name not in names:  # none yet, or the dashboard was renamed
        log(f"issuing a certificate for {hub.dashboard_name}" + (f" (the current one is for {', '.join(sorted(names))})" if names else ""))
        if not letsencrypt_issue(hub):
            return 1
        reload(PROXY)
        return 0
    extra = ["--force-renewal"] if os.environ.get("FLARE_FORCE_RENEWAL") == "1" else []
    result = subprocess.run(
        [*certbot_args(hub), "renew", "--no-random-sleep-on-renew", *extra,
         "--deploy-hook", f"{sys.executable} {Path(__file__).resolve()} cert-deploy"],
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        log(f"renewal failed (exit {result.returncode}); the current certificate keeps serving")
    return result.returncode


def cert_deploy(hub: Hub) -> int:
    lineage = Path(os.environ["RENEWED_LINEAGE"])
    install_lineage(hub, lineage)
    reload(PROXY)
    return 0


# --- proxy and dashboard -----------------------------------------------------------------


def proxy(hub: Hub) -> int:
    """nginx as flare-proxy.service runs it: root master (binds 443, reads the certificate),
    workers as FLARE_PROXY_USER; the configuration is nginx.conf beside this file, filled in."""
    ensure_certificate(hub)
    # What an Org Admin pins (flarectl site-kit fetch --fingerprint) when no CA vouches for it;
    # the Project Admin reads it here or from the proxy log group (stack output DashboardFingerprintCommand).
    log(f"dashboard certificate {FINGERPRINT_LABEL}: {certificate_fingerprint(hub.cert_dir / 'web.crt')}")
    runtime = Path(os.environ["RUNTIME_DIRECTORY"])  # systemd's RuntimeDirectory=
    values = {
        "PROXY_USER": os.environ["FLARE_PROXY_USER"],
        "RUNTIME_DIR": str(runtime),
        "ACCESS_LOG": os.environ["FLARE_PROXY_ACCESS_LOG"],
        "DASHBOARD_SOCKET": hub.dashboard_socket,
        "PORT": str(hub.dashboard_port),
        "CERTIFICATE": str(hub.cert_dir / "web.crt"),
        "CERTIFICATE_KEY": str(hub.cert_dir / "web.key"),
    }
    text = (Path(__file__).parent / "nginx.conf").read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    configuration = runtime / "nginx.conf"
    configuration.write_text(text)
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin") or "nginx"
    os.execv(nginx, [nginx, "-e", "stderr", "-c", str(configuration), "-g", "daemon off;"])


def dashboard_initialized(hub: Hub) -> bool:
    return (hub.web_root / "db.sqlite").exists() and (hub.web_root / ".db_init_done").exists()


def dashboard(hub: Hub) -> int:
    """gunicorn on the socket systemd passes (flare-dashboard.socket), else on FLARE_DASHBOARD_SOCKET.
    The database holds the project's root CA key: its folder and file are the service user's only."""
    hub.web_root.mkdir(parents=True, exist_ok=True)
    hub.web_root.chmod(0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("NVFL_CREDENTIAL", "SECRET_KEY")}
    env["NVFL_WEB_ROOT"] = str(hub.web_root)
    if not dashboard_initialized(hub):
        # Only a fresh database needs the admin login; it goes to a short-lived child, never to logs.
        admin = secret_json(hub.admin_secret_name)
        seed_env = {**env, "NVFL_CREDENTIAL": f"{admin['email']}:{admin['password']}:{hub.project}"}
        subprocess.run([sys.executable, "-c", "from nvflare.dashboard.application import init_app; init_app()"], env=seed_env, check=True)
        log(f"created the dashboard database with project admin {admin['email']}")
    for database in hub.web_root.glob("db.sqlite*"):
        database.chmod(0o600)
    gunicorn = [
        str(hub.venv / "bin" / "gunicorn"),
        "--bind", f"unix:{hub.dashboard_socket}",
        "--workers", "2",
        "--graceful-timeout", "10",
        "--access-logfile", "-",
        "--chdir", str(Path(__file__).parent),
        "dashboard_app:app",
    ]  # fmt: skip
    os.execve(gunicorn[0], gunicorn, env)


# --- FL server ----------------------------------------------------------------------------


def current_kit(hub: Hub) -> Path:
    return hub.kits / "current"


def write_resources(hub: Hub, kit: Path) -> None:
    """Job and snapshot stores on the data volume, not in /tmp shared by every process."""
    resources = json.loads((kit / "local" / "resources.json.default").read_text())
    stores = hub.data / "server"
    resources["snapshot_persistor"]["args"]["storage"]["args"]["root_dir"] = str(stores / "snapshot-storage")
    for component in resources["components"]:
        if component["id"] == "job_manager":
            component["args"]["uri_root"] = str(stores / "jobs-storage")
    (kit / "local" / "resources.json").write_text(json.dumps(resources, indent=2))


def kit_org(kit: Path) -> str:
    for word in (kit / "startup" / "sub_start.sh").read_text().split():
        if word.startswith("org="):
            return word.split("=", 1)[1]
    raise SystemExit(f"hubctl: {kit}/startup/sub_start.sh names no org; is this a server startup kit?")


def server(hub: Hub) -> int:
    kit = current_kit(hub).resolve()
    if not (kit / "startup" / "fed_server.json").exists():
        log(f"no server kit installed under {current_kit(hub)}; publish one with `flarectl server-kit install`")
        return 1
    write_resources(hub, kit)
    command = [
        sys.executable, "-u", "-m", "nvflare.private.fed.app.server.server_train",
        "-m", str(kit), "-s", "fed_server.json",
        "--set", "secure_train=true", f"org={kit_org(kit)}", "config_folder=config",
    ]  # fmt: skip
    os.chdir(kit)
    os.execv(command[0], command)


# --- health -------------------------------------------------------------------------------


def unit_active(unit: str) -> bool:
    return subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False).returncode == 0


def health(hub: Hub) -> int:
    """Exit 0 when all is well or repaired (a failed check still counts in the metric the alarm
    watches), 1 when a repair could not even be started."""
    import hub_health  # beside this file
    import hub_metrics

    checks = hub_health.Checks(Path(os.environ.get("RUNTIME_DIRECTORY", "/run/flare-health")) / "failures.json", log, restart)
    checks.judge(PROXY, hub_health.proxy_answers(hub.dashboard_port), f"proxy on port {hub.dashboard_port}")
    checks.judge("flare-dashboard.service", hub_health.dashboard_answers(hub.dashboard_socket), "dashboard on its socket")
    if not (current_kit(hub) / "startup" / "fed_server.json").exists():
        log("FL server: no kit installed yet")
    elif not unit_active("flare-server.service"):
        # Skipped at boot (the data volume mounted after its condition was checked) or stopped:
        # nothing else would start it until the next kit or reboot.
        log("FL server is not running though a server kit is installed; starting it")
        checks.failed = True
        checks.unrepaired |= not restart("flare-server.service")
    else:
        answers = hub_health.fl_server_answers(hub.fl_port, current_kit(hub).resolve())
        checks.judge("flare-server.service", answers, f"FL server on port {hub.fl_port}")
    checks.save()
    values = hub_metrics.measurements(failed=checks.failed, certificate=hub.cert_dir / "web.crt", data=hub.data)
    hub_metrics.publish(hub.project, values, log)
    return 1 if checks.unrepaired else 0


# --- server kit delivery ------------------------------------------------------------------


def kit_sync(hub: Hub) -> int:
    """Install the kit named by s3://KIT_BUCKET/server/current.json (written by flarectl), if it
    is this hub's: its project, server name and port are hub.env's."""
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
    if (current.is_symlink() and os.readlink(current) == kit_id) or (applied.exists() and applied.read_text() == pointer["sha256"]):
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
    applied.write_text(pointer["sha256"])
    restart("flare-server.service")
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
        for member in bundle.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise SystemExit(f"hubctl: kit archive has an unsafe path {member!r}")
        bundle.extractall(staging, pwd=password)
    root = next((p.parent.parent for p in staging.rglob("startup/fed_server.json")), None)
    missing = [name for name in REQUIRED_SERVER_FILES if root is None or not (root / "startup" / name).exists()]
    if missing or root is None:
        shutil.rmtree(staging)
        raise SystemExit(f"hubctl: not a server startup kit; missing startup/{', startup/'.join(missing)}")
    os.chmod(root / "startup" / "server.key", 0o600)
    root.rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    own(target)


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


# --- zero-touch: the dashboard's project and the hub's own server kit ---------------------


def project(hub: Hub) -> int:
    """See dashboard_project.py; exit 0 done, 1 retry later, 2 the Project Admin must act."""
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
    write_private(state, json.dumps({"fingerprint": mark, "kit": kit_id}).encode())
    restart("flare-server.service")
    log(f"project: made and installed the server kit {kit_id} for {wanted['server1']}:{hub.fl_port}; the FL server starts with it")
    return 0


COMMANDS = {
    "proxy": proxy,
    "dashboard": dashboard,
    "server": server,
    "health": health,
    "cert-renew": cert_renew,
    "cert-deploy": cert_deploy,
    "kit-sync": kit_sync,
    "project": project,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args()
    return COMMANDS[args.command](Hub.from_env())


if __name__ == "__main__":
    sys.exit(main())
