"""Issue 30: the federation file's governance, enforced by real NVFlare. A hub (the hub's own
server unit) and two Linux sites (hospital_a, hospital_b) run from the files flarectl emits
for them (client.env through the shared runtime); Leads, Org Admins and the Project Admin of
three organizations use their own provisioned kits."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from flarectl.cli import main as flarectl
from flarectl.federation import load_federation
from flarectl.host_scripts import HOSTS_DIR
from flarectl.hub_env import hub_settings
from flarectl.sites.registry import KINDS
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.jobs import builtin_numpy_job, numpy_job
from tests.harness.local import free_port
from tests.harness.provision import ADMIN, provision

RUNTIME = HOSTS_DIR / "client" / "flare-client.sh"
ORGS = {"site-a": "hospital_a", "site-b": "hospital_b"}
LEAD_A, LEAD_B, LEAD_X = "lead@a.test", "lead@b.test", "lead@x.test"
ADMIN_A, ADMIN_B = "it@a.test", "it@b.test"
PEOPLE = [(LEAD_A, "hospital_a", "lead"), (LEAD_B, "hospital_b", "lead"), (LEAD_X, "hospital_x", "lead"),
          (ADMIN_A, "hospital_a", "org_admin"), (ADMIN_B, "hospital_b", "org_admin")]  # fmt: skip
# The README's worked example, shortened: Leads of the site's own organization and of
# hospital_b; no custom code but at site-b; shell commands for the site's own Org Admins; a
# scope that clips every weight to +-0.5 before it leaves (PercentilePrivacy, percentile 0).
GOVERNANCE = {
    "default": {
        "run_jobs": {"roles": ["lead"], "orgs": ["own", "hospital_b"]},
        "custom_code": False,
        "shell_commands": ["org_admin"],
        "privacy": {
            "default_scope": "open",
            "scopes": [
                {"name": "open"},
                {"name": "clipped", "result_filters": [{"filter": "PercentilePrivacy", "args": {"percentile": 0, "gamma": 0.5}}]},
            ],
        },
    },
    "sites": {"site-b": {"custom_code": True}},
}


def write_federation(root: Path, prod: Path, governance: dict[str, Any]) -> Path:
    sites = [
        {"name": name, "kind": "linux", "gpus": 0, "kit": str(prod / name), "workdir": str(root / name), "venv": sys.prefix}
        for name in ORGS
    ]  # fmt: skip  (sys.prefix: this venv has NVFlare 2.9.0, so install adds nothing)
    path = root / "federation.yaml"
    path.write_text(yaml.safe_dump({"project": "govfed", "project_admin_email": ADMIN, "governance": governance, "sites": sites}))
    return path


def emit_and_install(path: Path, site: str) -> subprocess.CompletedProcess[str]:
    """The Org Admin's steps: the site's emitted files (flarectl), then the runtime's install."""
    federation = load_federation(path)
    (chosen,) = [s for s in federation.sites if s.name == site]
    folder = path.parent / f"{site}-files"
    folder.mkdir(exist_ok=True)
    KINDS["linux"].emit(chosen, federation, folder)  # type: ignore[misc]
    return subprocess.run(["bash", str(RUNTIME), str(folder / "client.env"), "install"], capture_output=True, text=True, timeout=120)


class Federation:
    def __init__(self, root: Path, prod: Path, hub: Hub):
        self.root, self.prod, self.hub = root, prod, hub
        self.clients: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, site: str) -> None:
        log = (self.root / f"{site}.log").open("a")
        settings = self.root / f"{site}-files" / "client.env"
        self.clients[site] = subprocess.Popen(["bash", str(RUNTIME), str(settings), "run"], stdout=log, stderr=subprocess.STDOUT)

    def stop(self, site: str) -> None:
        process = self.clients.pop(site)
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()

    def wait_connected(self, sites: set[str]) -> None:
        from nvflare.fuel.flare_api.flare_api import new_secure_session

        session = new_secure_session(ADMIN, str(self.prod / ADMIN), timeout=60)
        try:
            wait_for(lambda: {c.name for c in session.get_system_info().client_info} >= sites, timeout=120, interval=2)
        finally:
            session.close()

    def kit(self, user: str) -> str:
        return str(self.prod / user)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp("governance")
    fl_port = free_port()
    prod = provision(tmp_path_factory.mktemp("provision"), project="govfed", fl_port=fl_port, clients=ORGS, admins=PEOPLE)
    path = write_federation(root, prod, GOVERNANCE)
    server_policy = hub_settings(load_federation(path), kit_bucket="", admin_secret_name="", region="")["SERVER_AUTHORIZATION"]
    hub = Hub(tmp_path_factory.mktemp("hub"), {"PROJECT": "govfed", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port()),
                                               "SERVER_AUTHORIZATION": server_policy})  # fmt: skip
    hub.serve(prod / "localhost")
    fed = Federation(root, prod, hub)
    try:
        for site in ORGS:
            installed = emit_and_install(path, site)
            assert installed.returncode == 0, installed.stderr
            assert "governance policy written: authorization.json privacy.json" in installed.stdout
            fed.start(site)
        fed.wait_connected(set(ORGS))
        yield fed
    finally:
        for site in list(fed.clients):
            fed.stop(site)
        hub.stop_all()


