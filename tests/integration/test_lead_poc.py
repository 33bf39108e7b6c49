"""`--poc` (flarectl submit, jobs, abort, download, status) finds the admin kit that NVFlare's
own `nvflare poc prepare` made, wherever NVFlare put it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flarectl.cli import main as flarectl
from flarectl.lead import find_kit


def test_poc_finds_the_admin_kit_nvflare_poc_prepare_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = tmp_path / "poc-workspace"
    monkeypatch.setenv("HOME", str(tmp_path))  # the CLI writes ~/.nvflare
    monkeypatch.setenv("NVFLARE_POC_WORKSPACE", str(workspace))
    nvflare = Path(sys.executable).parent / "nvflare"
    subprocess.run([str(nvflare), "poc", "prepare", "-n", "1"], env=os.environ.copy(), check=True, capture_output=True, timeout=180)
    admins = sorted(workspace.glob("*/prod_00/admin@*"))
    assert len(admins) == 1 and (admins[0] / "startup" / "fed_admin.json").exists()
    assert find_kit(None, poc=True) == admins[0].resolve()


def test_poc_without_a_poc_workspace_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NVFLARE_POC_WORKSPACE", str(tmp_path / "nothing-here"))
    assert flarectl(["status", "--poc"]) == 2
    err = capsys.readouterr().err
    assert f"no admin startup kit found in the POC workspace {tmp_path / 'nothing-here'} (nvflare poc prepare)" in err
