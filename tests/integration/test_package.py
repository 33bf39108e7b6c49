"""flarectl as an installed package, not the repository: a wheel built from this tree and
installed (non-editable) into a fresh venv validates the embedded default federation and
writes a site's files, with the host files it ships inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from flarectl.host_scripts import HOSTS_DIR, PACKAGE_DIR
from flarectl.host_scripts import host_files as every_host_file
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def installed(flarectl_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("package")
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    subprocess.run([str(work / "venv/bin/pip"), "install", "-q", str(flarectl_wheel)], check=True, capture_output=True)
    return {"wheel": flarectl_wheel, "venv": work / "venv", "cwd": tmp_path_factory.mktemp("elsewhere")}


def flarectl(installed: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    """As on a machine with no checkout: nothing remembered (choice.py's file is per directory)."""
    env = {key: value for key, value in os.environ.items() if key != "FLARECTL_REMEMBERED_FEDERATION"}
    return subprocess.run(
        [str(installed["venv"] / "bin/flarectl"), *args], cwd=installed["cwd"], capture_output=True, text=True, timeout=120, env=env
    )


def test_the_wheel_carries_every_host_file_and_the_default_federation(installed: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    shipped = [*every_host_file("*"), *(PACKAGE_DIR / "sites").glob("*/README*.md")]  # and each kind's README template
    host_files = {f"flarectl/{p.relative_to(PACKAGE_DIR)}" for p in shipped if p.is_file() and "__pycache__" not in p.parts}
    assert host_files <= names and "flarectl/federation.yaml" in names
    # Every package of the tree is found (a new site kind needs no edit of pyproject.toml).
    packages = {
        f"{p.parent.relative_to(ROOT)}/__init__.py" for p in (ROOT / "flarectl").rglob("__init__.py") if "__pycache__" not in p.parts
    }
    assert {name for name in names if name.endswith("/__init__.py")} == packages
    assert not any(name.startswith(("tests/", "stacks/", "flare_constructs/")) for name in names)


def test_installed_flarectl_validates_the_embedded_default(installed: dict[str, Path]) -> None:
    result = flarectl(installed, "validate")
    assert result.returncode == 0, result.stderr
    assert "site-packages/flarectl/federation.yaml: OK (project cancer-fl" in result.stdout


def test_installed_flarectl_writes_a_site_from_its_own_host_files(installed: dict[str, Path]) -> None:
    result = flarectl(installed, "site-files", "hpc-lab", "-o", "out")
    assert result.returncode == 0, result.stderr
    out = installed["cwd"] / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "client.env",
        "crontab.txt",
        "flare-client.sbatch",
        "flare-client.sh",
        "flare-doctor.py",
        "flare-watchdog.sh",
        "startup_kit.py",
        "venv-install.sh",
    ]
    assert (out / "flare-client.sh").read_text() == (HOSTS_DIR / "client" / "flare-client.sh").read_text()
    imported = subprocess.run([str(installed["venv"] / "bin/python"), "-c", "import flarectl.host_scripts as h; print(h.HOSTS_DIR)"],
                              cwd=installed["cwd"], capture_output=True, text=True, check=True)  # fmt: skip
    assert str(installed["venv"]) in imported.stdout and str(ROOT) not in imported.stdout
