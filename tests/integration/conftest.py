"""Session fixtures of the integration tests: the wheel, the AWS emulator, the booted hub
(their helpers are in tests/harness/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.harness.local import start_emulator


@pytest.fixture(scope="session")
def flarectl_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of this tree (the build writes build/ into the tree it builds)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "flarectl", source / "flarectl", ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)]
    subprocess.run(command, check=True, capture_output=True)
    (wheel,) = (work / "dist").glob("flarectl-*.whl")
    return wheel


@pytest.fixture(scope="session")
def aws_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    server, env = start_emulator(tmp_path_factory.mktemp("moto"))
    try:
        yield env
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def booted_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The hub's user data booted under a real systemd (booted_hub.py), shared by the booted tests."""
    from tests.harness.booted_hub import booted_hub

    with booted_hub(tmp_path_factory.mktemp("booted-hub")) as hub:
        yield hub
