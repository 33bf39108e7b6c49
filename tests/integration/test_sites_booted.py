"""Client hosts booted for real (booted_host.py), connecting to the booted hub's FL server.

- AWS: the user data of a client stack deployed into the hub's emulator, run by cloud-init.
- Azure: the custom data `flarectl azure deploy` sends, run by cloud-init.
- Linux and WSL: the emitted folders' `flare-site.sh setup` and `start`, run by an Org Admin
  (a sudo user) in one workstation container: the systemd path both kinds share.

The federation's kits come from `nvflare provision`; its server kit is published to the hub with
`flarectl server-kit install`, as the Project Admin would. No GPU here: each host has a stand-in
`nvidia-smi` that reports one (as the Slurm tests have a fake GPU device).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from flarectl.federation import Federation
from flarectl.sites import linux, wsl
from flarectl.sites.azure import custom_data as azure_custom_data
from tests.harness.booted_host import BootedHost
from tests.harness.booted_hub import CURRENT_NVFLARE, FIGURES, ZONE, BootedHub, download_caches
from tests.harness.emulated_deploy import AMI_PARAMETER, user_data
from tests.harness.fake_nvidia_smi import fake_nvidia_smi
from tests.harness.hub_harness import wait_for
from tests.harness.provision import ADMIN, provision

SITES = {"site-aws": "aws", "site-azure": "azure", "site-linux": "linux", "site-wsl": "wsl"}
SERVER_NAME = f"server.{ZONE}"  # the booted hub's dns.server_name: the name its kit must serve
FAKE_NVIDIA_SMI = fake_nvidia_smi("L4", 1)  # what the table says an L4 reports


def site_entry(name: str, prod: Path, **extra: object) -> dict:
    return {"name": name, "kind": SITES[name], "kit": str(prod / name), "gpus": 1, "gpu_memory_gib": 15, **extra}


def federation_of(*sites: dict) -> Federation:
    return Federation.model_validate({"project": "bootfl", "project_admin_email": "admin@flare.test", "sites": list(sites)})


def client_host(workdir: Path, name: str, user_data: bytes, hub: BootedHub) -> BootedHost:
    environment = {k: v for k, v in hub.emulator.items() if k != "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION"}
    # The hub's server name (its Route53 record on AWS) resolves to the booted hub, here on loopback.
    host = BootedHost(workdir / name, name=name, user_data=user_data, environment=environment, binds=download_caches(),
                      hosts={SERVER_NAME: "127.0.0.1"})  # fmt: skip
    smi = host.root / "usr" / "bin" / "nvidia-smi"  # where the NVIDIA utilities package puts it
    smi.write_text(FAKE_NVIDIA_SMI)
    smi.chmod(0o755)
    return host


def connected_or_none(prod: Path) -> set[str] | None:
    """connected_clients, or None while the server does not answer this federation's admin."""
    try:
        return connected_clients(prod)
    except Exception:  # noqa: BLE001 (the Flare API raises several kinds while a server restarts)
        return None


def connected_clients(prod: Path) -> set[str]:
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    session = new_secure_session(ADMIN, str(prod / ADMIN), timeout=30)
    try:
        return {client.name for client in session.get_system_info().client_info}
    finally:
        session.close()


