"""The governance section as NVFlare reads it: the filter catalog against the installed NVFlare,
the rendered authorization.json decided by NVFlare's own authorizer, privacy.json built by
NVFlare's own PrivacyConfiger, and every rule of `validate` with its message."""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from flarectl.config.errors import ConfigError
from flarectl.config.governance import Governance, SitePolicy, Stance
from flarectl.config.privacy_filters import DATA_KINDS, FILTERS, REQUIRED
from flarectl.federation import load_federation
from flarectl.governance import NVFLARE_DEFAULT, OTHER_COMMANDS, authorization, one_line, privacy
from tests.harness.governance import decides, nvflare_default_authz


def every_right() -> list[str]:
    """Every right NVFlare checks: each admin command by name, its categories, and the two app rights."""
    from nvflare.apis.fl_constant import AdminCommandNames
    from nvflare.security.security import COMMAND_CATEGORIES

    commands = [value for name, value in vars(AdminCommandNames).items() if name.isupper()]
    return sorted({*commands, *COMMAND_CATEGORIES.values(), "byoc", "server-predeployed-flwr"})


RIGHTS = every_right()
ROLES = ["project_admin", "org_admin", "lead", "member"]


def test_the_filter_catalog_is_what_the_installed_nvflare_resolves_by_name() -> None:
    from nvflare.apis.dxo import DataKind
    from nvflare.apis.filter import Filter
    from nvflare.fuel.utils.class_utils import ModuleScanner
    from nvflare.private.fed.app.fl_conf import FL_MODULES, FL_PACKAGES

    scanner = ModuleScanner(FL_PACKAGES, FL_MODULES, True)  # as PrivacyConfiger builds a scope's filters
    found = {}
    for name, modules in scanner._class_table.items():
        if len(modules) != 1:
            continue  # NVFlare refuses an ambiguous name
        try:
            cls = getattr(importlib.import_module(modules[0]), name)
        except ImportError:  # an optional dependency (flwr, ...) NVFlare could not load either
            continue
        if inspect.isclass(cls) and issubclass(cls, Filter) and not inspect.isabstract(cls):
            parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
            found[name] = (modules[0], {p.name: REQUIRED if p.default is p.empty else p.default for p in parameters})
    assert found == FILTERS
    assert set(DATA_KINDS) == {kind.value for kind in DataKind}


def test_the_commands_outside_nvflares_categories_are_listed() -> None:
    from nvflare.security.security import COMMAND_CATEGORIES

    assert set(OTHER_COMMANDS) == set(RIGHTS) - set(COMMAND_CATEGORIES) - set(COMMAND_CATEGORIES.values()) - {
        "byoc",
        "server-predeployed-flwr",
    }


def test_nvflare_default_written_out_decides_every_right_as_nvflare_default_authz() -> None:
    from nvflare.security.security import COMMAND_CATEGORIES

    ours = {"format_version": "1.0", "permissions": {**NVFLARE_DEFAULT, "project_admin": "any", "member": {"view": "any"}}}
    theirs = nvflare_default_authz()
    assert ours == theirs
    # project_admin without shell commands: written right by right, every other right kept.
    restricted = authorization(Stance.of(SitePolicy(shell_commands=["org_admin", "lead"])))
    assert isinstance(restricted["permissions"]["project_admin"], dict)
    for right, role, same_org, own_job in itertools.product(RIGHTS, ROLES, (True, False), (True, False)):
        case = {"right": right, "role": role, "user_org": "org_a", "site_org": "org_a" if same_org else "org_b",
                "submitter": ("u@x.org" if own_job else "v@x.org", "org_a", "lead")}  # fmt: skip
        shell = right == "shell_commands" or COMMAND_CATEGORIES.get(right) == "shell_commands"
        if role == "project_admin" and shell:
            assert not decides(restricted, **case), case
        else:
            assert decides(restricted, **case) == decides(theirs, **case), case


def test_no_governance_section_renders_nvflares_defaults() -> None:
    theirs = nvflare_default_authz()
    ours = authorization(Governance().site("site-1"))
    for right, role, same_org in itertools.product(RIGHTS, ROLES, (True, False)):
        case = {"right": right, "role": role, "user_org": "org_a", "site_org": "org_a" if same_org else "org_b"}
        assert decides(ours, **case) == decides(theirs, **case), case
    assert privacy(Governance().site("site-1")) is None
    assert authorization(Governance().server) == ours


