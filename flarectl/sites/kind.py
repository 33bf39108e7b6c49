"""What a site kind plugs in: its model, its synth step, and optionally cross-checks, a
preflight before anything is written, and CLI verbs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from flarectl.config.federation import FederationSettings
    from flarectl.config.sites import ClientSite

# An aws_cdk.App, which the library never imports (pyproject.toml's import contracts); only
# its outdir is read here.
CdkApp = Any


@dataclass(frozen=True)
class SiteKind:
    """A site kind. `synth` runs inside `cdk synth` (it adds a stack to the app, or writes the
    site's files to cdk.out/sites/<site>/) and returns one line saying what it made.
    `check` finds problems that need the whole federation (returned as "field: message", for
    the site's own path); it runs whenever the file is loaded. `preflight` finds problems that
    need a lookup (an instance type that fits); synth runs it for every site before it writes
    anything. `add_commands` adds the kind's verbs to `flarectl`; it receives the CLI's `load_site`. A kind whose output is files
    has `emit` (write them to a directory); its synth is `synth_files(emit, ...)`, and
    `flarectl site-files` writes them without CDK. A step that needs the CDK app (stacks/) is
    named as "module:function" and imported only when it runs, so the library never loads CDK."""

    name: str
    model: type[ClientSite]
    # The fewest fields a valid site of this kind needs besides name and kind: the shared-field
    # tests run against every kind through it.
    minimal: dict[str, Any]
    synth: Callable[[CdkApp, Any, FederationSettings], str] | str
    emit: Callable[[Any, FederationSettings, Path], list[Path]] | None = None
    check: Callable[[Any, FederationSettings], list[str]] | None = None
    preflight: Callable[[CdkApp, Any, FederationSettings], list[str]] | str | None = None
    add_commands: Callable[[argparse._SubParsersAction, Callable[..., Any]], None] | None = None

    def run_synth(self, app: CdkApp, site: ClientSite, federation: FederationSettings) -> str:
        return str(_step(self.synth)(app, site, federation))

    def run_preflight(self, app: CdkApp, site: ClientSite, federation: FederationSettings) -> list[str]:
        return list(_step(self.preflight)(app, site, federation)) if self.preflight else []


def _step(step: Callable[..., Any] | str) -> Callable[..., Any]:
    """A step given as "module:function" is imported now."""
    if callable(step):
        return step
    module, _, name = step.partition(":")
    return getattr(import_module(module), name)


def site_directory(app: CdkApp, site: ClientSite) -> Path:
    """Where synth writes a site's files: cdk.out/sites/<site>/."""
    return Path(app.outdir) / "sites" / site.name


def synth_files(
    emit: Callable[[Any, FederationSettings, Path], list[Path]], where: str
) -> Callable[[CdkApp, Any, FederationSettings], str]:
    """A file kind's synth step: `emit` the site's files into cdk.out/sites/<site>/."""

    def synth(app: CdkApp, site: ClientSite, federation: FederationSettings) -> str:
        written = emit(site, federation, site_directory(app, site))
        return f"sites/{site.name}: {len(written)} files for {where} (see its README.md)"

    return synth


def write_files(directory: Path, files: dict[str, str]) -> list[Path]:
    """Writes `files` (name -> text) into `directory`; returns every file now in it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return sorted(directory.iterdir())
