"""EC2 takes at most 16 KiB of user data, in raw form (EC2 User Guide, "Work with instance user
data"); the local emulator takes any size. The hub's bootstrap is packed (gzip + base64) below
its settings, the packed script runs as the plain one would, and synth refuses a host whose
user data EC2 would refuse, before anything is deployed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from flarectl.config.errors import ConfigError
from flarectl.host_scripts import render_script
from tests.harness.synth_fixtures import federation, synth_hub
from tests.harness.templates import user_data_text

EC2_USER_DATA_LIMIT = 16384


def raw_size(text: str) -> int:
    """The user data's bytes as EC2 counts them; a reference (<{...}>) counted as the 64
    characters a bucket name or an asset key can take."""
    import re

    return len(re.sub(r"<\{.*?\}>", "x" * 64, text).encode())


def test_a_packed_script_runs_its_body_with_the_settings_above_it(tmp_path: Path) -> None:
    host_file = tmp_path / "probe.sh"
    host_file.write_text(
        '#!/bin/bash\nset -euo pipefail\n# @SETTINGS@ GREETING\nsay() { printf "%s|%s\\n" "$1" "${GREETING}"; }\nsay "$(printf x%.0s {1..3})"\n'
    )
    plain = render_script(host_file, {"GREETING": "it's $(id)"})
    packed = render_script(host_file, {"GREETING": "it's $(id)"}, packed=True)
    assert "say()" not in packed
    runs = [subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout for script in (plain, packed)]
    assert runs == ["xxx|it's $(id)\n", "xxx|it's $(id)\n"]


def test_every_host_fits_with_room_to_spare() -> None:
    hub = synth_hub(federation())
    assert raw_size(user_data_text(hub)) < EC2_USER_DATA_LIMIT - 4096
    # A hub that admits Leads of 40 named organizations and needs ten server packages.
    big = federation(
        governance={"hub": {"run_jobs": {"roles": ["lead"], "orgs": [f"hospital_number_{n:02d}" for n in range(40)]}},
                    "default": {"run_jobs": {"roles": ["lead"], "orgs": ["own"]}}},
        hub={"server_requirements": [f"package-number-{n}==1.0.{n}" for n in range(10)]},
    )  # fmt: skip
    assert raw_size(user_data_text(synth_hub(big))) < EC2_USER_DATA_LIMIT


def test_synth_refuses_a_host_whose_user_data_ec2_would_refuse() -> None:
    huge = federation(hub={"server_requirements": [f"package-with-a-long-name-number-{n}>=1.0.{n},<2" for n in range(400)]})
    with pytest.raises(ConfigError) as refused:
        synth_hub(huge)
    (problem,) = refused.value.problems
    assert problem.startswith("the host's user data would be about ") and "EC2 takes at most 16384" in problem