def governance(**section: Any) -> Governance:
    return Governance.model_validate(section)


CONSORTIUM = governance(
    default={
        "run_jobs": {"roles": ["lead"], "orgs": ["own", "hospital_b"]},
        "custom_code": False,
        "shell_commands": ["org_admin"],
        "privacy": {
            "default_scope": "standard",
            "scopes": [
                {"name": "standard", "result_filters": [{"filter": "PercentilePrivacy", "args": {"percentile": 10, "gamma": 0.01}}]},
                {"name": "open"},
            ],
        },
    },
    sites={"hospital-a": {"custom_code": True}},
)


def test_a_restrictive_default_renders_exactly() -> None:
    assert authorization(CONSORTIUM.site("hospital-c")) == {
        "format_version": "1.0",
        "permissions": {
            "project_admin": {**dict.fromkeys(OTHER_COMMANDS, "any"), "submit_job": "none", "clone_job": "none", "manage_job": "any", "download_job": "any", "view": "any",
                              "operate": "any", "shell_commands": "none", "byoc": "none", "server-predeployed-flwr": "any"},
            "org_admin": {"submit_job": "none", "clone_job": "none", "manage_job": "o:submitter", "download_job": "o:submitter",
                          "view": "any", "operate": "o:site", "shell_commands": "o:site", "byoc": "none", "server-predeployed-flwr": "none"},
            "lead": {"submit_job": ["o:site", "o:hospital_b"], "clone_job": "n:submitter", "manage_job": "n:submitter",
                     "download_job": "n:submitter", "view": "any", "operate": "o:site", "shell_commands": "none", "byoc": "none",
                     "server-predeployed-flwr": "none"},
            "member": {"view": "any"},
        },
    }  # fmt: skip
    assert privacy(CONSORTIUM.site("hospital-c")) == {
        "scopes": [
            {"name": "standard", "task_result_filters": [{"name": "PercentilePrivacy", "args": {"percentile": 10, "gamma": 0.01}}],
             "task_data_filters": []},
            {"name": "open", "task_result_filters": [], "task_data_filters": []},
        ],
        "default_scope": "standard",
    }  # fmt: skip


def test_an_override_replaces_only_the_fields_it_names() -> None:
    a, c = CONSORTIUM.site("hospital-a"), CONSORTIUM.site("hospital-c")
    assert (a.custom_code, c.custom_code) == (True, False)
    assert (a.run_jobs, a.shell_commands, a.privacy) == (c.run_jobs, c.shell_commands, c.privacy)
    assert authorization(a)["permissions"]["lead"]["byoc"] == ["o:site", "o:hospital_b"]
    assert authorization(a)["permissions"]["project_admin"]["byoc"] == "none"  # not among run_jobs.roles


@pytest.mark.parametrize(
    ("stance", "who", "right", "allowed"),
    [
        ("hospital-c", ("lead", "hospital_c"), "submit_job", True),  # the site's own organization
        ("hospital-c", ("lead", "hospital_b"), "submit_job", True),
        ("hospital-c", ("lead", "hospital_x"), "submit_job", False),
        ("hospital-c", ("org_admin", "hospital_c"), "submit_job", False),
        ("hospital-c", ("project_admin", "hospital_c"), "submit_job", False),
        ("hospital-c", ("lead", "hospital_c"), "byoc", False),
        ("hospital-a", ("lead", "hospital_b"), "byoc", True),
        ("hospital-a", ("lead", "hospital_x"), "byoc", False),
        ("hospital-c", ("org_admin", "hospital_c"), "cat", True),
        ("hospital-c", ("org_admin", "hospital_b"), "cat", False),
        ("hospital-c", ("lead", "hospital_c"), "ls", False),
        ("hospital-c", ("project_admin", "hub_org"), "ls", False),
    ],
)
def test_nvflare_enforces_the_rendered_policy(stance: str, who: tuple[str, str], right: str, allowed: bool) -> None:
    # NVFlare's site_org is the site's own organization; the sites here are named for theirs.
    site_org = {"hospital-a": "hospital_a", "hospital-c": "hospital_c"}[stance]
    policy = authorization(CONSORTIUM.site(stance))
    assert decides(policy, right=right, role=who[0], user_org=who[1], site_org=site_org) is allowed


