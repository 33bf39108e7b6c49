"""flarectl/hosts/hub/install-cloudwatch-agent.sh for real against a local stand-in of AWS's agent
bucket, with packages signed by keys made here: it installs only a package whose signature
verifies against the pinned key fingerprint, and downloads nothing when a new enough agent
is there. dpkg is a recorder (nothing is installed on this machine)."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from flarectl.host_scripts import HOSTS_DIR
from tests.conftest import needs

SCRIPT = HOSTS_DIR / "hub" / "install-cloudwatch-agent.sh"
MIN_VERSION = "1.300070.0"


def gpg(home: Path, *args: str) -> str:
    return subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], capture_output=True, text=True, check=True).stdout


def make_key(home: Path, name: str) -> str:
    home.mkdir(mode=0o700)
    gpg(home, "--passphrase", "", "--quick-gen-key", f"{name} <{name}@flare.test>", "ed25519", "sign", "never")
    return next(line.split(":")[9] for line in gpg(home, "--with-colons", "--list-keys").splitlines() if line.startswith("fpr:"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    needs(shutil.which("gpg") is not None, "gpg (Debian package 'gpg')")
    root = tmp_path_factory.mktemp("keys")
    return {name: (root / name, make_key(root / name, name)) for name in ("aws", "attacker")}


class Bucket:
    """The agent bucket's layout under a local HTTP server, and the requests it saw."""

    def __init__(self, root: Path):
        self.root, self.requests = root, []
        bucket = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                bucket.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def publish(self, package: bytes, signer: tuple[Path, str], served_key: tuple[Path, str]) -> None:
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
        latest = self.root / "ubuntu" / arch / "latest"
        latest.mkdir(parents=True, exist_ok=True)
        (latest / "amazon-cloudwatch-agent.deb").write_bytes(package)
        (latest / "amazon-cloudwatch-agent.deb.sig").unlink(missing_ok=True)
        gpg(
            signer[0],
            "--detach-sign",
            "--output",
            str(latest / "amazon-cloudwatch-agent.deb.sig"),
            str(latest / "amazon-cloudwatch-agent.deb"),
        )
        (self.root / "assets").mkdir(exist_ok=True)
        (self.root / "assets" / "amazon-cloudwatch-agent.gpg").write_text(gpg(served_key[0], "--armor", "--export"))


@pytest.fixture
def bucket(tmp_path: Path) -> Iterator[Bucket]:
    served = Bucket(tmp_path / "bucket")
    yield served
    served.server.shutdown()


def run(tmp_path: Path, bucket: Bucket, fingerprint: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The script with a dpkg recorder that 'installs' by writing the agent's version file."""
    host, bin_dir, calls = tmp_path / "host", tmp_path / "bin", tmp_path / "dpkg.calls"
    bin_dir.mkdir(exist_ok=True)
    real_dpkg = shutil.which("dpkg")
    (bin_dir / "dpkg").write_text(
        f'#!/bin/sh\necho "$*" >>{calls}\n[ "$1" = --print-architecture ] && exec {real_dpkg} --print-architecture\n'
        f'mkdir -p {host}/opt/aws/amazon-cloudwatch-agent/bin && echo 1.300071.0b1 >{host}/opt/aws/amazon-cloudwatch-agent/bin/CWAGENT_VERSION\n'
    )  # fmt: skip
    (bin_dir / "dpkg").chmod(0o755)
    env = {**os.environ, "FLARE_ROOT": str(host), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", str(SCRIPT), bucket.url, fingerprint, MIN_VERSION], env=env, capture_output=True, text=True, timeout=120
    )
    installs = [c for c in (calls.read_text().splitlines() if calls.exists() else []) if c.startswith("-i ")]
    return result, installs


def test_a_package_signed_by_the_pinned_key_is_installed(tmp_path: Path, bucket: Bucket, keys) -> None:
    bucket.publish(b"agent package", signer=keys["aws"], served_key=keys["aws"])
    result, installs = run(tmp_path, bucket, keys["aws"][1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(installs) == 1 and installs[0].endswith("/amazon-cloudwatch-agent.deb")
    assert "flare-bootstrap: cloudwatch agent: installed 1.300071.0b1" in result.stdout
    again, installs_again = run(tmp_path, bucket, keys["aws"][1])  # new enough now: nothing is downloaded
    assert again.returncode == 0 and installs_again == installs
    assert len(bucket.requests) == 3


def test_a_package_signed_by_another_key_is_refused_even_with_that_key_served(tmp_path: Path, bucket: Bucket, keys) -> None:
    bucket.publish(b"agent package", signer=keys["attacker"], served_key=keys["attacker"])
    result, installs = run(tmp_path, bucket, keys["aws"][1])
    assert result.returncode == 1 and installs == []
    assert f"the package's signature does not verify against key {keys['aws'][1]}; not installed" in result.stdout


def test_a_tampered_package_is_refused(tmp_path: Path, bucket: Bucket, keys) -> None:
    bucket.publish(b"agent package", signer=keys["aws"], served_key=keys["aws"])
    arch = next((bucket.root / "ubuntu").iterdir())
    (arch / "latest" / "amazon-cloudwatch-agent.deb").write_bytes(b"agent package with a backdoor")
    result, installs = run(tmp_path, bucket, keys["aws"][1])
    assert result.returncode == 1 and installs == []


def test_an_older_agent_is_replaced_and_an_unreachable_bucket_is_reported(tmp_path: Path, bucket: Bucket, keys) -> None:
    version_file = tmp_path / "host" / "opt" / "aws" / "amazon-cloudwatch-agent" / "bin" / "CWAGENT_VERSION"
    version_file.parent.mkdir(parents=True)
    version_file.write_text("1.300064.0b1337\n")  # before journald support
    bucket.server.shutdown()
    bucket.server.server_close()
    result, installs = run(tmp_path, bucket, keys["aws"][1])
    assert result.returncode == 1 and installs == []
    assert "flare-bootstrap: cloudwatch agent: could not download " in result.stdout
