"""The shared client runtime (flarectl/hosts/client/flare-client.sh) for real: install a kit from
`nvflare provision`, run the client, connect to a real FL server (the hub's own server
unit), and run a numpy FedAvg job (Client API) to FINISHED:COMPLETED as a Lead would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flarectl.client_runtime import UV_VERSION
from flarectl.host_scripts import HOSTS_DIR, render_settings_file
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.jobs import numpy_job
from tests.harness.local import free_port
from tests.harness.provision import ADMIN, provision

RUNTIME = HOSTS_DIR / "client" / "flare-client.sh"
SITES = ["site-a", "site-b"]


def site_settings(root: Path, site: str, kit: Path, **extra: str) -> Path:
    settings = {
        "SITE_NAME": site, "NVFLARE_VERSION": "2.9.0", "REQUIREMENTS": "", "GPUS": "0", "GPU_MEMORY_GIB": "0",
        "SITE_ROOT": str(root / site), "KIT_SOURCE": str(kit),
        "VENV": sys.prefix,  # this venv already has NVFlare 2.9.0: install checks it and skips pip
        **extra,
    }  # fmt: skip
    path = root / f"{site}.env"
    path.write_text(render_settings_file(settings, about=f"test site {site}"))
    return path


def runtime(settings: Path, command: str, timeout: int = 120, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(RUNTIME), str(settings), command], capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fl_port = free_port()
    prod = provision(tmp_path_factory.mktemp("provision"), project="runtime", fl_port=fl_port, clients=SITES)
    hub = Hub(tmp_path_factory.mktemp("hub"), {"PROJECT": "runtime", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    hub.serve(prod / "localhost")
    sites = tmp_path_factory.mktemp("sites")
    clients = []
    try:
        yield {"prod": prod, "hub": hub, "sites": sites, "clients": clients}
    finally:
        for process in clients:
            process.terminate()
        for process in clients:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        hub.stop_all()


def test_install_puts_the_kit_and_resources_in_place(federation: dict) -> None:
    settings = site_settings(federation["sites"], "site-a", federation["prod"] / "site-a", GPUS="2", GPU_MEMORY_GIB="16")
    result = runtime(settings, "install")
    assert result.returncode == 0, result.stdout + result.stderr
    kit = federation["sites"] / "site-a" / "kit"
    assert (kit / "startup" / "fed_client.json").exists()
    assert oct((kit / "startup" / "client.key").stat().st_mode & 0o777) == "0o600"
    resources = json.loads((kit / "local" / "resources.json").read_text())
    manager = next(c for c in resources["components"] if c["id"] == "resource_manager")
    assert manager["args"]["num_of_gpus"] == 2 and manager["args"]["mem_per_gpu_in_GiB"] == 16
    assert runtime(settings, "install").returncode == 0  # idempotent


def test_install_refuses_another_sites_kit(federation: dict) -> None:
    settings = site_settings(federation["sites"], "site-a", federation["prod"] / "site-b")
    result = runtime(settings, "install")
    assert result.returncode == 1
    assert "is for site 'site-b', not 'site-a'" in result.stderr


def test_run_waits_for_the_gpu_and_says_so(federation: dict, tmp_path: Path) -> None:
    settings = site_settings(tmp_path, "site-a", federation["prod"] / "site-a", GPUS="1", GPU_MEMORY_GIB="16", GPU_WAIT_SECONDS="1")
    assert runtime(settings, "install").returncode == 0
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "nvidia-smi").write_text("#!/bin/sh\nexit 9\n")  # a driver that is not ready
    (fake_bin / "nvidia-smi").chmod(0o755)
    with pytest.raises(subprocess.TimeoutExpired) as waited:
        subprocess.run(["bash", str(RUNTIME), str(settings), "run"], capture_output=True, text=True, timeout=4,
                       env={**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"})  # fmt: skip
    assert "waiting for the NVIDIA driver: nvidia-smi does not answer yet" in (waited.value.stdout or b"").decode()


def test_clients_connect_and_a_numpy_job_completes(federation: dict, tmp_path: Path) -> None:
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    prod = federation["prod"]
    for site in SITES:
        settings = site_settings(federation["sites"], site, prod / site)
        assert runtime(settings, "install").returncode == 0
        log = (federation["sites"] / f"{site}.log").open("w")
        federation["clients"].append(subprocess.Popen(["bash", str(RUNTIME), str(settings), "run"], stdout=log, stderr=subprocess.STDOUT))
    session = new_secure_session(ADMIN, str(prod / ADMIN), timeout=60)
    try:
        wait_for(lambda: {c.name for c in session.get_system_info().client_info} >= set(SITES), timeout=120, interval=2)
        job_id = session.submit_job(str(numpy_job(tmp_path / "numpy-fedavg", clients=len(SITES))))
        session.monitor_job(job_id, timeout=300)
        meta = session.get_job_meta(job_id)
        assert meta["status"] == "FINISHED:COMPLETED", meta
    finally:
        session.close()
    for site in SITES:
        assert "starting client" in (federation["sites"] / f"{site}.log").read_text()
        assert list((federation["sites"] / site / "kit").glob(f"{job_id}*")), f"{site} ran no part of the job"


def test_lead_submits_with_flarectl_and_sees_status(federation: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flarectl.cli import main as flarectl

    kit = str(federation["prod"] / ADMIN)
    assert flarectl(["status", "--kit", kit]) == 0
    out = capsys.readouterr().out
    assert (
        "server: up since " in out
        and "status: stopped" not in out
        and "site-a (last_connect_time" in out
        and "site-b (last_connect_time" in out
    )

    job = numpy_job(tmp_path / "lead-job", clients=len(SITES), rounds=2)
    assert flarectl(["submit", str(job), "--kit", kit, "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    assert (
        "submitted lead-job as job" in out
        and re.search(r": (RUNNING|round [12]/2) \(after \d+ s\)", out)
        and "FINISHED:COMPLETED; its result and logs: `flarectl download " in out
    )


def test_flarectl_submit_fails_loudly(federation: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    from flarectl.cli import main as flarectl

    kit = str(federation["prod"] / ADMIN)
    broken = numpy_job(tmp_path / "broken-job", clients=len(SITES), rounds=2)
    # The trainer connects, takes its task, then fails: NVFlare ends the job on the sites' failed
    # results. (A trainer that dies before its handshake leaves the job to NVFlare's dead-job
    # watch, which under load sometimes never reports it: the job then stays RUNNING.)
    failing = "import nvflare.client as flare\n\nflare.init()\nflare.receive()\nraise RuntimeError('the site data is missing')\n"
    (broken / "app" / "custom" / "train.py").write_text(failing)
    assert flarectl(["submit", str(broken), "--kit", kit, "--timeout", "300"]) == 1
    out = capsys.readouterr().out
    job_id = out.split("submitted broken-job as job ")[1].split()[0]
    assert f"job {job_id} ended FINISHED:" in out and f"its logs: `flarectl download {job_id}`" in out
    assert flarectl(["download", job_id, "--kit", kit, "-o", str(tmp_path / "failed")]) == 0
    logs = tmp_path / "failed" / job_id / "logs"
    assert (logs / "server.log").read_text().strip()
    # The sites' own errors (issue 28): the trainer's exception, read from each site's job log
    # (the server holds none: the job process died), as a Lead of the sites' own org may.
    lines = capsys.readouterr().out.splitlines()
    assert f"job {job_id} ended FINISHED:EXECUTION_EXCEPTION; errors by site:" in lines
    for site in SITES:
        at = lines.index(f"  {site}:")
        assert lines[at + 1] == "    RuntimeError: the site data is missing", lines[at : at + 4]
    assert sorted(p.name for p in logs.iterdir()) == ["server.log", *(f"{site}.log" for site in sorted(SITES))]

    (tmp_path / "not-a-job").mkdir()
    assert flarectl(["submit", str(tmp_path / "not-a-job"), "--kit", kit]) == 2
    assert "has no meta.json or meta.conf" in capsys.readouterr().err

    monkeypatch.setenv("HOME", str(tmp_path))
    assert flarectl(["status"]) == 2
    assert "no admin startup kit found in ~/.nvflare/<project>/<user>" in capsys.readouterr().err


def test_lead_submits_by_relative_path_lists_and_downloads(federation: dict, tmp_path: Path, capsys, monkeypatch) -> None:
    from flarectl.cli import main as flarectl

    kit = str(federation["prod"] / ADMIN)
    numpy_job(tmp_path / "studies" / "rel-job", clients=len(SITES), rounds=1)
    monkeypatch.chdir(tmp_path)
    assert flarectl(["submit", "studies/rel-job", "--kit", kit, "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    job_id = out.split("submitted rel-job as job ")[1].split()[0]
    assert f"its result and logs: `flarectl download {job_id}`" in out and " (after " in out

    assert flarectl(["jobs", "--kit", kit, "--state", "finished"]) == 0
    listed = capsys.readouterr().out.splitlines()
    mine = [line for line in listed if line.startswith(job_id)]
    assert len(mine) == 1 and "rel-job" in mine[0] and "FINISHED:COMPLETED" in mine[0]
    assert all("FINISHED" in line for line in listed[1:])

    assert flarectl(["download", job_id, "--kit", kit, "-o", "results"]) == 0
    out = capsys.readouterr().out
    target = tmp_path / "results" / job_id
    assert f"result in {target / 'result'}" in out
    assert any((target / "result").rglob("*")), "the downloaded result is empty"
    assert (target / "logs" / "server.log").read_text().strip()


def test_lead_aborts_a_running_job_and_mistakes_exit_2(federation: dict, tmp_path: Path, capsys) -> None:
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    from flarectl.cli import main as flarectl

    kit = str(federation["prod"] / ADMIN)
    long_job = numpy_job(tmp_path / "long-job", clients=len(SITES), rounds=200)
    assert flarectl(["submit", str(long_job), "--kit", kit, "--timeout", "4"]) == 1
    out = capsys.readouterr().out
    job_id = out.split("submitted long-job as job ")[1].split()[0]
    assert f"still running after 4 s; follow it with `flarectl jobs`, stop it with `flarectl abort {job_id}`" in out
    assert flarectl(["abort", job_id, "--kit", kit]) == 0
    assert f"job {job_id} aborted" in capsys.readouterr().out
    session = new_secure_session(ADMIN, kit, timeout=60)
    try:
        wait_for(lambda: session.get_job_meta(job_id)["status"].startswith("FINISHED"), timeout=120, interval=1)
        assert session.get_job_meta(job_id)["status"] == "FINISHED:ABORTED"
    finally:
        session.close()
    assert flarectl(["abort", job_id, "--kit", kit]) == 0
    assert f"job {job_id} already ended FINISHED:ABORTED; nothing to abort" in capsys.readouterr().out

    for verb in (["abort", "no-such-job"], ["download", "no-such-job"]):
        assert flarectl([*verb, "--kit", kit]) == 2
        assert "no job 'no-such-job' on the server; `flarectl jobs` lists them" in capsys.readouterr().err
    assert flarectl(["submit", "does/not/exist", "--kit", kit]) == 2
    assert "is not a folder; pass the job folder" in capsys.readouterr().err


def test_install_makes_a_fresh_venv_with_uv(tmp_path: Path) -> None:
    """A site without a venv: the pinned uv (from PyPI) installs NVFlare and the site's requirements."""
    kit = tmp_path / "no-kit"  # install stops at the kit; the venv comes first
    settings = site_settings(tmp_path, "site-a", kit, VENV=str(tmp_path / "venv"), REQUIREMENTS="packaging==26.4", UV_VERSION=UV_VERSION)
    result = runtime(settings, "install", timeout=900)
    assert "is not a client startup kit" in result.stderr, result.stdout + result.stderr
    assert f"installed nvflare 2.9.0 into {tmp_path / 'venv'} (with uv)" in result.stdout
    assert "installed site requirements: packaging==26.4" in result.stdout
    probe = "import importlib.metadata as m; print(m.version('nvflare'), m.version('packaging'))"
    assert subprocess.run([str(tmp_path / "venv/bin/python"), "-c", probe], capture_output=True, text=True).stdout.split() == [
        "2.9.0",
        "26.4",
    ]
    uv = subprocess.run([str(tmp_path / "site-a/.uv/bin/uv"), "--version"], capture_output=True, text=True).stdout
    assert uv.split()[:2] == ["uv", UV_VERSION]


