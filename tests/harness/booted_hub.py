"""The hub booted for real (booted_host.py): the user data of a hub deployed into its own local
AWS emulator, run by cloud-init under a real systemd. S3, Secrets Manager and Route53 are
moto_server's; certificates come from pebble; the instance metadata from a stand-in on loopback.
One per test session (tests/integration/conftest.py: booted_hub); client hosts connect to it."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flarectl.federation import Federation
from tests.harness.acme import running_pebble
from tests.harness.booted_host import CACHE, BootedHost, can_boot
from tests.harness.emulated_deploy import AMI_PARAMETER, Deployment, user_data
from tests.harness.hub_harness import https_get
from tests.harness.imds import serve_imds
from tests.harness.local import start_emulator

ZONE = "boot.test"
# The hub first boots a real earlier release and is upgraded in place to the current one
# (test_hub_booted.py); every later test, and the client sites, find it at the current one.
EARLIER_NVFLARE = "2.8.3"
CURRENT_NVFLARE: str = Federation.model_fields["nvflare_version"].default  # a federation file's default
FIGURES: dict[str, str] = {}
SERVICES = ["flare-proxy.service", "flare-dashboard.service", "flare-server.service", "flare-health.service", "flare-cert-renew.service",
            "flare-kit-sync.service", "flare-project.service"]  # fmt: skip
# Test-only: the timers' first and repeated runs come within seconds, so a test sees them fire on their own.
FAST_TIMER = (
    "[Timer]\nOnBootSec=\nOnUnitActiveSec=\nOnCalendar=\nRandomizedDelaySec=0\nOnBootSec=10s\nOnUnitActiveSec=10s\nAccuracySec=1s\n"
)


def federation(zone_id: str, acme_server: str, nvflare_version: str) -> str:
    return f"""\
project: bootfl
project_admin_email: admin@flare.test
nvflare_version: "{nvflare_version}"
hub:
  ami_ssm_parameter: {AMI_PARAMETER}
dns:
  hosted_zone_id: {zone_id}
  zone_name: {ZONE}
  dashboard_name: dashboard.{ZONE}
  server_name: server.{ZONE}
certificate:
  mode: letsencrypt
  acme_server: {acme_server}
