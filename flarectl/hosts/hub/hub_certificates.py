"""The dashboard's certificate: a self-signed one until Let's Encrypt (certbot with the
dns-route53 plug-in) or the Project Admin's own (Secrets Manager) replaces it; renewal and the
deploy hook that reloads the proxy."""

from __future__ import annotations

import datetime
import os
import socket
import subprocess
import sys
from pathlib import Path

from hub_host import PROXY, log, own, reload, secret_json, write_private
from hub_settings import Hub

PAIR = ("web.key", "web.crt")
READY = "web.pair.ready"  # both .next files are whole: the pair may switch


def install_certificate(hub: Hub, certificate: bytes, key: bytes) -> None:
    """The key and the certificate switch as a pair, even when the power goes between the two
    files (a new key with the old certificate would keep the proxy from starting): both are
    written beside as .next, then the ready mark, then each moved in place."""
    hub.cert_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    finish_certificate_install(hub)
    write_private(hub.cert_dir / "web.key.next", key)
    write_private(hub.cert_dir / "web.crt.next", certificate)
    write_private(hub.cert_dir / READY, b"ready\n")
    finish_certificate_install(hub)


def finish_certificate_install(hub: Hub) -> None:
    """Complete a pair an interruption left half-installed, or drop one never marked ready."""
    ready = hub.cert_dir / READY
    for name in PAIR:
        pending = hub.cert_dir / f"{name}.next"
        if pending.exists() and ready.exists():
            os.replace(pending, hub.cert_dir / name)
        elif pending.exists():
            pending.unlink()
    if ready.exists():
        ready.unlink()
        log("installed the dashboard certificate and its key as a pair")
    for stray in hub.cert_dir.glob(".web.*"):  # write_private's temporaries a cut left (a key among them)
        stray.unlink()
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
    if hub.cert_dir.exists():
        finish_certificate_install(hub)  # what a power cut during the last install left
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
         "--deploy-hook", f"{sys.executable} {Path(__file__).resolve().with_name('hubctl.py')} cert-deploy"],
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
