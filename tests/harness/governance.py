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


def without_default_policy(settings: list[str]) -> list[str]:
    """client.env's NAME=value lines (bash's quoting) less the two policy lines, which must be
    NVFlare's default authorization and no privacy scopes (a file without governance)."""
    policies = [line for line in settings if line.startswith(("AUTHORIZATION_JSON=", "PRIVACY_JSON="))]
    assert len(policies) == 2, policies
    assert json.loads(policies[0].removeprefix("AUTHORIZATION_JSON=").strip("'")) == nvflare_default_authz()
    assert policies[1] == "PRIVACY_JSON=''"
    return [line for line in settings if line not in policies]
