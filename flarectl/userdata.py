"""Renders the files under userdata/ that run on hosts.

A host script is a real shell file with a `# @SETTINGS@` line. Rendering replaces that
line with `readonly NAME='value'` assignments (shell-quoted, so no config value can break
out of the script); the rest of the file is used as it is.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

USERDATA_DIR = Path(__file__).resolve().parent.parent / "userdata"
SETTINGS_MARKER = "# @SETTINGS@"


def render_script(relative_path: str, settings: dict[str, str]) -> str:
    """The file at userdata/<relative_path> with its settings filled in."""
    text = (USERDATA_DIR / relative_path).read_text(encoding="utf-8")
    if text.count(SETTINGS_MARKER) != 1:
        raise ValueError(f"userdata/{relative_path} must contain exactly one '{SETTINGS_MARKER}' line")
    lines = []
    for name, value in settings.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise ValueError(f"setting name {name!r} is not an upper-case shell variable name")
        lines.append(f"readonly {name}={shlex.quote(value)}")
    return text.replace(SETTINGS_MARKER, "\n".join(lines))
