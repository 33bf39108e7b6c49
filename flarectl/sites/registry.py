"""Every site kind, registered once. Adding a kind: one module (or package) under
flarectl/sites/ that defines KIND, and one line here."""

from __future__ import annotations

from importlib import import_module

from flarectl.sites.kind import SiteKind

KIND_MODULES = (
    "flarectl.sites.aws",
    "flarectl.sites.azure",
    "flarectl.sites.slurm",
    "flarectl.sites.wsl",
    "flarectl.sites.linux",
)

KINDS: dict[str, SiteKind] = {kind.name: kind for kind in (import_module(module).KIND for module in KIND_MODULES)}
