"""cfn-lint on every synthesized template, shellcheck on every rendered host script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from flarectl.userdata import USERDATA_DIR, declared_settings, render_script
from tests.conftest import needs

TEMPLATES = ["default_template", "dns_template", "existing_vpc_template"]


@pytest.mark.parametrize("fixture", TEMPLATES)
def test_cfn_lint_clean(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    template: Template = request.getfixturevalue(fixture)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template.to_json()))
    result = subprocess.run(["cfn-lint", "--regions", "us-east-1", "--", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


HOSTILE = "x'; touch /tmp/pwned; echo '$(id)`id`"


@pytest.mark.parametrize("script", sorted(str(p.relative_to(USERDATA_DIR)) for p in USERDATA_DIR.rglob("*.sh")))
def test_host_scripts_are_shellcheck_clean(script: str, tmp_path: Path) -> None:
    needs(shutil.which("shellcheck") is not None, "shellcheck (Debian package 'shellcheck')")
    rendered = tmp_path / Path(script).name
    rendered.write_text(render_script(script, {name: "example-value" for name in declared_settings(script)}))
    result = subprocess.run(["shellcheck", "--severity=style", str(rendered)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def hostile_settings(script: str) -> dict[str, str]:
    return {name: HOSTILE for name in declared_settings(script)}


def test_rendered_settings_cannot_break_out_of_the_script(tmp_path: Path) -> None:
    script = "hub/bootstrap.sh"
    text = render_script(script, hostile_settings(script))
    header = text.split("readonly SERVICE_USER")[0]
    result = subprocess.run(["bash", "-c", header + '\necho "$PROJECT"'], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == HOSTILE + "\n"
    assert not Path("/tmp/pwned").exists()


def test_rendering_refuses_missing_or_undeclared_settings() -> None:
    settings = hostile_settings("hub/bootstrap.sh")
    settings.pop("PROJECT")
    with pytest.raises(ValueError, match=r"missing \['PROJECT'\]"):
        render_script("hub/bootstrap.sh", settings)
    with pytest.raises(ValueError, match=r"not declared \['EXTRA'\]"):
        render_script("hub/bootstrap.sh", {**hostile_settings("hub/bootstrap.sh"), "EXTRA": "1"})