def test_nvflares_own_privacy_configer_builds_the_rendered_scopes(tmp_path: Path) -> None:
    from nvflare.apis.workspace import Workspace
    from nvflare.app_common.filters.percentile_privacy import PercentilePrivacy
    from nvflare.private.fed.app.fl_conf import create_privacy_manager

    (tmp_path / "local").mkdir()
    (tmp_path / "startup").mkdir()
    (tmp_path / "local" / "privacy.json").write_text(json.dumps(privacy(CONSORTIUM.site("hospital-c"))))
    manager = create_privacy_manager(Workspace(str(tmp_path), "hospital-c"), names_only=False)
    assert set(manager.name_to_scopes) == {"standard", "open"}
    assert manager.get_scope("") is manager.name_to_scopes["standard"]  # the default scope
    (result_filter,) = manager.name_to_scopes["standard"].task_result_filters["out"]
    assert isinstance(result_filter, PercentilePrivacy) and (result_filter.percentile, result_filter.gamma) == (10, 0.01)
    assert manager.name_to_scopes["open"].task_result_filters == {"in": [], "out": []}


def test_review_words() -> None:
    assert one_line(CONSORTIUM.site("hospital-c")) == (
        "jobs from: lead of own, hospital_b; custom code: no; shell commands: org_admin (own organization); "
        "privacy: default standard; standard: PercentilePrivacy; open: no filter"
    )
    assert one_line(Stance.of()) == (
        "jobs from: project_admin, lead of any organization; custom code: yes; shell commands: project_admin (any organization), "
        "org_admin (own organization), lead (own organization); privacy: no scopes: results leave unfiltered; note: (NVFlare's defaults)"
    )


def federation_file(tmp_path: Path, governance_section: dict[str, Any]) -> Path:
    path = tmp_path / "federation.yaml"
    path.write_text(yaml.safe_dump({
        "project": "demo", "project_admin_email": "admin@example.org", "governance": governance_section,
        "sites": [{"name": "site-1", "kind": "linux", "kit": "/srv/kit", "workdir": "/srv/flare"}],
    }))  # fmt: skip
    return path


