"""Renders the host files: those every host shares (flarectl/hosts/) and a site kind's own
(flarectl/sites/<kind>/host/), shipped in the package.

A host script is a real shell file with one line `# @SETTINGS@ NAME1 NAME2 ...` that
declares the settings it needs. Rendering replaces that line with `readonly NAME='value'`
assignments (shell-quoted, so no config value can break out of the script) and refuses
settings that are missing or undeclared; the rest of the file is used as it is.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(str(resources.files("flarectl")))
HOSTS_DIR = PACKAGE_DIR / "hosts"
SETTINGS_LINE = re.compile(r"^# @SETTINGS@((?: [A-Z][A-Z0-9_]*)*)$", re.M)
# A file shared by host scripts that are shipped as one file (user data, the Leads' setup),
# inlined where the script names it: `# @INCLUDE@ common/venv-install.sh`.
INCLUDE_LINE = re.compile(r"^# @INCLUDE@ ([a-z0-9/_.-]+)$", re.M)


def host_file(path: str | Path) -> Path:
    """A path relative to flarectl/hosts/ (the shared host files), or a kind's own file as a Path."""
    return path if isinstance(path, Path) else HOSTS_DIR / path


def host_files(pattern: str) -> list[Path]:
    """Every host file matching `pattern`: the shared ones and each kind's own."""
    return sorted([*HOSTS_DIR.rglob(pattern), *(PACKAGE_DIR / "sites").glob(f"*/host/**/{pattern}")])


def declared_settings(path: str | Path) -> list[str]:
    """The setting names the host file declares on its `# @SETTINGS@` line."""
    file = host_file(path)
    found = SETTINGS_LINE.findall(file.read_text(encoding="utf-8"))
    if len(found) != 1:
        raise ValueError(f"{file.relative_to(PACKAGE_DIR.parent)} must contain exactly one '# @SETTINGS@ NAME ...' line")
    return found[0].split()


def render_script(path: str | Path, settings: dict[str, str], *, packed: bool = False) -> str:
    """The host file (see host_file) with its settings filled in. `packed`: everything after the
    settings gzip-compressed and base64-encoded into the script, which unpacks and runs it (EC2
    takes at most 16 KiB of user data; the settings stay readable, and hold CDK's tokens)."""
    file = host_file(path)
    declared = declared_settings(file)
    if sorted(declared) != sorted(settings):
        missing, extra = sorted(set(declared) - set(settings)), sorted(set(settings) - set(declared))
        raise ValueError(f"{file.relative_to(PACKAGE_DIR.parent)}: settings missing {missing}, not declared {extra}")
    text = INCLUDE_LINE.sub(
        lambda match: (HOSTS_DIR / match.group(1)).read_text(encoding="utf-8").rstrip("\n"), file.read_text(encoding="utf-8")
    )
    lines = [f"readonly {line}" for line in assignments(settings)]
    if packed:
        head, body = SETTINGS_LINE.split(text, maxsplit=1)[0], text[SETTINGS_LINE.search(text).end() :]  # type: ignore[union-attr]
        source = file.relative_to(PACKAGE_DIR.parent) if file.is_relative_to(PACKAGE_DIR.parent) else Path(file.name)
        return head + "\n".join(lines) + "\n" + pack(body, source=source)
    return SETTINGS_LINE.sub(lambda _: "\n".join(lines), text)


def pack(body: str, *, source: Path) -> str:
    """Shell that unpacks `body` (gzip + base64, stable bytes for the same text) and sources it,
    so it runs with the settings above it."""
    import base64
    import gzip

    encoded = base64.encodebytes(gzip.compress(body.encode(), compresslevel=9, mtime=0)).decode()
    return (
        f"# The rest of {source} (in the flarectl package), gzip + base64: EC2 takes at most 16 KiB of user data.\n"
        'UNPACKED="$(mktemp)"\n'
        f"base64 -d <<'PACKED' | gunzip >\"${{UNPACKED}}\"\n{encoded}PACKED\n"
        "# shellcheck source=/dev/null\n"
        '. "${UNPACKED}"\n'
    )


def assignments(settings: dict[str, str]) -> list[str]:
    """`NAME='value'` lines, shell-quoted so no value can break out."""
    lines = []
    for name, value in settings.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise ValueError(f"setting name {name!r} is not an upper-case shell variable name")
        lines.append(f"{name}={shlex.quote(value)}")
    return lines


# A CDK token in a rendered string stands for a name AWS makes at deploy (a bucket, the region):
# letters, digits, '-', '.' and '/', nothing to escape. CloudFormation puts the name in its place.
CDK_TOKEN = re.compile(r"(\$\{Token\[[A-Za-z0-9_.-]+\]\})")
# What a backslash escapes inside double quotes, for bash and for systemd's EnvironmentFile=
# alike (systemd: src/basic/env-file.c, SHELL_NEED_ESCAPE; bash: QUOTING, Double Quotes).
DOUBLE_QUOTE_SPECIAL = re.compile(r'(["\\`$])')


def render_env_file(settings: dict[str, str], *, about: str) -> str:
    r"""An environment file that systemd's EnvironmentFile= and bash's `source` read the same:
    NAME="value" lines, with only \\ \" \` \$ escaped. A value with a control character
    (a line break, say) is refused: neither format can carry it the same way."""
    lines = [f"# {about}", '# Written by flarectl from the federation file; NAME="value" lines.']
    for name, value in settings.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise ValueError(f"setting name {name!r} is not an upper-case shell variable name")
        if any(unicodedata.category(char) == "Cc" for char in value):
            raise ValueError(f"setting {name}: {value!r} has a control character; an environment file cannot carry it")
        parts = CDK_TOKEN.split(value)
        escaped = "".join(part if index % 2 else DOUBLE_QUOTE_SPECIAL.sub(r"\\\1", part) for index, part in enumerate(parts))
        lines.append(f'{name}="{escaped}"')
    return "\n".join(lines) + "\n"


def render_settings_file(settings: dict[str, str], *, about: str) -> str:
    """A settings file for flarectl/hosts/client/flare-client.sh (it sources it)."""
    return (
        f"# {about}\n# Written by flarectl from the federation file; shell-quoted NAME=value lines.\n"
        + "\n".join(assignments(settings))
        + "\n"
    )
