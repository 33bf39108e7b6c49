"""flarectl/hosts/common/startup_kit.py: what a kit dials or serves, and the safe unzip, which
flarectl's kit verbs share (site-kit fetch, kit install, server-kit install)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from flarectl.hosts.common.startup_kit import KitIdentity, UnsafeKit, extract, identity, read_identity


def test_a_client_kit_names_its_project_server_port_and_site(tmp_path: Path) -> None:
    # The shape NVFlare 2.9's provisioner writes (lighter/impl/static_file.py: fed_client.json).
    settings = '{"servers": [{"name": "cancer-fl", "service": {"scheme": "grpc", "target": "fl.onco.example:8002"}}], "client": {"fqsn": "site-a"}}'
    (tmp_path / "fed_client.json").write_text(settings)
    assert read_identity(tmp_path) == KitIdentity(project="cancer-fl", host="fl.onco.example", port=8002, site="site-a")
    assert read_identity(tmp_path).address == "fl.onco.example:8002"


def test_a_server_kit_has_no_site_and_an_ipv6_target_keeps_its_host() -> None:
    kit = identity({"servers": [{"name": "p", "service": {"target": "[2001:db8::7]:8443"}}]})
    assert (kit.project, kit.host, kit.port, kit.site) == ("p", "[2001:db8::7]", 8443, None)


def test_a_folder_without_settings_says_which_files_it_looked_for(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="fed_server.json, fed_client.json, fed_admin.json"):
        read_identity(tmp_path)


@pytest.mark.parametrize("member", ["/etc/cron.d/x", "startup/../../x", "../x", "a/../../b"])
def test_a_zip_with_any_escaping_member_is_refused_whole(tmp_path: Path, member: str) -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as bundle:
        bundle.writestr("startup/fed_client.json", "{}")
        bundle.writestr(member, "x")
    with zipfile.ZipFile(data) as bundle, pytest.raises(UnsafeKit, match=f"unsafe path '{member}'"):
        extract(bundle, tmp_path / "staging")
    assert not (tmp_path / "staging").exists()


def test_a_safe_zip_is_unpacked_into_the_folder(tmp_path: Path) -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as bundle:
        bundle.writestr("site-a/startup/fed_client.json", "{}")
    with zipfile.ZipFile(data) as bundle:
        extract(bundle, tmp_path)
    assert [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()] == ["site-a/startup/fed_client.json"]
