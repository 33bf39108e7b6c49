"""What `cdk synth` writes for a Windows/WSL laptop site."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from flarectl.federation import Federation
from flarectl.host_scripts import HOSTS_DIR
from flarectl.sites.wsl import emit
from tests.conftest import needs


def wsl_federation(**fields) -> Federation:
    site = {"name": "laptop-1", "kind": "wsl", "kit": "/home/ann/nvflare/kits/laptop-1", "workdir": "/home/ann/nvflare/laptop-1",
            "gpu_memory_gib": 7, **fields}  # fmt: skip
    return Federation.model_validate({"project": "p", "project_admin_email": "it@hospital.test", "sites": [site]})


@pytest.fixture
def emitted(tmp_path: Path) -> Path:
    federation = wsl_federation(requirements=["torch==2.5.1"])
    emit(federation.sites[0], federation, tmp_path)
    return tmp_path


def test_files_for_the_laptop(emitted: Path) -> None:
    assert sorted(p.name for p in emitted.iterdir()) == [
        "README.md",
        "check-windows.ps1",
        "client.env",
        "flare-client.sh",
        "flare-doctor.py",
        "flare-site.sh",
        "startup_kit.py",
        "venv-install.sh",
    ]
    assert (emitted / "flare-client.sh").read_text() == (HOSTS_DIR / "client" / "flare-client.sh").read_text()
    script = (emitted / "flare-site.sh").read_text()
    assert "readonly SITE_DIR=/home/ann/nvflare/laptop-1" in script and "readonly SITE_NAME=laptop-1" in script
    settings = (emitted / "client.env").read_text()
    assert "KIT_SOURCE=/home/ann/nvflare/kits/laptop-1\n" in settings and "GPU_MEMORY_GIB=7\n" in settings


def test_readme_walks_the_laptop_owner_through(emitted: Path) -> None:
    readme = (emitted / "README.md").read_text()
    for text in ("check-windows.ps1", "bash flare-site.sh setup", "bash flare-site.sh start", "bash flare-site.sh status",
                 "bash flare-site.sh stop", "systemd=true"):  # fmt: skip
        assert text in readme


def test_flare_site_script_is_shellcheck_clean(emitted: Path) -> None:
    needs(shutil.which("shellcheck") is not None, "shellcheck (Debian package 'shellcheck')")
    result = subprocess.run(
        ["shellcheck", "-s", "bash", "--severity=style", str(emitted / "flare-site.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def powershell_problems(text: str) -> list[str]:
    """A syntax check that runs without pwsh (not packaged for Debian): strings, comments,
    here-strings and backtick escapes are skipped; brackets must balance and strings close."""
    problems, stack, index, line = [], [], 0, 1
    pairs = {")": "(", "}": "{", "]": "["}
    while index < len(text):
        char = text[index]
        if char == "\n":
            line += 1
        elif char == "`":
            index += 1  # escape: the next character is literal
        elif char == "#":
            index = text.find("\n", index) - 1 if "\n" in text[index:] else len(text)
        elif char in "'\"":
            end = index + 1
            while end < len(text) and text[end] != char:
                if char == '"' and text[end] == "`":
                    end += 1
                end += 1
            if end >= len(text):
                problems.append(f"line {line}: string not closed")
                break
            line += text[index:end].count("\n")
            index = end
        elif char in "({[":
            stack.append((char, line))
        elif char in ")}]":
            if not stack or stack[-1][0] != pairs[char]:
                problems.append(f"line {line}: unexpected {char!r}")
            else:
                stack.pop()
        index += 1
    problems += [f"line {opened}: {char!r} never closed" for char, opened in stack]
    return problems


def test_powershell_check_is_well_formed(emitted: Path) -> None:
    text = (emitted / "check-windows.ps1").read_text()
    assert powershell_problems(text) == []
    for check in ("Get-Command wsl.exe", "& wsl.exe --list --verbose", "Win32_VideoController", "exit 1"):
        assert check in text


def test_the_syntax_check_catches_breakage() -> None:
    assert powershell_problems("if ($x) { Write-Host 'a' ") == ["line 1: '{' never closed"]
    assert powershell_problems('Write-Host "unterminated') == ["line 1: string not closed"]
    assert powershell_problems("$a = @(1, 2))") == ["line 1: unexpected ')'"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"workdir": "~/nvflare"}, "is not an absolute workdir path"),
        ({"kit": "/home/ann/$(reboot)"}, "is not an absolute kit path"),
        ({"gpus": 9}, "a laptop site has 0 to 8 GPUs"),
        ({"name": "Ann's laptop"}, "has a space"),
    ],
)
def test_hostile_or_wrong_values_are_rejected(fields: dict, expected: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        wsl_federation(**fields)
    assert expected in str(caught.value)


def test_the_readme_says_where_each_thing_goes_inside_wsl_and_from_windows() -> None:
    from flarectl.federation import Federation
    from flarectl.sites.wsl import site_readme
    from tests.harness.config_cases import with_

    federation = Federation.model_validate(with_(sites=[{"name": "laptop-1", "kind": "wsl", "kit": "/home/r/k", "workdir": "/home/r/w"}]))
    lines = site_readme(federation.sites[0]).splitlines()  # type: ignore[arg-type]
    assert lines[0] == "# Laptop site `laptop-1` (Windows + WSL 2)"
    assert lines[8:12] == [
        "2. Download this site's startup kit from the NVFlare dashboard and unzip it inside WSL at",
        "   `/home/r/k`.",
        "3. Copy this folder to `/home/r/w/` inside WSL (from Windows: `\\\\wsl$\\Ubuntu\\home\\r\\w`).",
        "4. In WSL: `cd /home/r/w && bash flare-site.sh setup` (checks `nvidia-smi`, installs NVFlare",
    ]
