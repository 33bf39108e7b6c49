"""NVFlare's own policy pieces, read from the installed NVFlare, for the governance tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nvflare
import yaml

MASTER_TEMPLATE = Path(nvflare.__file__).parent / "lighter" / "templates" / "master_template.yml"


def nvflare_default_authz() -> dict[str, Any]:
    """default_authz: what every kit's local/authorization.json.default holds."""
    return json.loads(yaml.safe_load(MASTER_TEMPLATE.read_text())["default_authz"])


def decides(policy: dict[str, Any], *, right: str, role: str, user_org: str, site_org: str, user: str = "u@x.org",
            submitter: tuple[str, str, str] | None = None) -> bool:  # fmt: skip
    """NVFlare's own answer (fuel/sec/authz.py with security.py's command categories)."""
    from nvflare.fuel.sec.authz import AuthzContext, Person
    from nvflare.security.security import FLAuthorizer

    authorizer = FLAuthorizer(site_org, policy)
    person = Person(user, user_org, role)
    allowed, error = authorizer.evaluate(AuthzContext(right=right, user=person, submitter=Person(*submitter) if submitter else person))
    assert not error, error
    return bool(allowed)