def test_an_upgrade_installs_beside_the_running_version_and_a_rollback_installs_nothing(tmp_path: Path) -> None:
    """A managed venv: NVFlare 2.8.3 (a real earlier release), then 2.9.0 beside it, then back.
    The link the client runs through switches only once the new version is installed."""
    kit, venv = tmp_path / "no-kit", tmp_path / "venv"  # install stops at the kit; the venv comes first
    probe = "import importlib.metadata as m; print(m.version('nvflare'))"

    def install(version: str) -> subprocess.CompletedProcess[str]:
        settings = site_settings(
            tmp_path, "site-u", kit, VENV=str(venv), VENV_MANAGED="true", NVFLARE_VERSION=version, UV_VERSION=UV_VERSION
        )
        result = runtime(settings, "install", timeout=900)
        assert "is not a client startup kit" in result.stderr, result.stdout + result.stderr
        return result

    def running() -> str:
        return subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True).stdout.strip()

    first = install("2.8.3")
    assert f"installed nvflare 2.8.3 into {venv}-2.8.3 (with uv)" in first.stdout
    assert venv.readlink() == Path(f"{venv}-2.8.3") and running() == "2.8.3"
    upgrade = install("2.9.0")
    assert f"installed nvflare 2.9.0 into {venv}-2.9.0 (with uv)" in upgrade.stdout
    assert f"nvflare 2.9.0 is the site's now ({venv} -> {venv}-2.9.0)" in upgrade.stdout
    assert running() == "2.9.0"
    rollback = install("2.8.3")
    assert "installed nvflare" not in rollback.stdout  # its venv was kept
    assert f"nvflare 2.8.3 is the site's now ({venv} -> {venv}-2.8.3)" in rollback.stdout
    assert running() == "2.8.3"
    assert sorted(p.name for p in tmp_path.glob("venv*")) == ["venv", "venv-2.8.3", "venv-2.9.0"]


