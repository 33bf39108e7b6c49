"""A startup kit is a private key: `cdk synth` (the pinned CLI) with an AWS site's kit present
leaves copies only in the site's own bundle under cdk.out and its staged asset; nothing in a
temporary folder, the home folder or the repository."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from tests.conftest import ROOT
from tests.harness.local import cdk, cli_env
from tests.harness.synth_fixtures import fake_client_kit


def holding(root: Path, canary: bytes) -> set[str]:
    found = set()
    for directory, folders, files in os.walk(root):
        folders[:] = [name for name in folders if name not in (".git", ".venv", "node_modules", ".mypy_cache", ".ruff_cache")]
        for name in files:
            path = Path(directory) / name
            try:
                if canary in path.read_bytes():
                    found.add(str(path.relative_to(root)))
            except OSError:
                pass
    return found


def test_a_kit_is_copied_only_into_its_sites_bundle_and_asset(tmp_path: Path) -> None:
    canary = f"-----BEGIN PRIVATE KEY----- canary {secrets.token_hex(16)}".encode()
    kit = fake_client_kit(tmp_path / "kits", "gpu-site-1")
    (kit / "startup" / "client.key").write_bytes(canary)
    config = tmp_path / "federation.yaml"
    config.write_text("project: canary\nproject_admin_email: it@hospital.test\n"
                      f"sites:\n  - {{name: gpu-site-1, kind: aws, kit: {kit}, gpus: 1, gpu_memory_gib: 15}}\n")  # fmt: skip
    out, temporary, home = tmp_path / "cdk.out", tmp_path / "tmp", tmp_path / "home"
    temporary.mkdir()
    home.mkdir()
    before = holding(ROOT, canary)
    result = cdk("synth", "--quiet", "-c", f"config={config}", "-o", str(out), env=cli_env(TMPDIR=str(temporary), HOME=str(home)))
    assert result.returncode == 0, result.stdout + result.stderr
    copies = holding(out, canary)
    assert "site-bundles/gpu-site-1/kit/startup/client.key" in copies
    assets = copies - {"site-bundles/gpu-site-1/kit/startup/client.key"}
    assert len(assets) == 1 and re.fullmatch(r"asset\.[0-9a-f]{64}/kit/startup/client\.key", assets.pop()), copies
    assert holding(temporary, canary) == set() and holding(home, canary) == set()
    assert holding(ROOT, canary) == before == set()
    assert oct((out / "site-bundles" / "gpu-site-1").stat().st_mode & 0o777) == "0o700"
    assert canary not in b"".join(path.read_bytes() for path in out.glob("*.json"))
