"""cfn-lint on every synthesized template, shellcheck on every rendered host script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from flarectl.host_scripts import HOSTS_DIR, PACKAGE_DIR, declared_settings, host_files, render_script
from tests.conftest import ROOT, needs

TEMPLATES = ["default_template", "dns_template", "existing_vpc_template", "client_template", "client_template_without_kit"]


@pytest.mark.parametrize("fixture", TEMPLATES)
def test_cfn_lint_clean(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    template: Template = request.getfixturevalue(fixture)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template.to_json()))
    result = subprocess.run(["cfn-lint", "--regions", "us-east-1", "--", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


HOSTILE = "x'; touch /tmp/pwned; echo '$(id)`id`"


@pytest.mark.parametrize("script", host_files("*.sh"), ids=lambda path: str(path.relative_to(PACKAGE_DIR)))
def test_host_scripts_are_shellcheck_clean(script: Path, tmp_path: Path) -> None:
    needs(shutil.which("shellcheck") is not None, "shellcheck (Debian package 'shellcheck')")
    rendered = tmp_path / script.name
    if "# @SETTINGS@" in script.read_text():
        rendered.write_text(render_script(script, {name: "example-value" for name in declared_settings(script)}))
    else:
        shutil.copy(script, rendered)
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


UNIT_FILES = {
    p.name: p for p in [*(HOSTS_DIR / "hub" / "units").glob("*.*[a-z]"), HOSTS_DIR / "client" / "flare-client.service"] if p.is_file()
}
SANDBOX = "flare-.service.d/10-sandbox.conf"  # applies to every flare-*.service
UNITS = sorted(UNIT_FILES)


@pytest.fixture(scope="module")
def systemd_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with the host's paths the units name, and a copy of systemd's own units."""
    needs(shutil.which("systemd-analyze") is not None, "systemd-analyze (Debian package 'systemd')")
    root = tmp_path_factory.mktemp("systemd-root")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for executable in ("opt/nvflare/venv/bin/python", "bin/bash", "bin/kill"):  # what the units' ExecStart lines run
        path = root / executable
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    for unit, path in UNIT_FILES.items():
        shutil.copy(path, root / "etc/systemd/system" / unit)
    (root / "etc/systemd/system" / SANDBOX).parent.mkdir()
    shutil.copy(HOSTS_DIR / "hub" / "units" / SANDBOX, root / "etc/systemd/system" / SANDBOX)
    return root


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify(unit: str, systemd_root: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={systemd_root}", f"/etc/systemd/system/{unit}"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_systemd_analyze_catches_a_broken_unit(systemd_root: Path) -> None:
    broken = systemd_root / "etc/systemd/system/flare-broken.service"
    broken.write_text((HOSTS_DIR / "hub/units/flare-dashboard.service").read_text().replace("RestartSec=", "RestartSecs="))
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={systemd_root}", "/etc/systemd/system/flare-broken.service"], capture_output=True, text=True
    )
    assert "Unknown key 'RestartSecs'" in result.stdout + result.stderr


def test_every_timer_has_its_service() -> None:
    for timer in (HOSTS_DIR / "hub" / "units").glob("*.timer"):
        assert (timer.with_suffix(".service")).exists(), timer.name


def test_server_unit_waits_for_a_kit_and_the_dashboard_restarts_always() -> None:
    server = (HOSTS_DIR / "hub/units/flare-server.service").read_text()
    assert "ConditionPathExists=/var/lib/nvflare/kits/current/startup/fed_server.json" in server
    assert "Restart=on-failure" in server
    dashboard = (HOSTS_DIR / "hub/units/flare-dashboard.service").read_text()
    assert "Restart=always" in dashboard and "User=nvflare" in dashboard
    assert "NVFL_CREDENTIAL" not in dashboard


def test_host_certbot_pin_matches_the_tested_one() -> None:
    from stacks.server_stack import CERTBOT_VERSION

    requirements = (ROOT / "requirements-dev.txt").read_text()
    assert f"certbot=={CERTBOT_VERSION}" in requirements and f"certbot-dns-route53=={CERTBOT_VERSION}" in requirements


