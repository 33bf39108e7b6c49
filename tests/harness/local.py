"""Local stand-ins every layer uses: a free port, the pinned CDK CLI's environment and
command, the AWS emulator (moto_server with the gaps moto_server_plus.py fills) and its clients."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent


PICK = random.SystemRandom()  # not the random module's state, which tests and Hypothesis seed


def free_port() -> int:
    """A port nothing holds now, for a service a test starts. It is picked below the kernel's
    ephemeral range: a port the kernel handed out (bind to port 0) can be taken as the local
    port of any outgoing connection before the service binds it, which happened with the test
    files running side by side (nginx: "bind() ... Address already in use")."""
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = PICK.randrange(10000, ephemeral_low)
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))  # as the services bind: every address
            except OSError:
                continue
            return port


def fill_volume(folder: Path) -> Path:
    """Write a ballast file in `folder` until its file system says it is full (ENOSPC); returns it."""
    ballast = folder / "ballast"
    with ballast.open("wb") as file:
        try:
            while True:
                file.write(b"\0" * (1 << 20))
                file.flush()
        except OSError as error:
            assert error.errno == 28, error  # ENOSPC
    return ballast


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
