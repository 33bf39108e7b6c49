"""Federation files for config tests: a valid base, a DNS section, a file with one change, the
problems a file is refused with, and one minimal valid site of every kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from flarectl.config.errors import ConfigError
from flarectl.federation import load_federation
from flarectl.sites.registry import KINDS

VALID: dict[str, Any] = {"project": "cancer-fl", "project_admin_email": "admin@mydomain.edu"}
DNS = {
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "zone_name": "mydomain.edu",
    "dashboard_name": "flareboard.mydomain.edu",
    "server_name": "flareserver.mydomain.edu",
}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "federation.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def problems(tmp_path: Path, data: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_federation(write(tmp_path, data))
    return caught.value.problems


def with_(**sections: Any) -> dict[str, Any]:
    return {**VALID, **sections}


# One minimal valid site of every registered kind (each kind says its own): the shared fields must
# behave the same in each.
MINIMAL_SITES: dict[str, dict[str, Any]] = {name: kind.minimal for name, kind in KINDS.items()}