def test_a_venv_from_before_is_kept_under_its_version_and_a_sites_own_is_used_in_place(tmp_path: Path) -> None:
    """A managed venv made before venvs were kept per version is moved beside the link; a venv the
    site names itself (VENV_MANAGED=false, as this test's own) is never moved."""
    import venv as venv_module

    old = tmp_path / "venv"
    venv_module.create(old, with_pip=False)
    site_packages = next(old.glob("lib/python3*/site-packages"))
    (site_packages / "nvflare-2.9.0.dist-info").mkdir()
    (site_packages / "nvflare-2.9.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: nvflare\nVersion: 2.9.0\n")
    settings = site_settings(tmp_path, "site-m", tmp_path / "no-kit", VENV=str(old), VENV_MANAGED="true")
    result = runtime(settings, "install")
    assert f"kept the venv of nvflare 2.9.0 as {old}-2.9.0" in result.stdout, result.stdout + result.stderr
    assert old.readlink() == Path(f"{old}-2.9.0") and "installed nvflare" not in result.stdout
    own = runtime(site_settings(tmp_path, "site-o", tmp_path / "no-kit"), "install")  # VENV=sys.prefix, not managed
    assert "kept the venv" not in own.stdout and not Path(f"{sys.prefix}-2.9.0").exists()  # not moved
    assert (Path(sys.prefix) / "bin" / "python").exists()


def test_run_refuses_in_one_line_a_registration_nvflare_would_refuse(federation: dict, tmp_path: Path) -> None:
    """A T4 reports 15360 MiB; 16 GiB registered would make NVFlare's GPUResourceManager raise at
    every start. The runtime says so once and exits 3, which its units do not restart."""
    from tests.harness.fake_nvidia_smi import fake_nvidia_smi, nvflare_accepts

    settings = site_settings(tmp_path, "site-a", federation["prod"] / "site-a", GPUS="1", GPU_MEMORY_GIB="16")
    assert runtime(settings, "install").returncode == 0
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "nvidia-smi").write_text(fake_nvidia_smi("T4", 1))
    (fake_bin / "nvidia-smi").chmod(0o755)
    result = subprocess.run(["bash", str(RUNTIME), str(settings), "run"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"})  # fmt: skip
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1] == (
        "flare-client: gpu_memory_gib 16 is more than nvidia-smi reports for a GPU here (15360 MiB); "
        "NVFlare would refuse to start: register at most 15 in the federation file"
    )
    assert not nvflare_accepts("T4", 1, 1, 16)  # NVFlare agrees
