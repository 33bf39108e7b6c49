"""`flarectl federation status`: the Project Admin's view of the federation, through NVFlare's
Flare API with an admin startup kit: every site (connected or not, last seen, NVFlare
version), the jobs running and recently finished, the server's uptime, and days left on the
server's and the dashboard's certificates."""

from __future__ import annotations

import json
import socket
import ssl
import time
from pathlib import Path
from typing import Any

from flarectl.lead import server_state, session_for

CONNECTED_WITHIN = 30  # seconds since the last heartbeat (clients send one about every 10 s)
RECENT_JOBS = 5
TIMEOUT = 5.0


def days_left(not_after: str, now: float) -> int:
    return int((ssl.cert_time_to_seconds(not_after) - now) // 86400)


def server_certificate_days(kit: Path, now: float) -> int | str:
    """Days left on the certificate the server presents to this admin kit (verified against its root CA)."""
    admin = json.loads((kit / "startup" / "fed_admin.json").read_text())["admin"]
    context = ssl.create_default_context(cafile=str(kit / "startup" / admin.get("ca_cert", "rootCA.pem")))
    context.check_hostname = False  # NVFlare names its server by identity, not by DNS
    context.load_cert_chain(
        str(kit / "startup" / admin.get("client_cert", "client.crt")), str(kit / "startup" / admin.get("client_key", "client.key"))
    )
    try:
        with socket.create_connection((admin["host"], int(admin["port"])), timeout=TIMEOUT) as raw, context.wrap_socket(raw) as tls:
            certificate = tls.getpeercert() or {}
    except (OSError, ssl.SSLError) as error:
        return f"cannot check: {error}"
    return days_left(str(certificate["notAfter"]), now)


def dashboard_certificate_days(url: str, now: float) -> int | str:
    """Days left on the dashboard's HTTPS certificate (not verified: a self-signed hub is fine here)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        pem = ssl.get_server_certificate((parts.hostname or "", parts.port or 443), timeout=TIMEOUT)
    except (OSError, ssl.SSLError) as error:
        return f"cannot reach {url}: {error}"
    from cryptography import x509

    not_after = x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc.timestamp()
    return int((not_after - now) // 86400)


def collect(kit: Path, *, expected: list[str], dashboard: str | None, now: float | None = None, timeout: float = 20) -> dict[str, Any]:
    """Everything the view shows, as plain data (the --json output)."""
    now = time.time() if now is None else now
    session = session_for(kit, timeout=timeout)
    try:
        info = session.get_system_info()
        try:
            versions = session.report_version("all")
        except Exception:  # an old server or a client that does not answer: the versions stay unknown
            versions = {}
        jobs = session.list_jobs(reverse=True)
    finally:
        session.close()
    seen = {client.name: client.last_connect_time for client in info.client_info}
    sites = []
    for name in sorted(set(seen) | set(expected)):
        last = seen.get(name)
        # The server's clock may run ahead of this machine's: a time "in the future" is just now.
        since = None if last is None else max(0, round(now - last))
        connected = since is not None and since <= CONNECTED_WITHIN
        sites.append(
            {
                "name": name,
                "connected": connected,
                "last_seen": last,
                "seconds_since_seen": since,
                "known_to_server": name in seen,
                "expected": name in expected,
                "nvflare_version": versions.get(name, {}).get("version") if connected else None,
            }
        )
    admin = json.loads((kit / "startup" / "fed_admin.json").read_text())["admin"]
    dashboard = dashboard or f"https://{admin['host']}"
    start = info.server_info.start_time
    return {
        "server": {
            "state": server_state(info.server_info.status, start),
            "engine_status": info.server_info.status,
            "started": start,
            "uptime_seconds": None if start is None else round(now - start),
            "nvflare_version": versions.get("server", {}).get("version"),
            "certificate_days_left": server_certificate_days(kit, now),
        },
        "dashboard": {"url": dashboard, "certificate_days_left": dashboard_certificate_days(dashboard, now)},
        "sites": sites,
        "jobs": {
            "running": [job_row(job) for job in jobs if job.get("status") == "RUNNING"],
            "recent": [job_row(job) for job in jobs if str(job.get("status", "")).startswith("FINISHED")][:RECENT_JOBS],
        },
        "missing": [site["name"] for site in sites if site["expected"] and not site["connected"]],
    }


def job_row(job: dict[str, Any]) -> dict[str, str]:
    return {key: str(job.get(key, "")) for key in ("job_id", "job_name", "status", "submit_time", "duration")}


def ago(seconds: int | None) -> str:
    if seconds is None:
        return "not seen (unknown to the server)"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now" if seconds == 0 else f"{seconds} s ago"


def days(value: int | str) -> str:
    return f"{value} days left" if isinstance(value, int) else value


def render(report: dict[str, Any]) -> str:
    server = report["server"]
    lines = [
        f"server: {server['state']} (NVFlare {server['nvflare_version'] or 'unknown'})",
        f"server certificate: {days(server['certificate_days_left'])}",
        f"dashboard certificate ({report['dashboard']['url']}): {days(report['dashboard']['certificate_days_left'])}",
        "",
        f"{'SITE':<24} {'STATE':<14} {'LAST SEEN':<30} NVFLARE",
    ]
    for site in report["sites"]:
        state = "connected" if site["connected"] else "not connected"
        lines.append(f"{site['name']:<24} {state:<14} {ago(site['seconds_since_seen']):<30} {site['nvflare_version'] or '-'}")
    for title, jobs in (("running jobs", report["jobs"]["running"]), ("recently finished jobs", report["jobs"]["recent"])):
        lines += ["", f"{title} ({len(jobs)}):"]
        lines += [
            f"  {job['job_id']}  {job['job_name']}  {job['status']}  submitted {job['submit_time']}  ran {job['duration']}" for job in jobs
        ]
    if "governance" in report:
        lines += ["", "governance (from the federation file; a site enforces what its last setup wrote):"]
        lines += [f"  {name}: {stance}" for name, stance in report["governance"].items()]
    if report["missing"]:
        lines += ["", f"MISSING (expected, not connected): {', '.join(report['missing'])}"]
    return "\n".join(lines)
