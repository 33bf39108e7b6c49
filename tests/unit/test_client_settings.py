"""What each folder kind's client host reads, every setting, written out here (issue 34):
client.env as bash reads it, and the settings flare-site.sh carries (PLATFORM decides the WSL
paths). A cloud kind's client.env is asserted the same way in test_aws_site / test_azure_site."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from flarectl.config import DEFAULT_FEDERATION
from flarectl.federation import Federation, load_federation
from flarectl.sites.registry import KINDS

# The default federation's governance: NVFlare's default policy, but shell commands only for
# the site's own Org Admins (written out here, right by right), and no privacy scopes.
POLICY = {
    "format_version": "1.0",
    "permissions": {
        "project_admin": {
            "abort_task": "any",
            "add_study_site": "any",
            "add_study_user": "any",
            "admin_check_status": "any",
            "app_command": "any",
            "aux_command": "any",
            "check_resources": "any",
            "clone_job": "any",
            "deploy_app": "any",
            "download_job_components": "any",
            "get_job_log": "any",
            "list_job": "any",
            "list_studies": "any",
            "register_study": "any",
            "remove_study": "any",
            "remove_study_site": "any",
            "remove_study_user": "any",
            "report_version": "any",
            "show_study": "any",
            "submit_job": "any",
            "manage_job": "any",
            "download_job": "any",
            "view": "any",
            "operate": "any",
            "shell_commands": "none",
            "byoc": "any",
            "server-predeployed-flwr": "any",
        },
        "org_admin": {
            "submit_job": "none",
            "clone_job": "none",
            "manage_job": "o:submitter",
            "download_job": "o:submitter",
            "view": "any",
            "operate": "o:site",
            "shell_commands": "o:site",
            "byoc": "none",
            "server-predeployed-flwr": "none",
        },
        "lead": {
            "submit_job": "any",
            "clone_job": "n:submitter",
            "manage_job": "n:submitter",
            "download_job": "n:submitter",
            "view": "any",
            "operate": "o:site",
            "shell_commands": "none",
            "byoc": "any",
            "server-predeployed-flwr": "none",
        },
        "member": {"view": "any"},
    },
}
COMMON = {
    "NVFLARE_VERSION": "2.9.0",
    "REQUIREMENTS": "torch==2.5.1",
    "PYTHON": "python3",
    "UV_VERSION": "0.13.8",
    "VENV_MANAGED": "true",
    "AUTHORIZATION_JSON": json.dumps(POLICY, separators=(",", ":"), sort_keys=True),
    "PRIVACY_JSON": "",
}
EXPECTED = {
    "hpc-lab": {**COMMON, "SITE_NAME": "hpc-lab", "GPUS": "1", "GPU_MEMORY_GIB": "44", "SITE_ROOT": "/shared/nvflare/hpc-lab",
                "KIT_SOURCE": "/shared/nvflare/kits/hpc-lab", "VENV": "/shared/nvflare/hpc-lab/venv"},
    "path-lab": {**COMMON, "SITE_NAME": "path-lab", "GPUS": "2", "GPU_MEMORY_GIB": "22", "SITE_ROOT": "/srv/nvflare/path-lab",
                 "KIT_SOURCE": "/srv/nvflare/kits/path-lab", "VENV": "/srv/nvflare/path-lab/venv"},
    "laptop-1": {**COMMON, "SITE_NAME": "laptop-1", "GPUS": "1", "GPU_MEMORY_GIB": "7", "SITE_ROOT": "/home/researcher/nvflare/laptop-1",
                 "KIT_SOURCE": "/home/researcher/nvflare/kits/laptop-1", "VENV": "/home/researcher/nvflare/laptop-1/venv"},
}  # fmt: skip
SITE_SCRIPT = {
    "path-lab": {"SITE_DIR": "/srv/nvflare/path-lab", "SITE_NAME": "path-lab", "GPUS": "2", "PLATFORM": "linux"},
    "laptop-1": {"SITE_DIR": "/home/researcher/nvflare/laptop-1", "SITE_NAME": "laptop-1", "GPUS": "1", "PLATFORM": "wsl"},
}


def bash_reads(file: Path, names: list[str], prelude: str = "") -> dict[str, str]:
    """The values bash has after sourcing `file` (the way flare-client.sh reads client.env)."""
    script = prelude + f'. "{file}"\n' + "".join(f'printf "%s\\0" "${{{name}-<unset>}}"\n' for name in names)
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    return dict(zip(names, out.split("\0")[:-1], strict=True))


@pytest.fixture  # per test, so each test is credited with the emit it checks (mutmut maps tests to code by coverage)
def emitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    federation = load_federation(DEFAULT_FEDERATION)
    folders = {}
    for site in federation.sites:
        emit = KINDS[site.kind].emit
        if site.name in EXPECTED and emit:
            folders[site.name] = tmp_path_factory.mktemp(site.name)
            emit(site, federation, folders[site.name])
    return folders


@pytest.mark.parametrize("site", sorted(EXPECTED))
def test_client_env_holds_exactly_these_settings(emitted: dict[str, Path], site: str) -> None:
    env = emitted[site] / "client.env"
    names = sorted(
        {line.split("=", 1)[0] for line in env.read_text().splitlines() if line and not line.startswith(("#", " ")) and "=" in line}
    )
    assert names == sorted(EXPECTED[site])
    assert bash_reads(env, names) == EXPECTED[site]


@pytest.mark.parametrize("site", sorted(SITE_SCRIPT))
def test_flare_site_sh_carries_the_site_and_its_platform(emitted: dict[str, Path], site: str) -> None:
    lines = [line for line in (emitted[site] / "flare-site.sh").read_text().splitlines() if line.startswith("readonly ")]
    settings = [line.removeprefix("readonly ").split("=", 1)[0] for line in lines]
    assert settings[:4] == ["SITE_DIR", "SITE_NAME", "GPUS", "PLATFORM"]
    header = "\n".join(lines[:4]) + "\n"
    script = emitted[site] / "settings.sh"
    script.write_text(header)
    assert bash_reads(script, list(SITE_SCRIPT[site])) == SITE_SCRIPT[site]


def test_a_venv_the_site_names_is_used_in_place_not_managed(tmp_path: Path) -> None:
    site = {"name": "path-lab", "kind": "linux", "kit": "/srv/k", "workdir": "/srv/w", "venv": "/opt/venvs/flare"}
    federation = Federation.model_validate({"project": "p", "project_admin_email": "it@hospital.test", "sites": [site]})
    KINDS["linux"].emit(federation.sites[0], federation, tmp_path)  # type: ignore[misc]
    values = bash_reads(tmp_path / "client.env", ["VENV", "VENV_MANAGED", "SITE_ROOT", "KIT_SOURCE"])
    assert values == {"VENV": "/opt/venvs/flare", "VENV_MANAGED": "false", "SITE_ROOT": "/srv/w", "KIT_SOURCE": "/srv/k"}


def test_a_sites_own_governance_reaches_that_sites_client_env_only(tmp_path: Path) -> None:
    """`governance.sites.path-lab` lets only the Project Admin run shell commands there; the lead
    keeps NVFlare's default (`o:site`) at the other site."""
    from flarectl.federation import Federation
    from tests.harness.config_cases import with_

    sites = [{"name": "path-lab", "kind": "linux", "kit": "/srv/k", "workdir": "/srv/w"},
             {"name": "other-lab", "kind": "linux", "kit": "/srv/k2", "workdir": "/srv/w2"}]  # fmt: skip
    federation = Federation.model_validate(with_(sites=sites, governance={"sites": {"path-lab": {"shell_commands": ["project_admin"]}}}))
    shell = {}
    for site in federation.sites:
        KINDS[site.kind].emit(site, federation, tmp_path / site.name)  # type: ignore[misc]
        policy = json.loads(bash_reads(tmp_path / site.name / "client.env", ["AUTHORIZATION_JSON"])["AUTHORIZATION_JSON"])
        shell[site.name] = {role: rights["shell_commands"] for role, rights in policy["permissions"].items() if "shell_commands" in rights}
    assert shell["path-lab"]["lead"] == "none" and shell["other-lab"]["lead"] == "o:site"
