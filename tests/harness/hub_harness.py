"""Runs the hub's own systemd units on this machine, in a temporary directory.

Each unit's Environment= and ExecStart are taken from flarectl/hosts/hub/units/ and only the
host paths are mapped (/var/lib/nvflare and /run -> temp dirs, /opt/nvflare/venv -> this venv,
/opt/nvflare/hub/hubctl.py -> flarectl/hosts/hub/hubctl.py). EnvironmentFile (hub.env, written
by the bootstrap) is replaced by the test's settings. `systemctl` is the stand-in in
fake_systemctl.py, so what hubctl restarts really restarts. What systemd itself provides is
given as it would: RUNTIME_DIRECTORY, CREDENTIALS_DIRECTORY (the dashboard's secret_key, made
as the bootstrap makes it). The proxy is the real nginx (Debian package nginx) with the hub's
own configuration; only its workers' user and its access log (a file, not syslog) differ.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flarectl.host_scripts import HOSTS_DIR
from tests.conftest import needs
from tests.harness.fake_systemctl import pid_of
from tests.harness.governance import nvflare_default_authz

UNITS = HOSTS_DIR / "hub" / "units"
VENV = Path(sys.prefix)


def unit_directives(unit: str | Path) -> dict[str, list[str]]:
    """A unit file's directives: a hub unit by name, or any unit file by path."""
    directives: dict[str, list[str]] = {}
    for line in (unit if isinstance(unit, Path) else UNITS / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            directives.setdefault(key.strip(), []).append(value.strip())
    return directives


# A complete hub.env as bootstrap.sh writes it (hubctl requires every key); tests override some.
HUB_ENV = {
    "PROJECT": "test",
    "FL_PORT": "8002",
    "KIT_BUCKET": "",
    "ADMIN_SECRET_NAME": "",
    "ADMIN_EMAIL": "",
    "DASHBOARD_NAME": "",
    "CERTIFICATE_MODE": "self-signed",
    "CERT_SECRET_NAME": "",
    "ACME_SERVER": "https://acme-v02.api.letsencrypt.org/directory",
    "SERVER_NAME": "localhost",
    "PROJECT_TITLE": "NVFlare federation test",
    "PROJECT_DESCRIPTION": "",
    "FREEZE_PROJECT": "true",
    "SITE_LOST_AFTER_SECONDS": "60",
    "SERVER_AUTHORIZATION": json.dumps(nvflare_default_authz()),  # governance.hub left out: NVFlare's own default
}


class Hub:
    def __init__(self, root: Path, settings: dict[str, str]):
        self.root = root
        self.data = root / "data"
        self.systemd = root / "systemd"
        self.bin = root / "bin"
        self.run_dir = root / "run"
        for directory in (self.data, self.systemd, self.bin, self.run_dir / "flare-dashboard", self.run_dir / "flare-proxy"):
            directory.mkdir(parents=True, exist_ok=True)
        secret_key = self.data / "dashboard" / "secret_key"  # bootstrap.sh: prepare_data_dir
        if not secret_key.exists():
            secret_key.parent.mkdir(mode=0o700, exist_ok=True)
            secret_key.write_text(secrets.token_hex(32) + "\n")
        systemctl = self.bin / "systemctl"
        systemctl.write_text(f'#!/bin/sh\nexec {sys.executable} {Path(__file__).parent / "fake_systemctl.py"} "$@"\n')
        systemctl.chmod(0o755)
        self.settings = {**HUB_ENV, **settings}
        self.paths = {
            "/var/lib/nvflare": str(self.data),
            "/run": str(self.run_dir),
            "/opt/nvflare/venv/bin/python": sys.executable,
            "/opt/nvflare/venv": str(VENV),
            "/opt/nvflare/certbot/bin/certbot": str(VENV / "bin" / "certbot"),
            "/opt/nvflare/hub/hubctl.py": str(HOSTS_DIR / "hub" / "hubctl.py"),
        }
        for unit in ("flare-dashboard.service", "flare-proxy.service", "flare-server.service"):
            self.register(unit)

    def map(self, value: str) -> str:
        for host_path, local in self.paths.items():
            if value == host_path or value.startswith(host_path + "/"):
                return local + value[len(host_path) :]
        return value

    def command(self, unit: str) -> tuple[list[str], dict[str, str]]:
        """The unit's ExecStart and environment, with host paths mapped to this machine."""
        directives = unit_directives(unit)
        assert directives["EnvironmentFile"] == ["/etc/nvflare/hub.env"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NVFL")}
        for assignment in shlex.split(" ".join(directives.get("Environment", []))):
            key, value = assignment.split("=", 1)
            env[key] = self.map(value)
        if "RuntimeDirectory" in directives:
            env["RUNTIME_DIRECTORY"] = str(self.run_dir / directives["RuntimeDirectory"][0])
        if "LoadCredential" in directives:
            env["CREDENTIALS_DIRECTORY"] = str(self.data / "dashboard")  # secret_key:/var/lib/nvflare/dashboard/secret_key
        if "FLARE_PROXY_USER" in env:
            env["FLARE_PROXY_USER"] = pwd.getpwuid(os.geteuid()).pw_name
            env["FLARE_PROXY_ACCESS_LOG"] = str(self.root / "proxy-access.log")
        env.update(self.settings)
        env["PATH"] = f"{self.bin}{os.pathsep}{VENV / 'bin'}{os.pathsep}{env['PATH']}"
        env["FAKE_SYSTEMD_DIR"] = str(self.systemd)
        env["HOME"] = str(self.data)
        argv = [self.map(word) for word in shlex.split(directives["ExecStart"][0])]
        return argv, env

    def register(self, unit: str) -> None:
        argv, env = self.command(unit)
        (self.systemd / f"{unit}.json").write_text(json.dumps({"argv": argv, "env": env, "cwd": str(self.root)}))

    def start_dashboard(self) -> None:
        """What systemd starts at boot: the dashboard on its socket and the proxy on DASHBOARD_PORT."""
        needs(shutil.which("nginx", path="/usr/sbin:/usr/bin") is not None, "nginx (Debian package nginx), the hub's proxy")
        self.systemctl("start", "flare-dashboard.service", "flare-proxy.service")

    def wait_for_dashboard(self, timeout: float = 180) -> float:
        """Seconds until the proxy answers the dashboard's page; on a timeout, the units' logs say why."""
        url = f"https://127.0.0.1:{self.settings['DASHBOARD_PORT']}/"
        try:
            return wait_for(lambda: https_get(url)[0] == 200, timeout=timeout)
        except AssertionError:
            logs = {unit: self.log(unit).splitlines()[-30:] for unit in ("flare-dashboard.service", "flare-proxy.service")}
            raise AssertionError(f"the dashboard did not answer at {url} within {timeout} s; logs: {logs}") from None

    def serve(self, server_kit: Path) -> None:
        """Install a provisioned server kit as the current one, start the FL server unit and
        wait until its port accepts connections."""
        shutil.copytree(server_kit, self.data / "kits" / "provisioned")
        (self.data / "kits" / "current").symlink_to("provisioned")
        self.systemctl("start", "flare-server.service")
        port = int(self.settings["FL_PORT"])
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() is None, timeout=120, interval=0.5)

    def systemctl(self, *args: str) -> int:
        _, env = self.command("flare-dashboard.service")
        return subprocess.run([str(self.bin / "systemctl"), *args], env=env).returncode

    def run(self, unit: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """Run a oneshot unit (health, kit-sync, cert-renew) to completion."""
        argv, env = self.command(unit)
        return subprocess.run(argv, env={**env, **extra_env}, capture_output=True, text=True, timeout=300)

    def run_cut_at(self, unit: str, point: str, points: Path) -> subprocess.CompletedProcess[str]:
        """Run a oneshot hubctl unit killed with SIGKILL at `point` (tests/harness/power_cut.py),
        each step it reached listed in `points`."""
        argv, env = self.command(unit)
        assert argv[1].endswith("hubctl.py"), argv
        power_cut = Path(__file__).parent / "power_cut.py"
        return subprocess.run([argv[0], str(power_cut), point, str(points), *argv[1:]], env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    def pid(self, unit: str) -> int | None:
        return pid_of(unit, self.systemd)

    def log(self, unit: str) -> str:
        path = self.systemd / f"{unit}.log"
        return path.read_text() if path.exists() else ""

    def calls(self) -> list[str]:
        path = self.systemd / "calls.log"
        return path.read_text().splitlines() if path.exists() else []

    def stop_all(self) -> None:
        for spec in self.systemd.glob("*.json"):
            self.systemctl("stop", spec.stem)


def https_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
        return response.status, response.read()


def wait_for(check, timeout: float, interval: float = 0.2) -> float:
    """Seconds until check() is true; AssertionError after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if check():
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s: {getattr(check, '__name__', check)}")


def served_certificate(port: int) -> bytes:
    return ssl.get_server_certificate(("127.0.0.1", port)).encode()