def percentile(**args: Any) -> dict[str, Any]:
    return {"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "PercentilePrivacy", "args": args}]}]}}}


INVALID = [
    ({"default": {"run_jobs": {"roles": ["researcher"]}}}, "governance.default.run_jobs.roles[0]: 'researcher' is not allowed; use 'project_admin', 'org_admin' or 'lead'"),
    ({"default": {"run_jobs": {"roles": ["lead", "lead"]}}}, "governance.default.run_jobs.roles: lead listed twice; list each once"),
    ({"default": {"run_jobs": {"roles": ["lead"], "orgs": []}}}, "governance.default.run_jobs.orgs: the list is empty; to admit nobody write roles: []"),
    ({"default": {"run_jobs": {"roles": ["lead"], "orgs": ["site"]}}}, "governance.default.run_jobs.orgs: 'site' is a word of NVFlare's policy language, not an organization; write 'own' for the site's organization"),
    ({"default": {"run_jobs": {"roles": ["lead"], "orgs": ["o:x"]}}}, "governance.default.run_jobs.orgs: 'o:x' is not an organization name; NVFlare's are 1-40 letters, digits or '_' (or 'own')"),
    ({"default": {"run_jobs": {"roles": ["lead"], "orgs": "everyone"}}}, "governance.default.run_jobs.orgs: 'everyone': write any, or a list of organizations ([own, hospital_b])"),
    ({"default": {"custom_code": "yes"}}, "governance.default.custom_code: 'yes': input should be a valid boolean"),
    ({"default": {"shell_commands": ["member"]}}, "governance.default.shell_commands[0]: 'member' is not allowed; use 'project_admin', 'org_admin' or 'lead'"),
    ({"default": {"run_jobs": {"roles": []}}}, "governance.default.custom_code: at site site-1: true, but run_jobs.roles is empty: nobody's jobs run here; set custom_code: false"),
    ({"sites": {"site-2": {"custom_code": False}}}, "governance.sites.site-2: no site 'site-2' in sites; check the name (an override for a missing site is never applied)"),
    ({"hub": {"run_jobs": {"roles": ["project_admin"]}}}, "governance.default.run_jobs.roles: at site site-1: lead may run jobs here, but governance.hub.run_jobs does not accept their jobs; admit them at the hub too, or drop them here"),
    ({"hub": {"run_jobs": {"roles": ["lead"], "orgs": ["a"]}}, "sites": {"site-1": {"run_jobs": {"roles": ["lead"], "orgs": ["own", "b"]}}}},
     "governance.sites.site-1.run_jobs.orgs: b may run jobs here, but governance.hub.run_jobs.orgs does not accept their jobs; admit them at the hub too, or drop them here"),
    ({"hub": {"privacy": {"scopes": [{"name": "s"}]}}}, "governance.hub.privacy: unknown key; allowed keys: run_jobs, custom_code, shell_commands"),
    ({"default": {"privacy": {"scopes": []}}}, "governance.default.privacy: scopes is empty; define at least one scope, or leave privacy out (no scopes: NVFlare applies no filter)"),
    ({"default": {"privacy": {"scopes": [{"name": "a"}], "default_scope": "b"}}}, "governance.default.privacy: default_scope 'b' is not one of this site's scopes (a)"),
    ({"default": {"privacy": {"scopes": [{"name": "a"}, {"name": "a"}]}}}, "governance.default.privacy: a listed twice; list each once"),
    ({"default": {"privacy": {"scopes": [{"name": "a b"}]}}}, "governance.default.privacy.scopes[0].name: 'a b' is not a scope name; use 1-40 letters, digits, '-' or '_', starting with a letter"),
    (percentile(percentile=101), "percentile 101: use a number from 0 to 100 (outside it NVFlare silently skips the filter)"),
    (percentile(percentile=-1), "percentile -1: use a number from 0 to 100 (outside it NVFlare silently skips the filter)"),
    (percentile(gamma=0), "gamma 0: use a number above 0 (otherwise NVFlare silently skips the filter)"),
    (percentile(gamma="0.1"), "gamma '0.1': PercentilePrivacy expects a number here"),
    (percentile(percentil=5), "'percentil' is not an argument of PercentilePrivacy (it takes percentile, gamma, data_kinds)"),
    (percentile(data_kinds=["WEIGHTS", "MODEL"]), "data_kinds ['WEIGHTS', 'MODEL']: list NVFlare data kinds (FL_MODEL, WEIGHTS, WEIGHT_DIFF, METRICS, ANALYTIC, COLLECTION, STATISTICS, PSI, APP_DEFINED)"),
    (percentile(gamma="0.1\n"), "governance.default.privacy.scopes[0].result_filters[0].args.gamma: has the character U+000A, a line break or control character no field takes"),
    (percentile(data_kinds=[{"a": 1}]), "governance.default.privacy.scopes[0].result_filters[0].args.data_kinds: {'a': 1}: use a number, true/false, a text, or a list of those"),
    (percentile(gamma="1é"), "governance.default.privacy.scopes[0].result_filters[0].args.gamma: '1é': use up to 200 printable ASCII characters"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "AddNoiseToMinMax"}]}]}}},
     "'AddNoiseToMinMax' is a statistics cleanser, not a filter (NVFlare's own privacy.json.sample lists it, and NVFlare then refuses to start the client: 'task result filter must be Filter'); it runs inside StatisticsPrivacyFilter; a scope's filters are one of: ConvertWeights, DXOBlocker, ExcludeVars, PercentilePrivacy, SVTPrivacy"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "nvflare.app_common.filters.percentile_privacy.PercentilePrivacy"}]}]}}},
     "'nvflare.app_common.filters.percentile_privacy.PercentilePrivacy' is not a filter class in NVFlare's app_common, client, server or private packages"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "data_filters": [{"filter": "StatisticsPrivacyFilter", "args": {"result_cleanser_ids": ["x"]}}]}]}}},
     "'StatisticsPrivacyFilter' is it needs cleanser components (result_cleanser_ids) in privacy.json"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "ExcludeVars"}]}]}}},
     "exclude_vars None: list the layer names to keep at the site, or give one regular expression"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "SVTPrivacy", "args": {"fraction": 0, "epsilon": -1}}]}]}}},
     "fraction 0: use a share of the model above 0 and at most 1; epsilon -1: use a privacy budget above 0"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "DXOBlocker"}]}]}}}, "DXOBlocker needs the argument 'data_kinds'"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "SVTPrivacy", "args": {"replace": 1}}]}]}}}, "replace 1: SVTPrivacy expects a true/false here"),
]  # fmt: skip


