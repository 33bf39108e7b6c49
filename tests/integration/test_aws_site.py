"""The AWS site bootstrap (flarectl/hosts/client/aws-bootstrap.sh) for real in a sandbox: it fetches
the site bundle that CDK would publish (from the emulator's S3), runs the shared client
runtime's install, and installs the systemd unit. Recorders stand in for apt, useradd,
chown, venv creation, pip and systemctl (the sandbox venv's python is this test venv's)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from flare_constructs.aws_client_site import HOST, site_bundle
from flarectl.client_runtime import CLOUD_BUNDLE, client_env
from flarectl.config.governance import Stance
from flarectl.host_scripts import HOSTS_DIR, PACKAGE_DIR, render_script
from flarectl.sites.aws.model import AwsSite
from tests.harness.local import emulator_client
from tests.harness.provision import provision
from tests.harness.sandbox import HostSandbox, changing


def zipped(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                bundle.write(path, str(path.relative_to(directory)))
    return buffer.getvalue()


class Site(HostSandbox):
    def __init__(self, root: Path, emulator: dict[str, str], kit: Path):
        super().__init__(root, emulator)
        s3 = emulator_client(emulator, "s3")
        s3.create_bucket(Bucket="site-assets")
        s3.put_object(Bucket="site-assets", Key="bundle-1.zip", Body=zipped(Path(site_bundle(kit, root / "bundle"))))

    def run(self, **overrides: str):
        """The bootstrap as AwsClientSite renders it, with the client settings' paths in the sandbox."""
        site = AwsSite.model_validate({"name": overrides.pop("SITE_NAME", "site-a"), "kind": "aws", "gpus": 1,
                                       "gpu_memory_gib": float(overrides.pop("GPU_MEMORY_GIB", "16"))})  # fmt: skip
        settings = {"CLIENT_SETTINGS": client_env(site, "2.9.0", HOST.under(str(self.host)), Stance.of()), "SETTINGS_PATH": HOST.settings_file,
                    "BUNDLE_PATH": CLOUD_BUNDLE, "VENV_PATH": HOST.venv, "BUNDLE_BUCKET": "site-assets", "BUNDLE_KEY": "bundle-1.zip"}  # fmt: skip
        return self.run_script(render_script(PACKAGE_DIR / "sites/aws/host/aws-bootstrap.sh", settings))


@pytest.fixture(scope="module")
def site(aws_emulator: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Site:
    prod = provision(tmp_path_factory.mktemp("provision"), project="sitebootstrap", fl_port=8002, clients=["site-a"])
    return Site(tmp_path_factory.mktemp("site"), aws_emulator, prod / "site-a")


@pytest.fixture(scope="module")
def first_run(site: Site) -> list[str]:
    result, calls = site.run()
    assert result.returncode == 0, result.stdout + result.stderr
    return calls


def test_first_boot_installs_the_client_through_the_shared_runtime(site: Site, first_run: list[str]) -> None:
    venv = f"{site.host}/opt/nvflare-client/venv"
    assert changing(first_run) == [
        "apt-get update -q",
        "apt-get install -y -q --no-install-recommends python3-venv",
        f"python3 -m venv {venv}-bootstrap",  # boto3, to fetch the bundle
        "useradd --system --home-dir /var/lib/nvflare-client --shell /usr/sbin/nologin nvflare",
        f"python3 -m venv {venv}-2.9.0",  # the client's venv for this NVFlare version; venv links to it
        f"python3 -m venv {site.host}/var/lib/nvflare-client/.uv",  # the pinned uv (the recorder's pip makes none: pip follows)
        "pip install --quiet uv==0.13.8",
        "pip install --quiet nvflare==2.9.0",
        f"chown -R nvflare:nvflare {site.host}/var/lib/nvflare-client",
        "systemctl daemon-reload",
        "systemctl enable flare-client.service",
        "systemctl restart flare-client.service",
    ]
    kit = site.host / "var" / "lib" / "nvflare-client" / "kit"
    assert (kit / "startup" / "fed_client.json").exists()
    resources = json.loads((kit / "local" / "resources.json").read_text())
    manager = next(c for c in resources["components"] if c["id"] == "resource_manager")
    assert (manager["args"]["num_of_gpus"], manager["args"]["mem_per_gpu_in_GiB"]) == (1, 16)
    unit = (site.host / "etc" / "systemd" / "system" / "flare-client.service").read_text()
    assert unit == (HOSTS_DIR / "client" / "flare-client.service").read_text()
    assert Path(venv).readlink() == Path(f"{venv}-2.9.0")


def test_settings_file_is_what_the_unit_runs_the_runtime_with(site: Site, first_run: list[str]) -> None:
    settings = (site.host / "etc" / "nvflare-client" / "client.env").read_text()
    assert "SITE_NAME=site-a\n" in settings and "GPUS=1\n" in settings
    assert f"KIT_SOURCE={site.host}/opt/nvflare-client/bundle/kit\n" in settings
    unit = (HOSTS_DIR / "client" / "flare-client.service").read_text()
    assert "ExecStart=/bin/bash /opt/nvflare-client/bundle/runtime/flare-client.sh /etc/nvflare-client/client.env run" in unit


def test_second_boot_changes_nothing(site: Site, first_run: list[str]) -> None:
    before = site.snapshot()
    result, calls = site.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert changing(calls) == []
    assert site.snapshot() == before


def test_changed_settings_reinstall_and_restart(site: Site, first_run: list[str]) -> None:
    result, calls = site.run(GPU_MEMORY_GIB="24")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "systemctl restart flare-client.service" in changing(calls)
    resources = json.loads((site.host / "var/lib/nvflare-client/kit/local/resources.json").read_text())
    assert next(c for c in resources["components"] if c["id"] == "resource_manager")["args"]["mem_per_gpu_in_GiB"] == 24


def test_a_kit_for_another_site_is_refused(site: Site, first_run: list[str], tmp_path: Path) -> None:
    result, _ = site.run(SITE_NAME="site-b")
    assert result.returncode == 1
    assert "is for site 'site-a', not 'site-b'" in result.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)