def test_hubctl_requires_exactly_what_hub_env_and_the_units_always_set() -> None:
    import importlib.util
    import sys

    from flarectl.federation import load_federation
    from flarectl.hub_env import hub_settings
    from tests.harness.synth_fixtures import DEFAULT_FEDERATION

    spec = importlib.util.spec_from_file_location("hub_settings", HOSTS_DIR / "hub" / "hub_settings.py")
    assert spec and spec.loader
    hubctl = importlib.util.module_from_spec(spec)
    sys.modules["hub_settings"] = hubctl  # dataclasses look their module up
    spec.loader.exec_module(hubctl)
    written = hub_settings(
        load_federation(DEFAULT_FEDERATION), kit_bucket="kits", admin_secret_name="p/dashboard-admin", region="us-east-1"
    )
    assert set(hubctl.HUB_ENV) == set(written) - {"AWS_DEFAULT_REGION"}  # that one is boto3's
    for unit in (HOSTS_DIR / "hub" / "units").glob("*.service"):
        environment = " ".join(line for line in unit.read_text().splitlines() if line.startswith("Environment="))
        assert all(f"{name}=" in environment for name in hubctl.UNIT_ENV), unit.name


def test_the_cloud_unit_runs_the_runtime_where_client_runtime_puts_it() -> None:
    from flarectl.client_runtime import cloud_layout

    unit = (HOSTS_DIR / "client" / "flare-client.service").read_text().splitlines()
    for kit in ("kit", "kit.zip"):  # AWS bundles a folder, Azure a zip; the rest is the same
        layout = cloud_layout(kit)
        assert f"ExecStart=/bin/bash {layout.runtime_dir}/flare-client.sh {layout.settings_file} run" in unit


@pytest.mark.parametrize("config", [None, "my-federation.yaml"])
def test_make_synth_names_a_file_only_when_given_one(config: str | None) -> None:
    """Without CONFIG=, `make synth` names no file, so cdk uses the remembered one (choice.py)."""
    root = ROOT
    command = ["make", "-n", "synth", *([f"CONFIG={config}"] if config else [])]
    planned = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True).stdout.splitlines()
    synth = [line for line in planned if line.startswith("cdk synth")]
    assert synth == ([f"cdk synth --quiet -c config={root / config}"] if config else ["cdk synth --quiet "])


def test_site_kinds_are_independent_plug_ins() -> None:
    """No kind imports another (directly or through a shared module): a kind can be added or
    removed alone. The kinds come from the registry, so a new one is checked without an edit here."""
    import grimp

    from flarectl.sites.registry import KIND_MODULES

    graph = grimp.build_graph("flarectl")
    chains = [(a, b) for a in KIND_MODULES for b in KIND_MODULES if a != b and graph.chain_exists(importer=a, imported=b, as_packages=True)]
    assert chains == []


# What each folder's scripts may import besides the standard library and their own siblings:
# what the host's venv installs (flarectl/hosts/hub/bootstrap.sh; the client runtime is stdlib only).
HOST_PACKAGES = {
    "hub": {"boto3", "botocore", "cryptography", "nvflare"},
    "common": {"boto3"},  # fetch_s3_zip.py runs in the hub's venv
    "client": set(),
    "slurm": set(),
    "wsl": set(),
    "lead": set(),
}


@pytest.mark.parametrize("path", host_files("*.py"), ids=lambda path: str(path.relative_to(PACKAGE_DIR)))
def test_host_code_imports_only_what_the_host_has(path: Path) -> None:
    """Hosts have no flarectl: a host script imports the standard library, the scripts beside it
    and what its host's venv installs, never the flarectl package or its dependencies."""
    import ast
    import sys

    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    folder = path.parent.relative_to(HOSTS_DIR).parts[0] if path.is_relative_to(HOSTS_DIR) and path.parent != HOSTS_DIR else "lead"
    siblings = {sibling.stem for sibling in path.parent.glob("*.py")}
    assert imported - set(sys.stdlib_module_names) - siblings - HOST_PACKAGES[folder] == set()


def test_every_product_module_can_be_read_in_one_sitting() -> None:
    """No product module over 400 lines (the tests and benchmarks may be longer)."""
    modules = [
        *ROOT.glob("app.py"),
        *(ROOT / "flarectl").rglob("*.py"),
        *(ROOT / "stacks").rglob("*.py"),
        *(ROOT / "flare_constructs").rglob("*.py"),
    ]
    long = {str(path.relative_to(ROOT)): n for path in modules if (n := len(path.read_text().splitlines())) > 400}
    assert long == {}