def submit(federation: Federation, job: Path, user: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = flarectl(["submit", str(job), "--kit", federation.kit(user), "--timeout", "300"])
    return code, capsys.readouterr().out.splitlines()


def ran_at(federation: Federation, site: str, out: list[str]) -> bool:
    job_id = next(line for line in out if " as job " in line).split(" as job ")[1].split()[0]
    return any((federation.root / site / "kit").glob(f"{job_id}*"))


def test_the_sites_hold_the_policy_the_file_says(federation: Federation) -> None:
    local = federation.root / "site-a" / "kit" / "local"
    policy = json.loads((local / "authorization.json").read_text())
    assert policy["permissions"]["lead"]["submit_job"] == ["o:site", "o:hospital_b"]
    assert policy["permissions"]["lead"]["byoc"] == "none"
    assert json.loads((federation.root / "site-b" / "kit" / "local" / "authorization.json").read_text())["permissions"]["lead"]["byoc"] == [
        "o:site", "o:hospital_b"]  # fmt: skip
    assert [scope["name"] for scope in json.loads((local / "privacy.json").read_text())["scopes"]] == ["open", "clipped"]
    server = json.loads((federation.hub.data / "kits" / "current" / "local" / "authorization.json").read_text())
    assert server["permissions"]["lead"] == {"submit_job": "any", "clone_job": "n:submitter", "manage_job": "n:submitter",
        "download_job": "n:submitter", "view": "any", "operate": "o:site", "shell_commands": "o:site", "byoc": "any",
        "server-predeployed-flwr": "none"}  # fmt: skip


def test_federation_status_shows_each_sites_stance(federation: Federation, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(federation.root / "federation.yaml")
    assert flarectl(["federation", "status", "-c", config, "--kit", federation.kit(ADMIN), "--dashboard", "https://127.0.0.1:9"]) == 0
    out = capsys.readouterr().out.splitlines()
    at = out.index("governance (from the federation file; a site enforces what its last setup wrote):")
    assert out[at + 1 : at + 4] == [
        "  hub (FL server): jobs from: project_admin, lead of any organization; custom code: yes; shell commands: project_admin "
        "(any organization), org_admin (own organization), lead (own organization); note: (NVFlare's defaults)",
        "  site-a: jobs from: lead of own, hospital_b; custom code: no; shell commands: org_admin (own organization); "
        "privacy: default open; open: no filter; clipped: PercentilePrivacy",
        "  site-b: jobs from: lead of own, hospital_b; custom code: yes; shell commands: org_admin (own organization); "
        "privacy: default open; open: no filter; clipped: PercentilePrivacy",
    ]


def test_custom_code_runs_only_where_allowed_and_the_lead_sees_who_refused(federation: Federation, tmp_path: Path, capsys) -> None:
    job = numpy_job(tmp_path / "byoc-job", clients=1, rounds=1)  # custom/train.py: custom code
    code, out = submit(federation, job, LEAD_B, capsys)
    assert code == 0, out
    assert "site-a refused the job: BYOC not permitted (the site does not allow custom code (governance custom_code))" in out
    assert not any(line.startswith("site-b refused") for line in out)
    assert ran_at(federation, "site-b", out) and not ran_at(federation, "site-a", out)


def test_a_lead_of_an_organization_the_site_does_not_admit_gets_no_job_run_there(federation: Federation, tmp_path: Path, capsys) -> None:
    code, out = submit(federation, builtin_numpy_job(tmp_path / "outsider", sites=["site-a"]), LEAD_X, capsys)
    assert code == 1, out
    assert ("site-a refused the job: user 'lead@x.test' is not authorized for 'submit_job' (the site does not run jobs from your "
            "role or organization (governance run_jobs))") in out  # fmt: skip
    assert "too few sites accepted the job to run it (num_ok_sites 0 < required_min_sites 1)" in out
    assert not ran_at(federation, "site-a", out)
    code, out = submit(federation, builtin_numpy_job(tmp_path / "own-org", sites=["site-a"]), LEAD_A, capsys)
    assert code == 0 and ran_at(federation, "site-a", out), out
    code, out = submit(federation, builtin_numpy_job(tmp_path / "admitted-org", sites=["site-a"]), LEAD_B, capsys)
    assert code == 0 and ran_at(federation, "site-a", out), out


def final_model(federation: Federation, out: list[str], tmp_path: Path, capsys) -> np.ndarray:
    job_id = next(line for line in out if " as job " in line).split(" as job ")[1].split()[0]
    assert flarectl(["download", job_id, "--kit", federation.kit(LEAD_A), "-o", str(tmp_path)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("global model: "))
    return np.load(line.removeprefix("global model: ").split(", ")[0])


def test_a_scope_applies_its_filter_and_an_unknown_scope_is_refused(federation: Federation, tmp_path: Path, capsys) -> None:
    code, out = submit(federation, builtin_numpy_job(tmp_path / "open", sites=["site-a"], scope="open"), LEAD_A, capsys)
    assert code == 0, out
    assert final_model(federation, out, tmp_path / "open-result", capsys).tolist() == [[2, 3, 4], [5, 6, 7], [8, 9, 10]]
    code, out = submit(federation, builtin_numpy_job(tmp_path / "clipped", sites=["site-a"], scope="clipped"), LEAD_A, capsys)
    assert code == 0, out
    # PercentilePrivacy (percentile 0, gamma 0.5) clips every weight to at most 0.5 at the site.
    assert final_model(federation, out, tmp_path / "clipped-result", capsys).tolist() == [[0.5] * 3] * 3
    code, out = submit(federation, builtin_numpy_job(tmp_path / "unknown", sites=["site-a"], scope="research"), LEAD_A, capsys)
    assert code == 1
    assert ("site-a refused the job: privacy scope 'research' is not allowed (the site defines no such privacy scope "
            "(governance privacy); name one of its scopes in the job's meta)") in out  # fmt: skip


def shell(federation: Federation, user: str, site: str) -> str:
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    session = new_secure_session(user, federation.kit(user), timeout=60)
    try:
        return str(session.ls_target(site))
    except Exception as error:  # NVFlare raises on a refusal
        return f"refused: {error}"
    finally:
        session.close()


def test_only_the_sites_own_org_admins_run_shell_commands_there(federation: Federation) -> None:
    assert "refused" not in shell(federation, ADMIN_A, "site-a")
    assert "kit" in shell(federation, ADMIN_A, "site-a") or "startup" in shell(federation, ADMIN_A, "site-a")
    assert "refused" in shell(federation, ADMIN_B, "site-a")
    assert "refused" in shell(federation, LEAD_A, "site-a")  # Leads: no shell commands (shell_commands: [org_admin])


def test_a_local_edit_is_shown_and_never_overwritten(federation: Federation) -> None:
    policy = federation.root / "site-b" / "kit" / "local" / "authorization.json"
    original = policy.read_text()
    edited = original.replace('"shell_commands": "o:site"', '"shell_commands": "any"', 1)
    policy.write_text(edited)
    try:
        installed = emit_and_install(federation.root / "federation.yaml", "site-b")
        assert installed.returncode == 1
        assert "local/authorization.json was edited here since flarectl wrote it:" in installed.stderr
        assert '-      "shell_commands": "o:site",' in installed.stderr and '+      "shell_commands": "any",' in installed.stderr
        assert "not overwritten: put the change into the federation file's governance section" in installed.stderr
        assert policy.read_text() == edited
    finally:
        policy.write_text(original)


def test_a_changed_policy_is_enforced_after_setup_and_a_restart(federation: Federation, tmp_path: Path, capsys) -> None:
    job = numpy_job(tmp_path / "byoc-at-a", clients=1, rounds=1)
    meta = (job / "meta.conf").read_text()
    (job / "meta.conf").write_text(meta.replace('app = ["@ALL"]', 'app = ["server", "site-a"]'))
    code, out = submit(federation, job, LEAD_B, capsys)
    assert code == 1 and any(line.startswith("site-a refused the job: BYOC not permitted") for line in out), out

    governance = json.loads(json.dumps(GOVERNANCE))
    governance["sites"]["site-a"] = {"custom_code": True}
    path = write_federation(federation.root, federation.prod, governance)
    installed = emit_and_install(path, "site-a")
    assert installed.returncode == 0, installed.stderr
    assert "governance policy written: authorization.json; a running client enforces it after a restart" in installed.stdout
    federation.stop("site-a")
    federation.start("site-a")
    federation.wait_connected({"site-a"})
    code, out = submit(federation, job, LEAD_B, capsys)
    assert code == 0 and ran_at(federation, "site-a", out), out
