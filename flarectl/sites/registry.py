"""Every site kind, registered once. Adding a kind: one module under flarectl/sites/ that
defines KIND, and one line here."""

from __future__ import annotations

from flarectl.sites import aws, azure, slurm, wsl
from flarectl.sites.kind import SiteKind

KINDS: dict[str, SiteKind] = {
    kind.name: kind
    for kind in (
        aws.KIND,
        azure.KIND,
        slurm.KIND,
        wsl.KIND,
    )
}
