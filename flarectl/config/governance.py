"""The federation file's `governance:` section: who may run what at each site and at the hub,
and what a result passes through before it leaves a site, in words an Org Admin and an ethics
board read. flarectl/governance.py turns a site's stance into NVFlare's own files
(local/authorization.json, local/privacy.json), which NVFlare enforces at the site.

Every field left out keeps NVFlare's default (lighter/templates/master_template.yml,
default_authz), so nothing is more permissive than NVFlare unless the file says so. A site's
entry under `sites:` replaces the default's fields it names, field by field; the hub has its
own entry and never takes the sites' default (its "own organization" is the Project Admin's)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, model_validator

from flarectl.config.fields import Model, SiteName, matching
from flarectl.config.privacy_filters import filter_problems

Role = Literal["project_admin", "org_admin", "lead"]  # NVFlare's roles with rights (a "member" may only view)
ROLES: tuple[Role, ...] = ("project_admin", "org_admin", "lead")
OWN = "own"  # the site's own organization (NVFlare's o:site)
# Words NVFlare's policy language reads as conditions, not organization names (fuel/sec/authz.py).
RESERVED_ORGS = {"site", "submitter", "any", "all", "none", "no", "not"}


def _org(value: str) -> str:
    """NVFlare's organization names (apis/utils/format_check.py, "org"); "own" is the site's own."""
    if value.lower() in RESERVED_ORGS:
        raise ValueError(f"{value!r} is a word of NVFlare's policy language, not an organization; write 'own' for the site's organization")
    return value


ScopeName = Annotated[
    str,
    matching(r"[A-Za-z][A-Za-z0-9_-]{0,39}", "{value!r} is not a scope name; use 1-40 letters, digits, '-' or '_', starting with a letter"),
]
ArgName = Annotated[str, matching(r"[a-z_][a-z0-9_]{0,39}", "{value!r} is not an argument name")]


def _arg_value(value: Any) -> Any:
    """A filter argument as JSON carries it to privacy.json: a number, true/false, a short
    printable text, or a list of those."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and not re.fullmatch(r"[ -~]{1,200}", item, re.ASCII):
            raise ValueError(f"{item!r}: use up to 200 printable ASCII characters")
        if not isinstance(item, bool | int | float | str):
            raise ValueError(f"{item!r}: use a number, true/false, a text, or a list of those")
    return value


ArgValue = Annotated[Any, AfterValidator(_arg_value)]


def _orgs(value: str | list[str]) -> str | list[str]:
    if value == "any":
        return value
    if isinstance(value, str):
        raise ValueError(f"{value!r}: write any, or a list of organizations ([own, hospital_b])")
    if not value:
        raise ValueError("the list is empty; to admit nobody write roles: []")
    for org in value:
        if not re.fullmatch(r"[A-Za-z0-9_]{1,40}", org, re.ASCII):
            raise ValueError(f"{org!r} is not an organization name; NVFlare's are 1-40 letters, digits or '_' (or 'own')")
        _org(org)
    return _unique(value)


Orgs = Annotated[str | list[str], AfterValidator(_orgs)]


def _unique(value: list[Any]) -> list[Any]:
    repeated = sorted({str(item) for item in value if value.count(item) > 1})
    if repeated:
        raise ValueError(f"{', '.join(repeated)} listed twice; list each once")
    return value


class PrivacyFilter(Model):
    """One of NVFlare's filters, by class name, with its arguments (privacy_filters.py)."""

    filter: str
    args: dict[ArgName, ArgValue] = {}

    @model_validator(mode="after")
    def _known(self) -> PrivacyFilter:
        problems = filter_problems(self.filter, self.args)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Scope(Model):
    """A privacy scope a job may name in its meta (`scope`). result_filters run on what leaves
    the site (NVFlare: task_result_filters, out); data_filters on what arrives (task_data_filters, in)."""

    name: ScopeName
    result_filters: list[PrivacyFilter] = []
    data_filters: list[PrivacyFilter] = []


class Privacy(Model):
    scopes: list[Scope]
    default_scope: ScopeName | None = None  # what a job that names no scope gets; none: such a job is refused

    @model_validator(mode="after")
    def _scopes(self) -> Privacy:
        names = [scope.name for scope in self.scopes]
        if not names:
            raise ValueError("scopes is empty; define at least one scope, or leave privacy out (no scopes: NVFlare applies no filter)")
        _unique(names)
        if self.default_scope is not None and self.default_scope not in names:
            raise ValueError(f"default_scope {self.default_scope!r} is not one of this site's scopes ({', '.join(names)})")
        return self


