"""Values for the property tests: Hypothesis strategies that mix what a federation file may
hold (valid values of each kind) with what it must refuse (line breaks, quotes, escapes, shell
syntax, look-alike digits, control and format characters), and the sinks' real parsers.

Shared by the unit tier (bash, YAML, JSON) and the integration tier (systemd, sbatch)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from flarectl.config.errors import ConfigError
from flarectl.federation import Federation, load_federation
from tests.harness.governance import nvflare_default_authz

# Pieces that break one parser or another when a value carries them.
HOSTILE_PIECES = [
    "\n", "\r", "\t", "\x00", "\x1a", "\x7f", "\x85", "\u2028", "\u202e", "\ufeff", "\ufffe", "\\", "\\\n", '"', "'", "`",
    "$", "$(id)", "${HOME}", "#", " ", "=", ";", "&", "|", "%", "@", ":", "/", "..", "-", "_", "０", "٣", "৩", "๓", "é", "ß",
    "x" * 300,
]  # fmt: skip
PLAIN = list("abcXYZ019.-_@/: ")


class Text:
    """A kind of text value: its valid examples, and the hostile variants of them."""

    def __init__(self, *examples: str):
        self.valid = st.sampled_from(examples)
        pieces = st.lists(st.sampled_from(HOSTILE_PIECES + PLAIN), max_size=12).map("".join)
        spliced = st.tuples(self.valid, st.integers(0, 60), st.sampled_from(HOSTILE_PIECES)).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
        )
        self.hostile = st.one_of(spliced, spliced, pieces, st.text(max_size=40))
        self.any = st.one_of(self.valid, self.hostile)


def text_like(*examples: str) -> st.SearchStrategy[str]:
    """Valid examples as they are, with a hostile piece put somewhere in them, and free text."""
    return Text(*examples).any


@st.composite
def one_field_hostile(draw: st.DrawFn, fields: dict[str, Text]) -> dict[str, str]:
    """Every field valid but at most one, which gets a hostile value: a whole file is refused
    for one bad field, so most examples must be valid elsewhere to reach the sinks."""
    chosen = draw(st.sampled_from([*[None] * len(fields), *fields]))  # half the examples all valid
    return {name: draw(kind.hostile if name == chosen else kind.valid) for name, kind in fields.items()}


def write_federation(directory: Path, data: dict[str, Any]) -> Path:
    """The file as JSON, which YAML 1.2 reads as it is: every string arrives through YAML's own
    double-quoted escapes, so the loader sees exactly these values."""
    path = directory / "federation.yaml"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def load_or_problems(path: Path) -> Federation | list[str]:
    """The federation, or the refusal's lines; anything else (a traceback) fails the test."""
    try:
        return load_federation(path)
    except ConfigError as error:
        assert error.problems and all(line.startswith(f"{path.name}: ") and "\n" not in line for line in error.problems), error.problems
        return error.problems


def accepted(directory: Path, data: dict[str, Any]) -> Federation | None:
    """The federation the file makes, or None when it is refused (cleanly: load_or_problems);
    Hypothesis counts both, so a test shows how many examples reached the sinks."""
    from hypothesis import event

    loaded = load_or_problems(write_federation(directory, data))
    event("refused" if isinstance(loaded, list) else "accepted")
    return None if isinstance(loaded, list) else loaded


def bash_reads(env_file: str, names: list[str], directory: Path) -> dict[str, str]:
    """What bash has in each variable after sourcing the file (NUL-separated, so any text
    comes back intact)."""
    path = directory / "settings.env"
    path.write_text(env_file, encoding="utf-8")
    script = 'set -eu; source "$1"; shift; for name in "$@"; do printf "%s\\0" "${!name}"; done'
    result = subprocess.run(["bash", "-c", script, "bash", str(path), *names], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return dict(zip(names, result.stdout.decode("utf-8").split("\0")[:-1], strict=True))


DEPLOY_NAMES = {"kit_bucket": "cancer-fl-kits-1a2b", "admin_secret_name": "cancer-fl/dashboard-admin", "region": "eu-central-1"}


HUB_TEXT = {
    "project": Text("cancer-fl", "Onco_2026", "a"),
    "email": Text("flare-admin@example.org", "obrien+it@hospital.example.org", "first.last%lab@x.org"),
    "acme_server": Text("https://acme-v02.api.letsencrypt.org/directory", "https://127.0.0.1:14000/dir"),
    "secret_name": Text("it/flareboard-cert", "a+b=c.d@e_f-g"),
    "title": Text("Onco FL (3 sites)", "A & B: 2026", "Lab/Site @ 3"),
    "description": Text("Breast cancer histology", ""),
    "zone": Text("mydomain.edu", "Hospital.Example.org."),
    "dashboard": Text("flareboard", "Board"),
    "server": Text("flareserver", "fl-1"),
}


@st.composite
def hub_sections(draw: st.DrawFn) -> dict[str, Any]:
    """A federation's hub-facing sections with generated text in every field hub.env carries."""
    v = draw(one_field_hostile(HUB_TEXT))
    provided, with_dns = draw(st.booleans()), draw(st.booleans())
    certificate = {"mode": "provided", "secret_name": v["secret_name"]} if provided else {"acme_server": v["acme_server"]}
    data: dict[str, Any] = {"project": v["project"], "project_admin_email": v["email"], "certificate": certificate,
                            "dashboard": {"title": v["title"], "description": v["description"]}}  # fmt: skip
    if with_dns:
        zone = v["zone"]
        data["dns"] = {"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "zone_name": zone,
                       "dashboard_name": f"{v['dashboard']}.{zone}", "server_name": f"{v['server']}.{zone}"}  # fmt: skip
    return data


def written(data: dict[str, Any], federation: Federation) -> dict[str, str]:
    """hub.env's values as the file wrote them (DNS names canonical), defaults where unset."""
    dns, certificate, dashboard = data.get("dns"), data["certificate"], data["dashboard"]
    canonical = (lambda name: name.lower().removesuffix(".")) if dns else None
    return {
        "PROJECT": data["project"],
        "ADMIN_EMAIL": data["project_admin_email"],
        "ACME_SERVER": certificate.get("acme_server", "https://acme-v02.api.letsencrypt.org/directory"),
        "CERT_SECRET_NAME": certificate.get("secret_name", ""),
        "PROJECT_TITLE": dashboard.get("title", f"NVFlare federation {data['project']}"),
        "PROJECT_DESCRIPTION": dashboard.get("description", ""),
        "DASHBOARD_NAME": canonical(dns["dashboard_name"]) if canonical and dns else "",
        "SERVER_NAME": canonical(dns["server_name"]) if canonical and dns else "",
        "KIT_BUCKET": DEPLOY_NAMES["kit_bucket"],
        "ADMIN_SECRET_NAME": DEPLOY_NAMES["admin_secret_name"],
        "AWS_DEFAULT_REGION": DEPLOY_NAMES["region"],
        "FL_PORT": "8002",
        "CERTIFICATE_MODE": federation.certificate_mode,
        "FREEZE_PROJECT": "true",
        "SITE_LOST_AFTER_SECONDS": "60",
        "SERVER_AUTHORIZATION": json.dumps(nvflare_default_authz(), separators=(",", ":"), sort_keys=True),
    }