@pytest.mark.parametrize(("section", "message"), INVALID, ids=[message[:60] for _, message in INVALID])
def test_validate_refuses_with_the_field_and_the_fix(tmp_path: Path, section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_federation(federation_file(tmp_path, section))
    assert any(message in problem for problem in raised.value.problems), raised.value.problems


VALID = [
    {"default": {"run_jobs": {"roles": [], "orgs": "any"}, "custom_code": False, "shell_commands": []}},
    {"hub": {"run_jobs": {"roles": ["lead"], "orgs": ["a"]}}, "default": {"run_jobs": {"roles": ["lead"], "orgs": ["own", "a"]}}},
    percentile(percentile=0, gamma=1e-9),
    percentile(percentile=100),
    {"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "ExcludeVars", "args": {"exclude_vars": "fc.*"}}]}]}}},
    {
        "default": {
            "privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "SVTPrivacy", "args": {"fraction": 1, "replace": False}}]}]}
        }
    },
]


@pytest.mark.parametrize("section", VALID)
def test_validate_accepts_the_boundaries(tmp_path: Path, section: dict[str, Any]) -> None:
    load_federation(federation_file(tmp_path, section))


def test_the_worked_example_in_the_docs_validates_and_reads_as_shown() -> None:
    import re

    from flarectl.federation import Federation
    from flarectl.governance import review

    text = (Path(__file__).parents[2] / "docs" / "governance.md").read_text()
    section = yaml.safe_load(re.search(r"```yaml\n(governance:.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    sites = ["hospital-a", "hospital-b", "hospital-c", "centre-gpu"]
    federation = Federation.model_validate({
        "project": "histo", "project_admin_email": "it@a.test", **section,
        "sites": [{"name": name, "kind": "linux", "kit": f"/kits/{name}", "workdir": f"/srv/{name}"} for name in sites],
    })  # fmt: skip
    shown = text.split("`centre-gpu`):\n\n```\n")[1].split("```")[0].splitlines()
    assert shown == [f"{name}: {stance}" for name, stance in review(federation).items()]


HOSTILE = ["x\ny", "$(touch {mark})", "`touch {mark}`", "a'; touch {mark}; echo '", '"; touch {mark}; "', "ｏｗｎ", "a" * 5000, "o:site"]
# Every place the section takes text, as a function of the text.
PLACES = {
    "run_jobs.orgs": lambda text: {"default": {"run_jobs": {"roles": ["lead"], "orgs": [text]}}},
    "scope name": lambda text: {"default": {"privacy": {"scopes": [{"name": text}]}}},
    "default_scope": lambda text: {"default": {"privacy": {"scopes": [{"name": "s"}], "default_scope": text}}},
    "filter": lambda text: {"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": text}]}]}}},
    "filter argument": lambda text: {"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [
        {"filter": "ExcludeVars", "args": {"exclude_vars": text}}]}]}}},
    "argument name": lambda text: {"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [
        {"filter": "ExcludeVars", "args": {text: "x", "exclude_vars": "x"}}]}]}}},
    "site override": lambda text: {"sites": {text: {"custom_code": False}}},
}  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("place", sorted(PLACES))
def test_hostile_text_is_refused_cleanly_or_arrives_inert(tmp_path: Path, place: str, value: str) -> None:
    import subprocess

    from flarectl.client_runtime import client_env, folder_layout
    from flarectl.governance import compact

    mark = tmp_path / "pwned"
    text = value.format(mark=mark)
    try:
        federation = load_federation(federation_file(tmp_path, PLACES[place](text)))
    except ConfigError as error:
        assert all(problem.startswith("federation.yaml: ") for problem in error.problems), error.problems
        assert any(".governance." in f".{problem}" or "governance." in problem for problem in error.problems), error.problems
        return
    assert place == "filter argument" and "\n" not in text and len(text) <= 200, f"{place}: {text!r} was accepted"
    site = federation.sites[0]
    stance = federation.governance.site(site.name)
    env = tmp_path / "client.env"
    env.write_text(client_env(site, "2.9.0", folder_layout(site), stance))  # type: ignore[arg-type]
    script = f'. "{env}"\nprintf "%s\\0%s" "$AUTHORIZATION_JSON" "$PRIVACY_JSON"'
    authz, priv = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split("\0")
    assert not mark.exists()
    assert (authz, priv) == (compact(authorization(stance)), compact(privacy(stance)))
    assert json.loads(priv)["scopes"][0]["task_result_filters"][0]["args"]["exclude_vars"] == text