class RunJobs(Model):
    """Whose jobs may run here: NVFlare's submit_job right (at a site it is checked against
    the submitter when the hub deploys a job there)."""

    roles: Annotated[list[Role], AfterValidator(_unique)]
    orgs: Orgs = "any"  # any, or a list of organization names and `own`


class AccessPolicy(Model):
    run_jobs: RunJobs | None = None
    custom_code: bool | None = None  # may a job bring its own code (NVFlare: byoc)
    # Roles whose users of the site's own organization may run shell commands here (cat, ls,
    # grep, ...: they read the site's files); a project_admin listed may from any organization.
    shell_commands: Annotated[list[Role], AfterValidator(_unique)] | None = None


class SitePolicy(AccessPolicy):
    privacy: Privacy | None = None


# NVFlare's defaults, as the stance they amount to (master_template.yml, default_authz).
NVFLARE_RUN_JOBS = RunJobs(roles=["project_admin", "lead"], orgs="any")
NVFLARE_SHELL_COMMANDS: tuple[Role, ...] = ("project_admin", "org_admin", "lead")


@dataclass(frozen=True)
class Stance:
    """What one site (or the hub) enforces, every field decided."""

    run_jobs: RunJobs
    custom_code: bool
    shell_commands: tuple[Role, ...]
    privacy: Privacy | None

    @classmethod
    def of(cls, *policies: AccessPolicy) -> Stance:
        """The first policy that sets a field decides it; NVFlare's default otherwise."""

        def first(field: str, default: Any) -> Any:
            return next((getattr(p, field) for p in policies if getattr(p, field, None) is not None), default)

        return cls(
            run_jobs=first("run_jobs", NVFLARE_RUN_JOBS),
            custom_code=first("custom_code", True),
            shell_commands=tuple(first("shell_commands", NVFLARE_SHELL_COMMANDS)),
            privacy=first("privacy", None),
        )

    def problems(self) -> list[tuple[str, str]]:
        """Settings that contradict each other: (field, why)."""
        if self.custom_code and not self.run_jobs.roles:
            return [("custom_code", "true, but run_jobs.roles is empty: nobody's jobs run here; set custom_code: false")]
        return []


class Governance(Model):
    default: SitePolicy = SitePolicy()
    sites: dict[SiteName, SitePolicy] = {}
    hub: AccessPolicy = AccessPolicy()

    def site(self, name: str) -> Stance:
        return Stance.of(self.sites.get(name, SitePolicy()), self.default)

    @property
    def server(self) -> Stance:
        return Stance.of(self.hub)

    def problems(self, site_names: list[str]) -> list[str]:
        """Contradictions across the file: overrides for sites that do not exist, stances that
        contradict themselves, and sites admitting jobs the hub never accepts."""
        problems = [
            f"governance.sites.{name}: no site {name!r} in sites; check the name (an override for a missing site is never applied)"
            for name in self.sites
            if name not in site_names
        ]
        hub = self.server
        problems += [f"governance.hub.{field}: {text}" for field, text in hub.problems()]
        for name in site_names:
            stance = self.site(name)
            # An override names its own site; the default says which site it contradicts at.
            where, at = (f"governance.sites.{name}", "") if name in self.sites else ("governance.default", f"at site {name}: ")
            problems += [f"{where}.{field}: {at}{text}" for field, text in stance.problems()]
            refused = [role for role in stance.run_jobs.roles if role not in hub.run_jobs.roles]
            if refused:
                problems.append(
                    f"{where}.run_jobs.roles: {at}{', '.join(refused)} may run jobs here, but governance.hub.run_jobs does not "
                    "accept their jobs; admit them at the hub too, or drop them here"
                )
            if hub.run_jobs.orgs != "any" and stance.run_jobs.orgs != "any":
                unknown = [org for org in stance.run_jobs.orgs if org != OWN and org not in hub.run_jobs.orgs]
                if unknown:
                    problems.append(
                        f"{where}.run_jobs.orgs: {at}{', '.join(unknown)} may run jobs here, but governance.hub.run_jobs.orgs "
                        "does not accept their jobs; admit them at the hub too, or drop them here"
                    )
        return problems
