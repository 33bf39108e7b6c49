"""hub.env as systemd reads it: generated values (valid and hostile) for every field hub.env
carries go through the bootstrap's own rendering (HUB_ENV, shell-quoted into the user data,
written by bash) and are read back by a real systemd's EnvironmentFile= parser, in a booted
Debian host (booted_host.py): every value the federation file accepts arrives exactly as the
file wrote it (DNS names in DNS's canonical form)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from flarectl.host_scripts import declared_settings, render_script
from flarectl.hub_env import hub_env
from tests.harness.booted_host import BootedHost, can_boot
from tests.harness.values import DEPLOY_NAMES, accepted, hub_sections, written

ORACLE_FILE = "var/tmp/oracle.env"


@pytest.fixture(scope="module")
def systemd_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BootedHost]:
    can_boot()
    host = BootedHost(tmp_path_factory.mktemp("systemd-oracle"), name="oracle", user_data=b"#cloud-config\n{}\n", environment={}, binds={})
    host.boot()
    yield host
    host.kill()


def as_the_bootstrap_writes_it(text: str, directory: Path) -> bytes:
    """hub.env as the bootstrap writes it: HUB_ENV shell-quoted into the script, then printf."""
    settings = {name: "x" for name in declared_settings("hub/bootstrap.sh")} | {"HUB_ENV": text}
    header = render_script("hub/bootstrap.sh", settings).split("readonly ROOT=", 1)[0]
    target = directory / "hub.env"
    subprocess.run(["bash", "-c", header + f'\nprintf "%s" "$HUB_ENV" >"{target}"'], check=True, timeout=30)
    return target.read_bytes()


def systemd_reads(host: BootedHost, content: bytes, names: list[str]) -> dict[str, str]:
    """The environment a unit with EnvironmentFile= gets, as the host's systemd builds it."""
    (host.root / ORACLE_FILE).write_bytes(content)
    result = host.run(
        "systemd-run", "--quiet", "--wait", "--pipe", "--collect", "-p", f"EnvironmentFile=/{ORACLE_FILE}", "/usr/bin/env", "-0"
    )
    assert result.returncode == 0, result.stderr
    environment = dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
    return {name: environment.get(name, "<unset>") for name in names}


@settings(max_examples=80)
@given(data=hub_sections())
def test_hub_env_reads_back_in_systemd_exactly_as_the_file_wrote_it(systemd_host: BootedHost, data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        loaded = accepted(Path(directory), data)
        if loaded is None:
            return
        expected = written(data, loaded)
        content = as_the_bootstrap_writes_it(hub_env(loaded, **DEPLOY_NAMES), Path(directory))
        assert systemd_reads(systemd_host, content, sorted(expected)) == expected


def test_the_oracle_sees_a_line_break_split_a_value(systemd_host: BootedHost) -> None:
    """The injection the issue found, written the old way (unquoted NAME=value lines): systemd
    reads a second setting out of one value. The oracle must see it, or it proves nothing."""
    injected = b"ACME_SERVER=https://x\nADMIN_SECRET_NAME=attacker/dashboard-admin\n"
    assert systemd_reads(systemd_host, injected, ["ADMIN_SECRET_NAME"]) == {"ADMIN_SECRET_NAME": "attacker/dashboard-admin"}
