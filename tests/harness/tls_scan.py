"""sslyze (PyPI; its own venv, made by `make test`: .tools/sslyze) against a TLS port on loopback,
checked against Mozilla's "intermediate" configuration by sslyze's own compliance checker."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import needs

SSLYZE = Path(__file__).resolve().parents[2] / ".tools" / "sslyze" / "bin" / "sslyze"


@dataclass(frozen=True)
class Scan:
    suites: dict[str, set[str]]  # accepted cipher suites by protocol (only protocols that accept any)
    curves: set[str]
    resumed: bool  # a session ID or ticket resumption succeeded
    hsts: str | None
    not_compliant: set[str]  # the Mozilla checker's failed rules, by name


def scan(host: str, port: int, server_name: str) -> Scan:
    needs(SSLYZE.exists(), "sslyze (`make .tools/sslyze/.installed`)")
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "scan.json"
        # NAME:PORT{IP}: connect to IP, send NAME as SNI and Host (the certificate's name).
        result = subprocess.run(
            [str(SSLYZE), "--mozilla_config=intermediate", "--resum", "--http_headers", "--json_out", str(report), f"{server_name}:{port}{{{host}}}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        found = json.loads(report.read_text())["server_scan_results"][0]["scan_result"]
    suites = {}
    for version in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1", "tls_1_2", "tls_1_3"):
        accepted = {s["cipher_suite"]["name"] for s in found[f"{version}_cipher_suites"]["result"]["accepted_cipher_suites"]}
        if accepted:
            suites[version] = accepted
    resumption = found["session_resumption"]["result"]
    headers = found["http_headers"]["result"]
    hsts = headers.get("strict_transport_security_header")
    return Scan(
        suites=suites,
        curves={c["name"] for c in found["elliptic_curves"]["result"]["supported_curves"]},
        resumed=resumption["session_id_successful_resumptions_count"] > 0 or resumption["tls_ticket_resumption_result"] == "SUCCEEDED",
        hsts=None if hsts is None else f"max-age={hsts['max_age']}",
        not_compliant=set(re.findall(r"^\s+\* (\w+): ", result.stdout, re.MULTILINE)),
    )
