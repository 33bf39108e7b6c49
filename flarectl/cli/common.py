"""What every role's verbs share: which federation file a command reads, loading it with one
line per problem, and finding one site in it. The model is imported when a verb runs, so a
Lead's `flarectl submit` never loads pydantic or the site kinds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flarectl.config.choice import chosen

if TYPE_CHECKING:
    from flarectl.federation import Federation

CONFIG_HELP = "federation file (default: the one this checkout remembers from cdk -c config=, else the embedded federation.yaml)"


def load_or_report(config: str) -> Federation | None:
    """The federation, or None after printing one line per problem."""
    from flarectl.config.errors import ConfigError
    from flarectl.federation import load_federation

    try:
        return load_federation(config)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return None


def federation_file(named: str | None) -> Path:
    """The file a command reads: the one named, else the one this checkout remembers, else the
    embedded default (flarectl/config/choice.py); says which when none was named."""
    choice = chosen(named)
    if not named:
        print(f"flarectl: federation file {choice.path} ({choice.why})", file=sys.stderr)
    return choice.path


def load_site(
    config: str | None, name: str, model: type | None = None, known: str = "sites", none: str = "none"
) -> tuple[Federation, int, Any] | None:
    """The federation, the index and the site called `name` (of `model`, when given), or None
    after printing why not. Site kinds' verbs receive this (SiteKind.add_commands)."""
    path = federation_file(config)
    federation = load_or_report(str(path))
    if federation is None:
        return None
    sites = {site.name: (index, site) for index, site in enumerate(federation.sites) if model is None or isinstance(site, model)}
    if name not in sites:
        print(f"flarectl: no {known[:-1]} {name!r} in {path}; {known}: {', '.join(sites) or none}", file=sys.stderr)
        return None
    return (federation, *sites[name])
