"""Boot a host for real: a Debian 12 root with systemd and cloud-init under `systemd-nspawn`.

The root is built once per machine (debootstrap + cloud-init, about a minute) and cached; every
host boots a copy of it. cloud-init's NoCloud data source gets the user data a template
carries, so the host runs it as EC2 or Azure would: at every boot, under the real systemd.

What differs from a cloud host (and why):
- Debian 12's systemd 252 and cloud-init 22.4, not Ubuntu 24.04's: Ubuntu's archive is not
  reachable from here.
- The container shares this machine's network (no --private-network), so it reaches the
  moto_server, pebble and instance-metadata stand-ins the tests start on 127.0.0.1. They are
  named by a systemd DefaultEnvironment drop-in, as the instance role and the endpoints are
  found on a real host.
- A data volume is a folder bound at its mount point before boot: systemd ignores fstab device
  entries inside a container.
- pip and apt reach the package indexes with this machine's own settings (its pip
  configuration, local index folders and CA certificates), read here at test time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import needs

CACHE = Path(os.environ.get("FLARE_TEST_CACHE", Path.home() / ".cache" / "flarectl-tests"))
MIRROR = "http://deb.debian.org/debian"
ROOT_PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv,ca-certificates,sudo"  # sudo: what an Org Admin runs the site scripts with
# No network renderer is installed and the container shares the host's network: cloud-init
# must leave it alone. Only NoCloud, so it does not probe for clouds for minutes. A minimal
# root has no locales but C.UTF-8.
CLOUD_CFG = "datasource_list: [NoCloud, None]\nnetwork: {config: disabled}\nlocale: C.UTF-8\n"
CLOUD_CFG_FILE = "etc/cloud/cloud.cfg.d/90-flare-test.cfg"
RECIPE = f"bookworm minbase {ROOT_PACKAGES} +cloud-init {CLOUD_CFG}"
# Variables that tell pip, uv and TLS clients where this machine's indexes and CAs are.
PASSED_VARIABLES = re.compile(r"^(PIP_|UV_)|^(SSL_CERT_FILE|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE)$")
BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def can_boot() -> None:
    needs(os.geteuid() == 0, "root, to build and boot a container")
    for tool in ("debootstrap", "systemd-nspawn", "nsenter"):
        needs(shutil.which(tool) is not None, f"{tool} (Debian packages debootstrap, systemd-container, util-linux)")


def debian_root() -> Path:
    """The cached root (built the first time on this machine); never booted itself."""
    target = CACHE / f"debian-root-{hashlib.sha256(RECIPE.encode()).hexdigest()[:12]}"
    if (target / ".complete").exists():
        return target
    building = target.with_name(f"{target.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    run = _runner(building)
    run("debootstrap", "--variant=minbase", f"--include={ROOT_PACKAGES}", "bookworm", str(building), MIRROR)
    run("chroot", str(building), "apt-get", "install", "-y", "-q", "--no-install-recommends", "cloud-init")
    run("chroot", str(building), "apt-get", "clean")
    (building / CLOUD_CFG_FILE).write_text(CLOUD_CFG)
    (building / "etc" / "machine-id").write_text("")  # each host makes its own at first boot
    (building / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    return target


def _runner(root: Path):
    log = root.with_suffix(".log")

    def run(*command: str) -> None:
        with log.open("a") as output:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, env=env, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"building the test root failed at {' '.join(command[:2])}; see {log}")

    return run


def package_index_settings() -> tuple[list[str], dict[str, str]]:
    """This machine's pip configuration files and the local folders they name (bound read-only
    into the host), and the PIP_/UV_/CA variables (passed to every unit)."""
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "debug"], capture_output=True, text=True).stdout
    listed += subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    variables = {k: v for k, v in os.environ.items() if PASSED_VARIABLES.match(k)}
    paths = set(re.findall(r"(?:file://)?(/[^\s'\",]+)", listed + " ".join(variables.values())))
    paths = {str(Path(p).parent) if p.endswith("/simple") else p for p in paths}  # an index's pages link to files beside them
    binds = sorted(p for p in paths if Path(p).exists() and not p.startswith(("/etc/ssl", "/usr", "/root", "/tmp", "/proc")))
    return binds, variables


class BootedHost:
    """One container: a copy of the cached root, booted with `user_data` as cloud-init's NoCloud
    seed; `environment` is every unit's (DefaultEnvironment); `binds` are {host path: path inside}."""

    def __init__(self, workdir: Path, *, name: str, user_data: bytes, environment: dict[str, str],
                 binds: dict[Path, str], extra_ca: list[Path] = (), hosts: dict[str, str] | None = None):  # fmt: skip
        can_boot()
        self.name, self.workdir = name, workdir
        self.root = workdir / "root"
        self.console = workdir / "console.log"
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", "--reflink=auto", str(debian_root()), str(self.root)], check=True)
        index_binds, index_variables = package_index_settings()
        self.binds = {Path(p): p for p in index_binds} | binds
        self.read_only = set(index_binds)
        self._seed(user_data)
        self._environment({**index_variables, "REQUESTS_CA_BUNDLE": BUNDLE, "SSL_CERT_FILE": BUNDLE, **environment})
        self._trust([*Path("/usr/local/share/ca-certificates").glob("*.crt"), *extra_ca])
        hosts_file = self.root / "etc" / "hosts"
        hosts_file.write_text(f"127.0.0.1 localhost {name}\n" + "".join(f"{ip} {n}\n" for n, ip in (hosts or {}).items()))
        (self.root / "etc" / "hostname").write_text(name + "\n")
        self.boots: list[float] = []

    def _seed(self, user_data: bytes) -> None:
        seed = self.root / "var" / "lib" / "cloud" / "seed" / "nocloud"
        seed.mkdir(parents=True)
        (seed / "meta-data").write_text(f"instance-id: {self.name}\nlocal-hostname: {self.name}\n")
        (seed / "user-data").write_bytes(user_data)

    def _environment(self, environment: dict[str, str]) -> None:
        conf = self.root / "etc" / "systemd" / "system.conf.d" / "90-flare-test.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        assignments = " ".join(f'"{k}={v}"' for k, v in sorted(environment.items()))
        conf.write_text(f"[Manager]\nDefaultEnvironment={assignments}\n")

    def _trust(self, certificates: list[Path]) -> None:
        for certificate in certificates:
            shutil.copy(certificate, self.root / "usr" / "local" / "share" / "ca-certificates" / f"{certificate.stem}.crt")
        subprocess.run(["chroot", str(self.root), "update-ca-certificates"], check=True, capture_output=True)

    # --- running ------------------------------------------------------------------------

    def boot(self, timeout: float = 900) -> float:
        """Boot and wait until systemd has finished starting (cloud-init's user data included);
        returns the seconds that took."""
        assert self.process is None, "already booted"
        command = ["systemd-nspawn", "--register=no", "--keep-unit", "--quiet", "--console=pipe", "-D", str(self.root),
                   f"--machine={self.name}", "--resolv-conf=copy-host"]  # fmt: skip
        for source, target in self.binds.items():
            if not source.exists():  # a cache folder not made yet (files such as pip.conf always exist)
                source.mkdir(parents=True)
            command.append(f"--bind{'-ro' if str(source) in self.read_only else ''}={source}:{target}")
        start = time.monotonic()
        with self.console.open("ab") as console:
            self.process = subprocess.Popen([*command, "--boot"], stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT)
        self.leader = self._wait_for_leader()
        state = ""
        while time.monotonic() - start < timeout:  # `is-system-running --wait` fails before systemd's bus is up
            state = self.run("systemctl", "is-system-running").stdout.strip()
            if state not in ("", "offline", "initializing", "starting"):
                break
            time.sleep(0.5)
        self.boots.append(time.monotonic() - start)
        if state not in ("running", "degraded"):
            raise AssertionError(f"{self.name} did not finish booting ({state}); see {self.console}")
        return self.boots[-1]

    def _wait_for_leader(self) -> int:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"systemd-nspawn exited {self.process.returncode}; see {self.console}")
            for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                for child in (task / "children").read_text().split():
                    if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                        return int(child)
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: no systemd in the container after 60 s; see {self.console}")

    def run(self, *command: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
        """A command inside the running host, as root, in all its namespaces."""
        inside = ["nsenter", "-t", str(self.leader), "-a", "--", "/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", *command]  # fmt: skip
        result = subprocess.run(inside, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}: {result.stdout}{result.stderr}")
        return result

    def systemctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", *args)

    def show(self, unit: str, prop: str) -> str:
        return self.systemctl("show", unit, "-p", prop, "--value").stdout.strip()

    def main_pid(self, unit: str) -> int:
        return int(self.show(unit, "MainPID") or 0)

    def journal(self, unit: str, boot: str = "all") -> str:
        selection = ["-b"] if boot == "current" else []
        return self.run("journalctl", "--no-pager", "-o", "cat", "-u", unit, *selection).stdout

    def poweroff(self, timeout: float = 90) -> None:
        if self.process is None:
            return
        self.run("systemctl", "poweroff", "--no-block")
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            raise AssertionError(f"{self.name} did not power off within {timeout} s; killed; see {self.console}") from None
        finally:
            self.process = None

    def new_user_data(self, user_data: bytes) -> None:
        """What a redeploy that changes the user data does to a stopped EC2 instance: its next
        boot runs the new user data. EC2's datasource fetches it at every boot; NoCloud would
        use its cached copy for the same instance id, so the cache goes."""
        assert self.process is None, "stop the host first"
        (self.root / "var" / "lib" / "cloud" / "seed" / "nocloud" / "user-data").write_bytes(user_data)
        # instances/<id>: the `instance` link inside the root is absolute, it would name this machine's.
        (self.root / "var" / "lib" / "cloud" / "instances" / self.name / "obj.pkl").unlink()

    def reboot(self, timeout: float = 900) -> float:
        """A power cycle (nspawn ends with the container's reboot): the same disk boots again."""
        self.poweroff()
        return self.boot(timeout=timeout)

    def kill(self) -> None:
        """Keep its journal beside the console log, then stop the container however it is,
        without waiting for its units (teardown)."""
        if self.process is not None:
            journal = self.run("journalctl", "--no-pager", "-o", "short-monotonic", timeout=60).stdout
            (self.workdir / "journal.log").write_text(journal)
            self.process.terminate()  # nspawn asks the container's systemd to halt
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