"""


class BootedHub:
    def __init__(self, deployment: Deployment, emulator: dict[str, str], metadata: dict[str, str], acme_server: str,
                 new_host: Callable[[str, bytes], BootedHost]):  # fmt: skip
        self.deployment, self.metadata, self.acme_server = deployment, metadata, acme_server
        self.emulator = emulator  # the environment AWS clients need to reach it, from this machine
        self.new_host, self.replacements = new_host, 0
        self.user_data: dict[str, bytes] = {}  # by NVFlare version: what EC2 holds after a deploy of it
        self.version = EARLIER_NVFLARE
        self.deploy(self.version)
        self.host = new_host("host", self.user_data[self.version])

    def deploy(self, version: str) -> None:
        """`cdk deploy FlareServerStack` with `nvflare_version: version`."""
        self.outputs = self.deployment.deploy(federation(self.deployment.zone_id, self.acme_server, version), "hub")
        self.metadata.update({"instance-id": self.outputs["InstanceId"], "public-ipv4": self.outputs["ElasticIp"]})
        self.user_data[version] = user_data(self.deployment, self.outputs["InstanceId"])

    def upgrade(self, version: str) -> float:
        """Set nvflare_version and deploy (once per version: the user data for a version is the
        same every time), then what EC2 does for changed user data: stop, start with the new one.
        Returns the seconds from the start to the end of the bootstrap (0: already there)."""
        if version == self.version:
            return 0.0
        if version not in self.user_data:
            self.deploy(version)
        self.host.poweroff()
        self.host.new_user_data(self.user_data[version])
        self.version = version
        return self.host.boot()

    def replace(self) -> float:
        """What a replacement instance does: this host is gone, a new one (a fresh root) boots the
        same user data with the kept data volume. Returns the seconds to the end of its bootstrap."""
        self.host.kill()
        self.replacements += 1
        self.host = self.new_host(f"replacement-{self.replacements}", self.user_data[self.version])
        return self.host.boot()

    def venvs(self) -> tuple[str, list[str]]:
        """Where /opt/nvflare/venv points, and every NVFlare venv beside it."""
        link = self.host.run("readlink", "/opt/nvflare/venv", check=True).stdout.strip()
        found = self.host.run("find", "/opt/nvflare", "-maxdepth", "1", "-name", "venv-*", check=True).stdout.split()
        return link, sorted(found)

    def nvflare_in(self, venv: str) -> str:
        probe = "import importlib.metadata as m; print(m.version('nvflare'))"
        return self.host.run(f"{venv}/bin/python", "-c", probe, check=True).stdout.strip()

    def dashboard_answers(self) -> bool:
        status, body = https_get("https://127.0.0.1/")
        return status == 200 and b'name="viewport"' in body

    def fl_server_answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", 8002), timeout=5):
            return self.host.systemctl("is-active", "--quiet", "flare-server.service").returncode == 0

    def admin(self) -> dict[str, str]:
        secret = self.deployment.client("secretsmanager").get_secret_value(SecretId=self.outputs["AdminSecretName"])
        return json.loads(secret["SecretString"])

    def project(self) -> dict:
        import importlib
        import sys

        from flarectl.host_scripts import HOSTS_DIR

        sys.path.insert(0, str(HOSTS_DIR / "hub"))  # as on the hub: dashboard_project imports its siblings
        try:
            module = importlib.import_module("dashboard_project")
        finally:
            sys.path.remove(str(HOSTS_DIR / "hub"))
        dashboard = module.Dashboard(443)
        dashboard.login(self.admin()["email"], self.admin()["password"])
        return dashboard.json("GET", "/project")["project"]

    def running_releases(self) -> tuple[float, dict[str, tuple[float, list[str]]]]:
        """When the venv link last changed, and every running process of the dashboard and FL
        server units (by unit/pid): when it started, and the NVFlare venvs whose files it maps.
        Both in seconds since boot. What the running code is, not what the link says now: a
        process that maps no venv file (gunicorn's master) is judged by when it started."""
        script = (
            "pids() { echo $1; for child in $(cat /proc/$1/task/*/children); do pids $child; done; };"
            " echo $(cut -d ' ' -f 1 /proc/uptime) $(date +%s.%N) $(stat -c %Z /opt/nvflare/venv) $(getconf CLK_TCK);"
            " for unit in flare-dashboard.service flare-server.service; do"
            " for pid in $(pids $(systemctl show -P MainPID $unit)); do"
            " echo \"$unit/$pid $(cut -d ' ' -f 22 /proc/$pid/stat) $(grep -o '/opt/nvflare/venv-[^/]*' /proc/$pid/maps | sort -u | tr '\\n' ' ')\";"
            " done; done"
        )
        first, *lines = self.host.run("sh", "-c", script, check=True).stdout.splitlines()
        uptime, now, link_changed, ticks = (float(word) for word in first.split())
        switched = uptime - (now - link_changed)
        processes = {}
        for line in lines:
            name, started, *venvs = line.split()
            processes[name] = (int(started) / ticks, venvs)
        return switched, processes

    def nvflare_uid(self) -> str:
        return self.host.run("id", "-u", "nvflare", check=True).stdout.strip()

    def kits(self) -> list[str]:
        """Every kit's startup files (certificates, keys, the server's settings) on the volume, with
        their checksums; a kit folder is also its FL server's workspace, whose logs change."""
        find = "cd /var/lib/nvflare/kits && find . -path '*/startup/*' -type f -exec sha256sum {} + | sort"
        found = self.host.run("sh", "-c", find, check=True)
        return found.stdout.splitlines()

    def current_kit(self) -> str:
        return self.host.run("readlink", "/var/lib/nvflare/kits/current", check=True).stdout.strip()

    def bootstrap_log(self) -> list[str]:
        """What the bootstrap said during the current boot."""
        output = self.host.run("journalctl", "--no-pager", "-o", "cat", "-b", "-u", "cloud-final.service").stdout
        return [line.removeprefix("flare-bootstrap: ") for line in output.splitlines() if line.startswith("flare-bootstrap: ")]


# Where booted hosts keep downloads between runs on this machine (pip, uv and apt caches).
DOWNLOADS = CACHE / "booted-downloads"


def download_caches(downloads: Path = DOWNLOADS) -> dict[Path, str]:
    return {downloads / "pip": "/root/.cache/pip", downloads / "uv": "/root/.cache/uv", downloads / "apt": "/var/cache/apt/archives"}


@contextmanager
def booted_hub(workdir: Path, downloads: Path = DOWNLOADS) -> Iterator[BootedHub]:
    can_boot()
    emulator_process, emulator = start_emulator(workdir)
    metadata: dict[str, str] = {}
    metadata_server = serve_imds(metadata)
    hub = None
    try:
        with running_pebble(workdir) as acme:
            environment = {k: v for k, v in emulator.items() if k != "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION"}
            environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{metadata_server.server_port}"

            def new_host(name: str, user_data: bytes) -> BootedHost:
                """A host booting the hub's user data with the data volume; a replacement gets a fresh root."""
                host = BootedHost(
                    workdir / name, name="hub", user_data=user_data, environment=environment,
                    binds={workdir / "volume": "/var/lib/nvflare", **download_caches(downloads)},
                    extra_ca=[Path(acme["REQUESTS_CA_BUNDLE"])],
                    # Nothing may reach AWS: the CloudWatch agent's download finds no bucket here.
                    hosts={f"dashboard.{ZONE}": "127.0.0.1", f"server.{ZONE}": "127.0.0.1", "amazoncloudwatch-agent.s3.amazonaws.com": "127.0.0.1"},
                )  # fmt: skip
                for timer in ("flare-health.timer", "flare-cert-renew.timer"):
                    drop_in = host.root / "etc" / "systemd" / "system" / f"{timer}.d" / "fast.conf"
                    drop_in.parent.mkdir(parents=True)
                    drop_in.write_text(FAST_TIMER)
                return host

            hub = BootedHub(Deployment(emulator, workdir, zone_name=ZONE), emulator, metadata, acme["ACME_SERVER"], new_host)
            FIGURES[f"first boot ({EARLIER_NVFLARE}) to the end of the bootstrap"] = f"{hub.host.boot():.0f} s"
            yield hub
    finally:
        if hub is not None:
            hub.host.kill()
        metadata_server.shutdown()
        emulator_process.terminate()
        emulator_process.wait(timeout=10)
        if FIGURES:
            print("\nbooted hub figures: " + ", ".join(f"{k}: {v}" for k, v in FIGURES.items()))
