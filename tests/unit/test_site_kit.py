"""flarectl site-kit fetch: what it checks in a downloaded kit before it moves it into place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flarectl.site_kit import SiteKitError, check_kit


def kit(tmp_path: Path, *, site: str = "site-a", target: str = "flareserver.onco.example:8002") -> Path:
    (tmp_path / "startup").mkdir(parents=True)
    settings = {"servers": [{"name": "onco", "service": {"target": target, "scheme": "http"}, "identity": target.split(":")[0]}],
                "client": {"fqsn": site}}  # fmt: skip
    (tmp_path / "startup" / "fed_client.json").write_text(json.dumps(settings))
    return tmp_path


def test_a_kit_for_this_site_and_server_passes(tmp_path: Path) -> None:
    assert check_kit(kit(tmp_path), "site-a", "flareserver.onco.example", 8002) == "flareserver.onco.example:8002"
    assert check_kit(kit(tmp_path / "no-dns", target="203.0.113.7:8002"), "site-a", None, 8002) == "203.0.113.7:8002"


@pytest.mark.parametrize(
    ("made", "message"),
    [
        ({"site": "site-b"}, "the kit is for site 'site-b', not 'site-a'"),
        (
            {"target": "old-hub.onco.example:8002"},
            "the kit dials old-hub.onco.example, the federation file names the server flareserver.onco.example",
        ),
        ({"target": "flareserver.onco.example:8003"}, "the kit dials port 8003, the federation file's hub.fl_port is 8002"),
    ],
)
def test_a_kit_for_another_site_server_or_port_is_refused(tmp_path: Path, made: dict, message: str) -> None:
    with pytest.raises(SiteKitError) as refused:
        check_kit(kit(tmp_path, **made), "site-a", "flareserver.onco.example", 8002)
    assert str(refused.value).startswith(message)


def test_a_kit_inside_a_git_tree_is_flagged_unless_ignored(tmp_path: Path) -> None:
    import subprocess

    from flarectl.site_kit import unignored_in_git

    assert unignored_in_git(tmp_path / "kits" / "site-a") is None  # not in a git work tree
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "kits" / "site-a" / "startup").mkdir(parents=True)
    assert unignored_in_git(tmp_path / "kits" / "site-a") == str(tmp_path.resolve())
    (tmp_path / ".gitignore").write_text("kits/\n")
    assert unignored_in_git(tmp_path / "kits" / "site-a") is None
