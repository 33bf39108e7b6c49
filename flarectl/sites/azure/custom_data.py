"""The Azure VM's custom data: a cloud-config that writes the shared client runtime, its
settings and the startup kit, then runs the Azure bootstrap. gzip+base64, as Azure takes it."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from flarectl.client_runtime import CLOUD_BUNDLE, RUNTIME_FILES, client_env, cloud_layout
from flarectl.host_scripts import HOSTS_DIR, render_script
from flarectl.sites.azure.model import AzureSite

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

NVIDIA_DRIVER_BRANCH = "580-server"
CUSTOM_DATA_LIMIT = 65535  # bytes of base64 Azure accepts
HOST = cloud_layout(kit="kit.zip")


def kit_zip(kit: Path) -> bytes:
    """The startup kit folder as a zip with fixed timestamps: the same kit, the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # each entry says its own compression
        for path in sorted(p for p in kit.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = zipfile.ZipInfo(str(path.relative_to(kit)), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o600 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def cloud_config(site: AzureSite, federation: FederationSettings, kit: bytes | None) -> str:
    """The cloud-config the VM boots with. Without `kit` (for review) the kit's file holds a
    note instead of the key material."""
    runtime = HOST.runtime_dir
    bootstrap = render_script(
        Path(__file__).parent / "host" / "azure-bootstrap.sh",
        {
            "NVIDIA_DRIVER_BRANCH": NVIDIA_DRIVER_BRANCH,
            "SETTINGS_PATH": HOST.settings_file,
            "BUNDLE_PATH": CLOUD_BUNDLE,
        },
    )
    files = [
        {
            "path": f"{runtime}/{name}",
            "permissions": "0755" if name.endswith(".sh") else "0644",
            "content": (HOSTS_DIR / "client" / name).read_text(),
        }
        for name in RUNTIME_FILES
    ]
    files.append({"path": f"{runtime}/azure-bootstrap.sh", "permissions": "0755", "content": bootstrap})
    files.append(
        {
            "path": HOST.settings_file,
            "permissions": "0644",
            "content": client_env(site, federation.nvflare_version, HOST, federation.governance.site(site.name)),
        }
    )
    if kit is None:
        files.append(
            {
                "path": HOST.kit_source,
                "permissions": "0600",
                "content": "(the site's startup kit, zipped: added by `flarectl azure deploy`)",
            }
        )
    else:
        files.append({"path": HOST.kit_source, "permissions": "0600", "encoding": "b64", "content": base64.b64encode(kit).decode()})
    document = {
        "package_update": True,
        "packages": ["python3-venv"],
        "write_files": files,
        "runcmd": [["bash", f"{runtime}/azure-bootstrap.sh"]],
    }
    header = f"#cloud-config\n# NVFlare client site {site.name} (project {federation.project}): written by flarectl.\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=1000)


def encode_custom_data(text: str) -> str:
    """gzip (cloud-init unpacks it) then base64, as Azure wants custom data."""
    return base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()


def decode_custom_data(value: str) -> str:
    return gzip.decompress(base64.b64decode(value)).decode()


def custom_data_for_deploy(site: AzureSite, federation: FederationSettings) -> tuple[str, str]:
    """(custom data, its sha256) with the startup kit inside; ValueError when there is no kit
    or it does not fit."""
    if not site.kit_present:
        raise ValueError(
            f"no startup kit at {site.kit or '(sites[].kit not set)'}: register the site on the dashboard, "
            "download its startup kit and unzip it there (startup/fed_client.json must exist)"
        )
    value = encode_custom_data(cloud_config(site, federation, kit_zip(Path(site.kit))))  # type: ignore[arg-type]
    if len(value) > CUSTOM_DATA_LIMIT:
        raise ValueError(
            f"the VM's custom data is {len(value)} bytes; Azure accepts {CUSTOM_DATA_LIMIT}. Remove large files from the kit folder {site.kit}"
        )
    return value, hashlib.sha256(value.encode()).hexdigest()
