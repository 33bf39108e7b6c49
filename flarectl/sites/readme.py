"""A site kind's README for its Org Admin: a Markdown template in the kind's own folder
(flarectl/sites/<kind>/README.md), filled in with one site's values. The same template is the
source of the kind's page in docs/org-admin/ (docs/generate.py writes it; a test checks it)."""

from __future__ import annotations

from pathlib import Path


def render_readme(template: Path, **values: object) -> str:
    """`{name}` placeholders filled in; a placeholder without a value is an error, not a blank."""
    return template.read_text(encoding="utf-8").format_map(values)
