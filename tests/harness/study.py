"""A running study for the fault tests and bench/faults.py: a hub (the hub's own FL server unit,
as systemd runs it) and two sites through the shared client runtime, real NVFlare, and the
faults: the server's processes killed, a site's client and its job processes killed, and
site-b's network link to the hub cut or bounded (tests/harness/network_cut.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flarectl.host_scripts import HOSTS_DIR, render_settings_file
from tests.conftest import needs
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.local import free_port
from tests.harness.network_cut import SiteLink
from tests.harness.provision import ADMIN, provision

RUNTIME = HOSTS_DIR / "client" / "flare-client.sh"
SITES = ["site-a", "site-b"]


class Study:
    def __init__(self, root: Path, prod: Path, hub: Hub, link: SiteLink):
        self.root, self.prod, self.hub = root, prod, hub
        self.clients: list[subprocess.Popen[bytes]] = []
        self.link = link  # site-b's only way to the hub

    def session(self) -> Any:
        from nvflare.fuel.flare_api.flare_api import new_secure_session

        return new_secure_session(ADMIN, str(self.prod / ADMIN), timeout=120)

    def job_at_round(self, folder: Path, *, rounds: int, at_round: int) -> str:
        """A numpy FedAvg job of both sites (2 s a round) submitted and followed to round `at_round`: its id."""
        from flarectl.lead import workflow_round
        from tests.harness.jobs import numpy_job

        session = self.session()
        try:
            job_id = session.submit_job(str(numpy_job(folder, clients=len(SITES), rounds=rounds, seconds_per_round=2)))
            wait_for(lambda: int((workflow_round(session, job_id) or f"0/{rounds}").split("/")[0]) >= at_round, timeout=180, interval=0.5)
            return job_id
        finally:
            session.close()

    def wait_connected(self) -> float:
        session = self.session()
        try:
            return wait_for(lambda: {c.name for c in session.get_system_info().client_info} >= set(SITES), timeout=180, interval=1)
        finally:
            session.close()

    def start_site(self, index: int) -> None:
        site = SITES[index]
        log = (self.root / f"{site}.log").open("a")
        prefix = self.link.prefix() if site == "site-b" else []
        command = [*prefix, "bash", str(RUNTIME), str(self.root / f"{site}.env"), "run"]  # `ip netns exec` execs: the pid is the client's
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        if index < len(self.clients):
            self.clients[index] = process
        else:
            self.clients.append(process)

    def kill_site(self, index: int) -> None:
        """A site's host losing power: its client and the job processes under it, at once."""
        import psutil

        client = psutil.Process(self.clients[index].pid)
        for process in [*client.children(recursive=True), client]:
            process.kill()
        self.clients[index].wait(timeout=30)

    def kill_the_fl_server(self) -> None:
        """What a power cut or an OOM kill does to the server unit: every process of it, at once."""
        pid = self.hub.pid("flare-server.service")
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        wait_for(lambda: self.hub.pid("flare-server.service") is None, timeout=30, interval=0.2)


@contextmanager
def running_study(root: Path, *, site_lost_after_seconds: int, data_volume_mib: int | None = None,
                  settings: dict[str, str] | None = None) -> Iterator[Study]:  # fmt: skip
    """`site_lost_after_seconds`: the federation file's hub.site_lost_after_seconds (hub.env);
    `data_volume_mib`: the hub's data folder is a file system of that size (a tmpfs), which a
    test can fill; `settings`: more of hub.env."""
    fl_port = free_port()
    for folder in ("provision", "hub/data", "sites"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    if data_volume_mib:
        needs(os.geteuid() == 0, "root, to mount a small file system as the hub's data volume")
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={data_volume_mib}m,mode=0755", "tmpfs", str(root / "hub" / "data")], check=True
        )
    prod = provision(root / "provision", project="faults", fl_port=fl_port, clients=SITES)
    hub = Hub(root / "hub", {"PROJECT": "faults", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port()),
                             "SITE_LOST_AFTER_SECONDS": str(site_lost_after_seconds), **(settings or {})})  # fmt: skip
    hub.serve(prod / "localhost")
    link = SiteLink(f"flare-b-{os.getpid()}", index=os.getpid() % 250, fl_port=fl_port)
    link.up(root / "sites" / "link.log")
    study = Study(root / "sites", prod, hub, link)
    try:
        for index, site in enumerate(SITES):
            settings = study.root / f"{site}.env"
            settings.write_text(render_settings_file({
                "SITE_NAME": site, "NVFLARE_VERSION": "2.9.0", "REQUIREMENTS": "", "GPUS": "0", "GPU_MEMORY_GIB": "0",
                "SITE_ROOT": str(study.root / site), "KIT_SOURCE": str(prod / site), "VENV": sys.prefix}, about=site))  # fmt: skip
            subprocess.run(["bash", str(RUNTIME), str(settings), "install"], check=True, capture_output=True, timeout=120)
            study.start_site(index)
        study.wait_connected()
        yield study
    finally:
        for process in study.clients:
            process.terminate()
        for process in study.clients:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        hub.stop_all()
        link.down()
        if data_volume_mib:
            subprocess.run(["umount", "--lazy", str(root / "hub" / "data")], check=False)
