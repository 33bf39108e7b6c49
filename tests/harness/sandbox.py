"""Run a host bootstrap (user data) for real inside a sandbox directory: FLARE_ROOT points
its paths there, and the system-changing commands are recorders (host_recorder.py)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from flarectl.host_scripts import HOSTS_DIR
from flarectl.sites.azure.custom_data import decode_custom_data

RECORDED = ["dpkg-query", "apt-get", "mountpoint", "mount", "mkfs.ext4", "blkid", "id", "useradd", "chown", "stat", "python3",
            "pip", "systemctl", "sleep", "curl"]  # fmt: skip


# Commands that change a host (queries such as dpkg-query, id or mountpoint do not).
CHANGING = ("apt-get", "mkfs.ext4", "mount ", "useradd", "chown", "python3 -m venv", "pip ", "systemctl daemon-reload",
            "systemctl enable", "systemctl restart", "systemctl try-restart")  # fmt: skip


def changing(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith(CHANGING)]


class HostSandbox:
    def __init__(self, root: Path, emulator: dict[str, str]):
        self.root, self.emulator = root, emulator
        self.host = root / "host"
        self.bin = root / "bin"
        for directory in (self.host / "etc", self.host / "opt" / "nvflare" / "bin", self.bin):
            directory.mkdir(parents=True, exist_ok=True)
        # What cloud-init's write_files puts in place before the bootstrap runs.
        shutil.copy(HOSTS_DIR / "common" / "fetch_s3_zip.py", self.host / "opt" / "nvflare" / "bin" / "fetch_s3_zip.py")
        for name in RECORDED:
            stub = self.bin / name
            stub.write_text(f'#!/bin/sh\nexec {sys.executable} {Path(__file__).parent / "host_recorder.py"} {name} "$@"\n')
            stub.chmod(0o755)
        self.log = root / "calls.log"
        self.env: dict[str, str] = {}  # more environment for the script, e.g. the instance metadata endpoint

    def run_script(self, script: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        path = self.root / "user-data.sh"
        path.write_text(script)
        start = len(self.calls())
        env = {**os.environ, **self.emulator, "FLARE_ROOT": str(self.host), "PATH": f"{self.bin}:{os.environ['PATH']}",
               "RECORDER_LOG": str(self.log), "RECORDER_STATE": str(self.root / "state.json"), "RECORDER_BIN": str(self.bin), **self.env}  # fmt: skip
        result = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=180)
        return result, self.calls()[start:]

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def snapshot(self) -> dict[str, int]:
        return {str(p.relative_to(self.host)): p.stat().st_mtime_ns for p in self.host.rglob("*") if p.is_file()}


def unpack_custom_data(custom_data: str, host: Path) -> dict:
    """What cloud-init's write_files does with an Azure VM's custom data, under `host`; the
    absolute paths in client.env point there too. Returns the cloud-config."""
    cloud_config = yaml.safe_load(decode_custom_data(custom_data))
    for entry in cloud_config["write_files"]:
        path = host / entry["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(entry["content"]) if entry.get("encoding") == "b64" else entry["content"].encode())
        path.chmod(int(entry["permissions"], 8))
    settings = host / "etc" / "nvflare-client" / "client.env"
    lines = [line.replace("='/", f"='{host}/").replace("=/", f"={host}/") for line in settings.read_text().splitlines()]
    settings.write_text("\n".join(lines) + "\n")
    return cloud_config
