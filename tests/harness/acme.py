"""Pebble, Let's Encrypt's test ACME server, on 127.0.0.1 (one per user: it keeps state in memory)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import needs
from tests.harness.hub_harness import https_get, wait_for
from tests.harness.local import free_port


def make_ca_and_localhost_cert(directory: Path) -> tuple[Path, Path, Path]:
    """Pebble's Debian package ships no TLS certificate for its own API: make one."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ACME API CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2)).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


@contextmanager
def running_pebble(directory: Path) -> Iterator[dict[str, str]]:
    """Yields ACME_SERVER (its directory URL) and REQUESTS_CA_BUNDLE (the CA of its API's certificate)."""
    needs(shutil.which("pebble") is not None, "pebble (Debian package 'pebble'), Let's Encrypt's test ACME server")
    ca, cert, key = make_ca_and_localhost_cert(directory)
    port = free_port()
    config = directory / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{port}", "managementListenAddress": f"127.0.0.1:{free_port()}",
        "certificate": str(cert), "privateKey": str(key), "httpPort": free_port(), "tlsPort": free_port(),
        "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}))  # fmt: skip
    env = {**os.environ, "PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
    log = (directory / "pebble.log").open("w")
    process = subprocess.Popen(["pebble", "-config", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}/dir"
    wait_for(lambda: https_get(url)[0] == 200, timeout=30)
    try:
        yield {"ACME_SERVER": url, "REQUESTS_CA_BUNDLE": str(ca)}
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
