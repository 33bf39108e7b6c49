"""What the long-running units exec: the proxy (nginx), the dashboard (gunicorn) and the FL
server; and the health check that restarts one that stopped answering."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from hub_certificates import FINGERPRINT_LABEL, certificate_fingerprint, ensure_certificate
from hub_host import PROXY, log, restart, secret_json, unit_active
from hub_jobs import recover_unfinished
from hub_kits import current_kit, kit_org, write_authorization, write_resources
from hub_settings import Hub


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


def server(hub: Hub) -> int:
    kit = current_kit(hub).resolve()
    if not (kit / "startup" / "fed_server.json").exists():
        log(f"no server kit installed under {current_kit(hub)}; publish one with `flarectl server-kit install`")
        return 1
    write_resources(hub, kit)
    write_authorization(hub, kit)
    recover_unfinished(hub)  # what a restart left RUNNING, before NVFlare reads the job store
    command = [
        sys.executable, "-u", "-m", "nvflare.private.fed.app.server.server_train",
        "-m", str(kit), "-s", "fed_server.json",
        "--set", "secure_train=true", f"org={kit_org(kit)}", "config_folder=config",
    ]  # fmt: skip
    os.chdir(kit)
    # fl_server/: the system components the kit's resources.json names (site_watch), for the server and its job processes.
    # NVFlare's ConfigService reads NVFLARE_<VAR> from the environment (fuel/utils/config_service.py); every job process inherits it.
    os.environ["NVFLARE_DEAD_CLIENT_GRACE_PERIOD"] = str(hub.site_lost_after_seconds)
    # The same wait for a site's last word on a job whose server part has ended (NVFlare's
    # client_outcome_wait_timeout, 900 s): a client job that missed the end would otherwise keep
    # the job RUNNING for 15 minutes, the server never asking it to stop (_sync_client_jobs).
    os.environ["NVFLARE_CLIENT_OUTCOME_WAIT_TIMEOUT"] = str(hub.site_lost_after_seconds)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent / "fl_server"), os.environ.get("PYTHONPATH")]))
    os.execv(command[0], command)


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
