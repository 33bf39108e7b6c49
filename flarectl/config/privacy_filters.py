"""The filters a site's privacy scope may name, as the pinned NVFlare resolves them, and the
checks on their arguments.

A scope in local/privacy.json names a filter by its class name; NVFlare finds it with
ModuleScanner(["nvflare"], ["server", "client", "app_common", "private"]) (fl_conf.py,
PrivacyConfiger) and refuses anything that is not a `Filter` (privacy_manager.py, Scope). FILTERS
is that set for NVFlare 2.9.0 with each constructor's parameters and defaults;
tests/unit/test_governance.py rebuilds it from the installed NVFlare and asserts it is equal, so
a new NVFlare cannot drift from what `validate` accepts. No NVFlare import is needed to validate.
"""

from __future__ import annotations

from typing import Any

REQUIRED = "<required>"  # a parameter without a default

# name -> (module, {parameter: default or REQUIRED}); from the installed NVFlare (see above).
FILTERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ConvertWeights": ("nvflare.app_common.filters.convert_weights", {"direction": REQUIRED}),
    "DXOBlocker": ("nvflare.app_common.filters.dxo_blocker", {"data_kinds": REQUIRED, "allow_data_kinds": False}),
    "ExcludeVars": ("nvflare.app_common.filters.exclude_vars", {"exclude_vars": None, "data_kinds": None}),
    "PercentilePrivacy": ("nvflare.app_common.filters.percentile_privacy", {"percentile": 10, "gamma": 0.01, "data_kinds": None}),
    "SVTPrivacy": (
        "nvflare.app_common.filters.svt_privacy",
        {
            "fraction": 0.1,
            "epsilon": 0.1,
            "noise_var": 0.1,
            "gamma": 1e-05,
            "tau": 1e-06,
            "data_kinds": None,
            "replace": True,
            "epsilon_threshold": None,
            "epsilon_query": None,
            "epsilon_release": None,
        },
    ),
    "StatisticsPrivacyFilter": ("nvflare.app_common.filters.statistics_privacy_filter", {"result_cleanser_ids": REQUIRED}),
}

# Names people reach for that NVFlare cannot use as a scope's filter, and why.
NOT_FILTERS = {
    "AddNoiseToMinMax": "a statistics cleanser, not a filter (NVFlare's own privacy.json.sample lists it, and NVFlare then refuses "
    "to start the client: 'task result filter must be Filter'); it runs inside StatisticsPrivacyFilter",
    "HistogramBinsCleanser": "a statistics cleanser, not a filter; it runs inside StatisticsPrivacyFilter",
    "MinCountCleanser": "a statistics cleanser, not a filter; it runs inside StatisticsPrivacyFilter",
    "StatisticsPrivacyFilter": "it needs cleanser components (result_cleanser_ids) in privacy.json, which the federation file "
    "does not configure; use it in a job's own config",
}

# NVFlare's DXO data kinds (apis/dxo.py, DataKind) that a filter's data_kinds may name.
DATA_KINDS = ("FL_MODEL", "WEIGHTS", "WEIGHT_DIFF", "METRICS", "ANALYTIC", "COLLECTION", "STATISTICS", "PSI", "APP_DEFINED")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _percentile_privacy(args: dict[str, Any]) -> list[str]:
    # percentile_privacy.py, process_dxo: a percentile outside 0..100 or a gamma <= 0 returns
    # None, which NVFlare reads as "leave the result as it is": the update leaves unfiltered.
    problems = []
    percentile, gamma = args.get("percentile", 10), args.get("gamma", 0.01)
    if not (_number(percentile) and 0 <= percentile <= 100):
        problems.append(f"percentile {percentile!r}: use a number from 0 to 100 (outside it NVFlare silently skips the filter)")
    if not (_number(gamma) and gamma > 0):
        problems.append(f"gamma {gamma!r}: use a number above 0 (otherwise NVFlare silently skips the filter)")
    return problems


def _svt_privacy(args: dict[str, Any]) -> list[str]:
    problems = []
    fraction = args.get("fraction", 0.1)
    if not (_number(fraction) and 0 < fraction <= 1):
        problems.append(f"fraction {fraction!r}: use a share of the model above 0 and at most 1")
    for name in ("epsilon", "noise_var", "epsilon_threshold", "epsilon_query", "epsilon_release"):
        value = args.get(name)
        if value is not None and not (_number(value) and value > 0):
            problems.append(f"{name} {value!r}: use a privacy budget above 0")
    return problems


def _exclude_vars(args: dict[str, Any]) -> list[str]:
    # exclude_vars.py: anything but a list of names or a regex string excludes nothing, silently.
    value = args.get("exclude_vars")
    if isinstance(value, str) and value or isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return []
    return [f"exclude_vars {value!r}: list the layer names to keep at the site, or give one regular expression"]


ARGUMENT_RULES = {"PercentilePrivacy": _percentile_privacy, "SVTPrivacy": _svt_privacy, "ExcludeVars": _exclude_vars}


def filter_problems(name: str, args: dict[str, Any]) -> list[str]:
    """What NVFlare would refuse, or silently ignore, in this filter of a scope."""
    if name in NOT_FILTERS or name not in FILTERS:
        reason = NOT_FILTERS.get(name, "not a filter class in NVFlare's app_common, client, server or private packages")
        usable = ", ".join(sorted(n for n in FILTERS if n not in NOT_FILTERS))
        return [f"{name!r} is {reason}; a scope's filters are one of: {usable}"]
    parameters = FILTERS[name][1]
    problems = [f"{arg!r} is not an argument of {name} (it takes {', '.join(parameters)})" for arg in args if arg not in parameters]
    problems += [f"{name} needs the argument {arg!r}" for arg, default in parameters.items() if default is REQUIRED and arg not in args]
    for arg, value in args.items():
        default = parameters.get(arg)
        if _number(default) and not _number(value) or isinstance(default, bool) and not isinstance(value, bool):
            problems.append(f"{arg} {value!r}: {name} expects a {'true/false' if isinstance(default, bool) else 'number'} here")
    kinds = args.get("data_kinds")
    if kinds is not None and not (isinstance(kinds, list) and kinds and all(kind in DATA_KINDS for kind in kinds)):
        problems.append(f"data_kinds {kinds!r}: list NVFlare data kinds ({', '.join(DATA_KINDS)})")
    return problems + ARGUMENT_RULES.get(name, lambda _: [])(args)