@pytest.fixture(scope="module")
def prod(booted_hub: BootedHub, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The federation's kits; the hub's FL server runs the published server kit (at the current
    NVFlare release: a federation runs one version)."""
    booted_hub.upgrade(CURRENT_NVFLARE)  # nothing to do when test_hub_booted.py ran first
    prod = provision(tmp_path_factory.mktemp("provision"), project="bootfl", fl_port=8002, clients=list(SITES), server=SERVER_NAME)
    # This machine has no record for the hub's name: the tests' admin dials loopback (the server's
    # identity it checks stays the hub's name).
    admin_config = prod / ADMIN / "startup" / "fed_admin.json"
    admin = json.loads(admin_config.read_text())
    admin["admin"]["host"] = "localhost"
    admin_config.write_text(json.dumps(admin))
    publish = [
        sys.executable,
        "-m",
        "flarectl",
        "server-kit",
        "install",
        str(prod / SERVER_NAME),
        "--bucket",
        booted_hub.outputs["KitBucket"],
        "-c",
        str(booted_hub.deployment.workdir / "hub.yaml"),  # the file the hub was deployed from
    ]
    result = subprocess.run(publish, env={**booted_hub.deployment.env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    booted_hub.host.systemctl("start", "flare-kit-sync.service")  # its timer would within a minute
    wait_for(lambda: connected_or_none(prod) == set(), timeout=180, interval=2)  # the server now trusts this admin
    return prod


@pytest.fixture(scope="module")
def hosts(booted_hub: BootedHub, prod: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BootedHost]]:
    workdir = tmp_path_factory.mktemp("booted-sites")
    booted: dict[str, BootedHost] = {}
    try:
        aws = {"project": "bootfl", "project_admin_email": "admin@flare.test",
               "sites": [site_entry("site-aws", prod, ami_ssm_parameter=AMI_PARAMETER)]}  # fmt: skip
        outputs = booted_hub.deployment.deploy(yaml.safe_dump(aws), "site-aws", stack="FlareClient-site-aws")
        booted["site-aws"] = client_host(workdir, "site-aws", user_data(booted_hub.deployment, outputs["InstanceId"]), booted_hub)

        azure = federation_of(site_entry("site-azure", prod, location="eastus"))
        custom_data, _ = azure_custom_data.custom_data_for_deploy(azure.sites[0], azure)  # type: ignore[arg-type]
        booted["site-azure"] = client_host(workdir, "site-azure", azure_custom_data.decode_custom_data(custom_data).encode(), booted_hub)

        workstation = client_host(workdir, "workstation", b"#cloud-config\n", booted_hub)
        booted["workstation"] = workstation
        for name, emit in (("site-linux", linux.emit), ("site-wsl", wsl.emit)):
            # The Org Admin unzipped the kit on the workstation, where the federation file says.
            shutil.copytree(prod / name, workstation.root / "srv" / "kits" / name)
            folder = federation_of({**site_entry(name, prod), "kit": f"/srv/kits/{name}", "workdir": f"/srv/{name}"})
            emit(folder.sites[0], folder, workstation.root / "srv" / name)  # type: ignore[arg-type]

        for name, host in booted.items():
            FIGURES[f"{name}: boot to the end of its user data"] = f"{host.boot():.0f} s"
        workstation.run("useradd", "--create-home", "--groups", "sudo", "orgadmin", check=True)
        workstation.run("sh", "-c", "echo 'orgadmin ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/orgadmin", check=True)
        workstation.run("chown", "-R", "orgadmin:orgadmin", "/srv", check=True)
        for name in ("site-linux", "site-wsl"):
            for verb in ("setup", "start"):
                result = workstation.run("runuser", "-u", "orgadmin", "--", "bash", f"/srv/{name}/flare-site.sh", verb, timeout=600)
                assert result.returncode == 0, f"{name} {verb}: {result.stdout}{result.stderr}"
        yield booted
    finally:
        for host in booted.values():
            host.kill()


def test_every_site_kind_connects_to_the_hub_under_systemd(hosts: dict[str, BootedHost], prod: Path) -> None:
    seconds = wait_for(lambda: connected_or_none(prod) == set(SITES), timeout=300, interval=2)
    FIGURES["all four site kinds connected after their boots"] = f"{seconds:.0f} s"
    units = {"site-aws": "flare-client.service", "site-azure": "flare-client.service"}
    for name, unit in units.items():
        assert hosts[name].show(unit, "ActiveState") == "active", name
    for name in ("site-linux", "site-wsl"):
        assert hosts["workstation"].show(f"flare-client-{name}.service", "User") == "orgadmin"
        assert hosts["workstation"].show(f"flare-client-{name}.service", "UnitFileState") == "enabled"


def test_a_rebooted_client_host_comes_back_connected_and_changes_nothing(hosts: dict[str, BootedHost], prod: Path) -> None:
    host = hosts["site-aws"]
    host.reboot()
    wait_for(lambda: host.show("flare-client.service", "ActiveState") == "active", timeout=120, interval=1)
    said = host.run("journalctl", "--no-pager", "-o", "cat", "-b", "-u", "cloud-final.service").stdout
    lines = [line for line in said.splitlines() if line.startswith("flare-client")]
    assert lines[0].startswith("flare-client-bootstrap: starting (bundle ") and lines[-1] == "flare-client-bootstrap: done", lines
    assert [line for line in lines if "install" in line or "fetched" in line] == [], lines
    wait_for(lambda: "site-aws" in (connected_or_none(prod) or ()), timeout=180, interval=2)


def test_a_job_running_when_the_hub_reboots_is_abandoned_with_its_last_model_and_the_sites_come_back(
    booted_hub: BootedHub, hosts: dict[str, BootedHost], prod: Path, tmp_path: Path, capsys
) -> None:
    """Issue 32 on the booted hub (real systemd, the kept volume): a job across the four booted
    site kinds, the hub rebooted during it. NVFlare cannot resume the job; the hub's server unit
    marks it abandoned before it starts again, every site reconnects by itself, and the Lead
    downloads the last global model (NVFlare's NPModelPersistor starts at 1..9 and NPTrainer adds
    1 a round) and is told how to go on."""
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    from flarectl.cli import main as flarectl
    from flarectl.lead import workflow_round
    from tests.harness.jobs import builtin_numpy_job

    wait_for(lambda: connected_or_none(prod) == set(SITES), timeout=300, interval=2)
    session = new_secure_session(ADMIN, str(prod / ADMIN), timeout=60)
    try:
        job_id = session.submit_job(str(builtin_numpy_job(tmp_path / "across-a-reboot", sites=list(SITES), rounds=2000)))
        wait_for(lambda: int((workflow_round(session, job_id) or "0/2000").split("/")[0]) >= 3, timeout=300, interval=0.5)
    finally:
        session.close()
    FIGURES["hub reboot mid-job: back to all four sites connected"] = (
        f"{booted_hub.host.reboot() + wait_for(lambda: connected_or_none(prod) == set(SITES), timeout=600, interval=2):.0f} s"
    )
    journal = booted_hub.host.run("journalctl", "--no-pager", "-o", "cat", "-b", "-u", "flare-server.service").stdout
    assert f"job {job_id} was RUNNING when the FL server stopped; NVFlare cannot resume a job: marked FINISHED:ABANDONED" in journal, (
        journal[-3000:]
    )
    assert flarectl(["download", job_id, "--kit", str(prod / ADMIN), "-o", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert f"job {job_id} ended FINISHED:ABANDONED: the hub's FL server stopped while the job ran (restarted " in out, out
    model_line = next(line for line in out.splitlines() if line.startswith("global model: "))
    import numpy as np

    rounds_done = np.load(model_line.removeprefix("global model: ").split(", ")[0]) - np.arange(1, 10).reshape(3, 3)
    assert np.all(rounds_done == rounds_done[0, 0]) and 2 <= rounds_done[0, 0] < 2000, rounds_done  # saved after each finished round
