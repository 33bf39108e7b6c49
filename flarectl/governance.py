"""A site's (or the hub's) governance stance as NVFlare's own files: local/authorization.json
(policy format 1.0, fuel/sec/authz.py) and local/privacy.json (fl_conf.py, PrivacyConfiger),
and as words for review (the synth summary, the federation picture, `federation status`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flarectl.config.governance import NVFLARE_RUN_JOBS, NVFLARE_SHELL_COMMANDS, OWN, ROLES, PrivacyFilter, RunJobs, Stance

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

# NVFlare 2.9's default_authz (lighter/templates/master_template.yml), with project_admin's
# "any" written out right by right; tests/unit/test_governance.py checks that NVFlare decides
# every right the same way under both.
RIGHTS = ("submit_job", "clone_job", "manage_job", "download_job", "view", "operate", "shell_commands", "byoc", "server-predeployed-flwr")
NVFLARE_DEFAULT = {
    "project_admin": dict.fromkeys(RIGHTS, "any"),
    "org_admin": {
        "submit_job": "none",
        "clone_job": "none",
        "manage_job": "o:submitter",
        "download_job": "o:submitter",
        "view": "any",
        "operate": "o:site",
        "shell_commands": "o:site",
        "byoc": "none",
        "server-predeployed-flwr": "none",
    },
    "lead": {
        "submit_job": "any",
        "clone_job": "n:submitter",
        "manage_job": "n:submitter",
        "download_job": "n:submitter",
        "view": "any",
        "operate": "o:site",
        "shell_commands": "o:site",
        "byoc": "any",
        "server-predeployed-flwr": "none",
    },
}


# NVFlare 2.9's admin commands outside security.py's COMMAND_CATEGORIES: a policy written as a
# dict grants only what it names, so a project_admin who keeps every other right (NVFlare's
# "any") gets these named; tests/unit/test_governance.py checks the list against NVFlare.
OTHER_COMMANDS = ("abort_task", "add_study_site", "add_study_user", "admin_check_status", "app_command", "aux_command",
                  "check_resources", "clone_job", "deploy_app", "download_job_components", "get_job_log", "list_job", "list_studies",
                  "register_study", "remove_study", "remove_study_site", "remove_study_user", "report_version", "show_study",
                  "submit_job")  # fmt: skip


def who(run_jobs: RunJobs) -> str | list[str]:
    """The organizations admitted, as an NVFlare condition (any one of a list matches)."""
    if run_jobs.orgs == "any":
        return "any"
    return ["o:site" if org == OWN else f"o:{org}" for org in run_jobs.orgs]


def authorization(stance: Stance) -> dict[str, Any]:
    permissions: dict[str, Any] = {}
    for role in ROLES:
        rights: dict[str, Any] = dict(NVFLARE_DEFAULT[role])
        runs_jobs = role in stance.run_jobs.roles
        rights["submit_job"] = who(stance.run_jobs) if runs_jobs else "none"
        if not runs_jobs:
            rights["clone_job"] = "none"  # a clone is a new submission of an old job
        rights["byoc"] = who(stance.run_jobs) if runs_jobs and stance.custom_code else "none"
        rights["shell_commands"] = ("any" if role == "project_admin" else "o:site") if role in stance.shell_commands else "none"
        permissions[role] = rights
    admin = permissions["project_admin"]
    if all(value == "any" for value in admin.values()):
        permissions["project_admin"] = "any"  # NVFlare's own way: every right, present and future
    else:
        permissions["project_admin"] = {**dict.fromkeys(OTHER_COMMANDS, "any"), **admin}
    permissions["member"] = {"view": "any"}
    return {"format_version": "1.0", "permissions": permissions}


def _filters(filters: list[PrivacyFilter]) -> list[dict[str, Any]]:
    return [{"name": item.filter, "args": dict(item.args)} for item in filters]


def privacy(stance: Stance) -> dict[str, Any] | None:
    """None: the site defines no scopes (NVFlare then applies no filter and admits any scope)."""
    if stance.privacy is None:
        return None
    document: dict[str, Any] = {
        "scopes": [
            {"name": scope.name, "task_result_filters": _filters(scope.result_filters), "task_data_filters": _filters(scope.data_filters)}
            for scope in stance.privacy.scopes
        ]
    }
    if stance.privacy.default_scope is not None:
        document["default_scope"] = stance.privacy.default_scope
    return document


def compact(document: dict[str, Any] | None) -> str:
    """One line of JSON for a settings file; empty for no document."""
    return "" if document is None else json.dumps(document, separators=(",", ":"), sort_keys=True)


def describe(stance: Stance, *, hub: bool) -> dict[str, str]:
    """The stance in a reviewer's words, one line per question (`hub`: no privacy, the sites apply it)."""
    roles = stance.run_jobs.roles
    orgs = "any organization" if stance.run_jobs.orgs == "any" else ", ".join(stance.run_jobs.orgs)
    shell = [f"{role} ({'any organization' if role == 'project_admin' else 'own organization'})" for role in stance.shell_commands]
    if stance.privacy is None:
        scopes = "no scopes: results leave unfiltered"
    else:
        listed = "; ".join(
            f"{scope.name}: {', '.join(f.filter for f in scope.result_filters + scope.data_filters) or 'no filter'}"
            for scope in stance.privacy.scopes
        )
        default = stance.privacy.default_scope
        scopes = f"default {default}" if default else "no default (a job must name a scope)"
        scopes += f"; {listed}"
    defaults = []
    if stance.run_jobs == NVFLARE_RUN_JOBS and stance.custom_code and stance.shell_commands == NVFLARE_SHELL_COMMANDS:
        defaults = ["(NVFlare's defaults)"]
    return {
        "jobs from": f"{', '.join(roles)} of {orgs}" if roles else "nobody",
        "custom code": "yes" if stance.custom_code and roles else "no",
        "shell commands": ", ".join(shell) or "nobody",
        **({} if hub else {"privacy": scopes}),
        **({"note": defaults[0]} if defaults else {}),
    }


def one_line(stance: Stance, *, hub: bool = False) -> str:
    return "; ".join(f"{key}: {value}" for key, value in describe(stance, hub=hub).items())


def review(federation: FederationSettings) -> dict[str, str]:
    """Each site's stance and the hub's, in one line each: what the synth summary and
    `flarectl federation status -c` show."""
    stances = {"hub (FL server)": one_line(federation.governance.server, hub=True)}
    stances.update({site.name: one_line(federation.governance.site(site.name)) for site in federation.sites})
    return stances
