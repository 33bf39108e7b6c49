"""The shared runtime's install writes a site's governance into its kit (local/authorization.json,
local/privacy.json) exactly as flarectl rendered it, rewrites it when the federation file
changes, and never overwrites a file the site changed itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flarectl.client_runtime import HostLayout, client_env
from flarectl.federation import Federation
from flarectl.governance import authorization, privacy
from flarectl.host_scripts import HOSTS_DIR

RUNTIME = HOSTS_DIR / "client" / "flare-client.sh"
HOSTILE = "$(touch /tmp/flarectl-pwned) `id` ' \" ; & |"
SCOPES = {
    "default_scope": "std",
    "scopes": [{"name": "std", "result_filters": [{"filter": "ExcludeVars", "args": {"exclude_vars": HOSTILE}}]}],
}


class Site:
    def __init__(self, root: Path):
        self.root = root
        kit = root / "kit-source"
        (kit / "startup").mkdir(parents=True)
        (kit / "local").mkdir()
        (kit / "startup" / "fed_client.json").write_text("{}")
        (kit / "startup" / "client.key").write_text("key")
        (kit / "startup" / "sub_start.sh").write_text("python3 -m client_train uid=lab org=hospital_a\n")
        (kit / "local" / "resources.json.default").write_text(json.dumps({"components": []}))
        self.kit = kit
        self.local = root / "site" / "kit" / "local"

    def install(self, governance: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        federation = Federation.model_validate({"project": "p", "project_admin_email": "it@hospital.test", "governance": governance,
            "sites": [{"name": "lab", "kind": "linux", "kit": "/srv/kit", "workdir": "/srv/lab", "gpus": 0}]})  # fmt: skip
        self.stance = federation.governance.site("lab")
        # sys.prefix: this venv has NVFlare 2.9.0, so install adds nothing to it.
        layout = HostLayout(site_root=str(self.root / "site"), settings_file="", runtime_dir="", kit_source=str(self.kit),
                            venv=sys.prefix, managed_venv=False)  # fmt: skip
        settings = self.root / "client.env"
        settings.write_text(client_env(federation.sites[0], "2.9.0", layout, self.stance))
        return subprocess.run(["bash", str(RUNTIME), str(settings), "install"], capture_output=True, text=True, timeout=60)

    def written(self, name: str) -> Any:
        return json.loads((self.local / name).read_text())


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def test_install_writes_the_policy_and_rewrites_only_what_changed(site: Site) -> None:
    first = site.install({"default": {"custom_code": False, "privacy": SCOPES}})
    assert first.returncode == 0, first.stderr
    assert "governance policy written: authorization.json privacy.json; a running client enforces it after a restart" in first.stdout
    assert site.written("authorization.json") == authorization(site.stance)
    assert site.written("privacy.json")["scopes"][0]["task_result_filters"] == [{"name": "ExcludeVars", "args": {"exclude_vars": HOSTILE}}]
    assert not Path("/tmp/flarectl-pwned").exists()
    assert sorted(p.name for p in site.local.iterdir()) == [".flarectl-authorization.json", ".flarectl-privacy.json", "authorization.json",
                                                           "privacy.json", "resources.json", "resources.json.default"]  # fmt: skip

    again = site.install({"default": {"custom_code": False, "privacy": SCOPES}})
    assert again.returncode == 0 and "governance policy written" not in again.stdout

    changed = site.install({"default": {"custom_code": True}})
    assert changed.returncode == 0, changed.stderr
    assert "governance policy written: authorization.json privacy.json (removed);" in changed.stdout
    assert site.written("authorization.json") == authorization(site.stance) and privacy(site.stance) is None
    assert not (site.local / "privacy.json").exists() and not (site.local / ".flarectl-privacy.json").exists()


def test_a_policy_the_site_wrote_itself_is_shown_and_nothing_is_written(site: Site) -> None:
    site.install({})
    (site.local / ".flarectl-authorization.json").unlink()  # as if the site had its own before flarectl
    own = (site.local / "authorization.json").read_text()
    refused = site.install({"default": {"custom_code": False, "privacy": SCOPES}})
    assert refused.returncode == 1
    assert "local/authorization.json is this site's own (flarectl did not write it)" in refused.stderr
    assert "not overwritten: put the change into the federation file's governance section" in refused.stderr
    assert (site.local / "authorization.json").read_text() == own and not (site.local / "privacy.json").exists()


def test_an_edited_privacy_file_is_kept_with_its_difference_shown(site: Site) -> None:
    site.install({"default": {"privacy": SCOPES}})
    edited = (site.local / "privacy.json").read_text().replace('"std"', '"mine"')
    (site.local / "privacy.json").write_text(edited)
    refused = site.install({"default": {"custom_code": False}})
    assert refused.returncode == 1
    assert "local/privacy.json was edited here since flarectl wrote it:" in refused.stderr
    assert '-  "default_scope": "std"' in refused.stderr and '+  "default_scope": "mine"' in refused.stderr
    assert (site.local / "privacy.json").read_text() == edited