def test_nvflares_defaults_render_as_nvflare_writes_them() -> None:
    """Literally, not only decided alike: project_admin keeps NVFlare's one word "any"."""
    assert authorization(Stance.of()) == nvflare_default_authz()
    restricted = authorization(Stance.of(SitePolicy(shell_commands=["project_admin"], custom_code=False)))["permissions"]
    assert restricted["project_admin"]["shell_commands"] == "any" and restricted["project_admin"]["byoc"] == "none"
    assert restricted["lead"]["shell_commands"] == "none" and restricted["org_admin"]["shell_commands"] == "none"


def test_compact_is_one_sorted_line() -> None:
    from flarectl.governance import compact

    assert compact({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == '{"a":[1,{"c":3,"d":2}],"b":1}'
    assert compact(None) == ""


def test_review_words_for_nobody_and_a_scope_without_default() -> None:
    stance = Stance.of(SitePolicy(run_jobs={"roles": []}, custom_code=False, shell_commands=[], privacy={"scopes": [{"name": "s"}]}))
    assert one_line(stance) == (
        "jobs from: nobody; custom code: no; shell commands: nobody; privacy: no default (a job must name a scope); s: no filter"
    )


MORE_INVALID = [
    ({"default": {"run_jobs": {"roles": ["lead", "lead", "org_admin", "org_admin"]}}},
     "governance.default.run_jobs.roles: lead, org_admin listed twice; list each once"),
    ({"hub": {"run_jobs": {"roles": ["project_admin"]}}, "default": {"run_jobs": {"roles": ["lead", "org_admin"]}}},
     "governance.default.run_jobs.roles: at site site-1: lead, org_admin may run jobs here, but governance.hub.run_jobs does not"),
    ({"hub": {"run_jobs": {"roles": ["lead"], "orgs": ["a"]}}, "default": {"run_jobs": {"roles": ["lead"], "orgs": ["b", "c"]}}},
     "governance.default.run_jobs.orgs: at site site-1: b, c may run jobs here, but governance.hub.run_jobs.orgs does not"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "ExcludeVars", "args": {"exclude_vars": [1]}}]}]}}},
     "exclude_vars [1]: list the layer names to keep at the site"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "ExcludeVars", "args": {"exclude_vars": []}}]}]}}},
     "exclude_vars []: list the layer names to keep at the site"),
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "ExcludeVars", "args": {"exclude_vars": ""}}]}]}}},
     "args.exclude_vars: '': use up to 200 printable ASCII characters"),
    *[({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "SVTPrivacy", "args": {name: value}}]}]}}},
       f"{name} {value}: use a privacy budget above 0")
      for name in ("epsilon", "noise_var", "epsilon_threshold", "epsilon_query", "epsilon_release") for value in (0, -0.5)],
    ({"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "SVTPrivacy", "args": {"fraction": 1.5}}]}]}}},
     "fraction 1.5: use a share of the model above 0 and at most 1"),
]  # fmt: skip
MORE_VALID = [
    {"default": {"run_jobs": {"roles": ["lead"], "orgs": ["own", "Hospital_B"]}}},  # the hub admits any organization
    {"hub": {"run_jobs": {"roles": ["lead"], "orgs": ["a"]}}, "default": {"run_jobs": {"roles": ["lead"], "orgs": "any"}}},
    percentile(gamma=0.5),  # NVFlare's default percentile, 10
    percentile(percentile=10, data_kinds=["WEIGHTS", "WEIGHT_DIFF"]),
    {"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "ExcludeVars", "args": {"exclude_vars": ["fc1.weight"]}}]}]}}},
    {"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "SVTPrivacy", "args": {
        "epsilon": 0.5, "noise_var": 0.5, "epsilon_threshold": 0.5, "epsilon_query": 0.5, "epsilon_release": 0.5}}]}]}}},
    {"default": {"privacy": {"scopes": [{"name": "s", "result_filters": [{"filter": "SVTPrivacy", "args": {"epsilon": 0.2}}]}]}}},
]  # fmt: skip


@pytest.mark.parametrize(("section", "message"), MORE_INVALID, ids=[message[:60] for _, message in MORE_INVALID])
def test_more_refusals(tmp_path: Path, section: dict[str, Any], message: str) -> None:
    test_validate_refuses_with_the_field_and_the_fix(tmp_path, section, message)


@pytest.mark.parametrize("section", MORE_VALID)
def test_more_boundaries(tmp_path: Path, section: dict[str, Any]) -> None:
    federation = load_federation(federation_file(tmp_path, section))
    assert federation.governance.site("site-1") is not None
