"""The settings every kind renders for the shared client runtime, and how the runtime reads
them: requirements reach pip whole (one per line, from a file), whatever their spaces."""

from __future__ import annotations

import subprocess
from pathlib import Path

from flarectl.client_runtime import HostLayout, client_env
from flarectl.config.governance import Stance
from flarectl.federation import Federation
from flarectl.host_scripts import HOSTS_DIR

REQUIREMENTS = ["numpy >=1.26", "scipy>=1.11, <2", "torch==2.5.1", 'pandas; python_version >= "3.10"']


def test_pip_gets_each_requirement_whole_from_a_file(tmp_path: Path) -> None:
    federation = Federation.model_validate({"project": "p", "project_admin_email": "it@hospital.test", "sites": [
        {"name": "lab", "kind": "linux", "kit": "/srv/kit", "workdir": "/srv/lab", "gpus": 0, "requirements": REQUIREMENTS}]})  # fmt: skip
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    recorded = tmp_path / "pip.txt"
    # A venv whose NVFlare is current and whose pip records what it was asked to install.
    (venv / "bin" / "python").write_text("#!/bin/sh\necho 2.9.0\n")
    (venv / "bin" / "pip").write_text(f'#!/bin/sh\necho "$@" >>"{recorded}"\n[ "$3" = -r ] && cat "$4" >>"{recorded}"\n')
    for tool in ("python", "pip"):
        (venv / "bin" / tool).chmod(0o755)
    layout = HostLayout(
        site_root=str(tmp_path / "site"),
        settings_file="",
        runtime_dir="",
        kit_source=str(tmp_path / "no-kit"),
        venv=str(venv),
        managed_venv=False,  # the site's own venv, as it is here: used in place
    )
    settings = tmp_path / "client.env"
    settings.write_text(
        client_env(federation.sites[0], "2.9.0", layout, Stance.of()) + "UV_VERSION=''\n"
    )  # pip itself (the uv path: integration)
    runtime = HOSTS_DIR / "client" / "flare-client.sh"
    result = subprocess.run(["bash", str(runtime), str(settings), "install"], capture_output=True, text=True)
    assert "is not a client startup kit" in result.stderr  # it got past the requirements
    lines = recorded.read_text().splitlines()
    assert lines[0] == f"install --quiet -r {venv}/.site-requirements.new"
    assert lines[1:] == REQUIREMENTS
    assert (venv / ".site-requirements").read_text().splitlines() == REQUIREMENTS
    recorded.unlink()
    subprocess.run(["bash", str(runtime), str(settings), "install"], capture_output=True, text=True)
    assert not recorded.exists()  # the same requirements again: nothing installed
