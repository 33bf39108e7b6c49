"""Local services for integration tests: the AWS emulator (moto_server) on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for the pinned CDK CLI: no telemetry, no notices, no version check."""
    env = dict(os.environ)
    env.update({"CDK_DISABLE_CLI_TELEMETRY": "1", "CDK_DISABLE_VERSION_CHECK": "1", "CI": "true"})
    # A memory of the federation file of its own (flarectl/config/choice.py): what one test's
    # `-c config=` named is never what another test's command without it reads.
    env["FLARECTL_REMEMBERED_FEDERATION"] = str(Path(tempfile.mkdtemp(prefix="flarectl-memory-")) / "federation")
    env.update(extra)
    return env


def emulator_client(emulator: dict[str, str], service: str) -> Any:
    """A boto3 client for one service of the emulator."""
    import boto3

    return boto3.client(service, endpoint_url=emulator["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


def cdk(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["cdk", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


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


def start_emulator(directory: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """A moto_server (with CloudFormation secrets) and the environment that points AWS clients at it."""
    port = free_port()
    log = (directory / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(HERE / "moto_server_plus.py"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start; see {log.name}") from None
            time.sleep(0.2)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        # moto fetches CloudFormation template URLs only from localhost or s3 hosts
        "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": f"http://localhost:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    return server, env


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
    from tests.integration.booted_hub import booted_hub

    with booted_hub(tmp_path_factory.mktemp("booted-hub")) as hub:
        yield hub
