"""Which federation file a command reads when the command line names none.

A Project Admin names the file once (`cdk ... -c config=FILE`, `make synth CONFIG=FILE`); the
checkout remembers it in `.flarectl-federation` (git-ignored), so a later `cdk diff` or
`cdk deploy` that forgets the flag works on the same federation, never silently on the
embedded default. With nothing remembered, the embedded default is used, and its stacks are
review-only: they refuse to deploy (flare_constructs/review_only.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flarectl.config import DEFAULT_FEDERATION

# Where the checkout remembers the file (tests point it elsewhere).
MEMORY_VARIABLE = "FLARECTL_REMEMBERED_FEDERATION"
MEMORY_FILE = ".flarectl-federation"


@dataclass(frozen=True)
class Choice:
    path: Path
    why: str  # for the one line a command prints about it

    @property
    def embedded_default(self) -> bool:
        return is_embedded_default(self.path)


def memory_file() -> Path:
    return Path(os.environ.get(MEMORY_VARIABLE) or MEMORY_FILE)


def is_embedded_default(path: Path) -> bool:
    try:
        return path.resolve() == DEFAULT_FEDERATION.resolve()
    except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError for a symlink loop
        return False


def chosen(named: str | None) -> Choice:
    """The file named on the command line, else the remembered one, else the embedded default."""
    if named:
        return Choice(Path(named), "named on the command line")
    memory = memory_file()
    try:
        remembered = memory.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        remembered = ""
    if remembered and Path(remembered).is_file():
        return Choice(Path(remembered), f"remembered in {memory} from an earlier -c config= (name another file to change it)")
    return Choice(DEFAULT_FEDERATION, "the embedded default, review only: its stacks refuse to deploy (name your file with -c config=FILE)")


def remember(path: Path) -> None:
    """Remember a federation file that loaded, unless it is the embedded default."""
    if not is_embedded_default(path):
        memory_file().write_text(f"{path.resolve()}\n", encoding="utf-8")
