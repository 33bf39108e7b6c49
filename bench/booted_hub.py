#!/usr/bin/env python3
"""The hub from first boot to its dashboard answering, under a real systemd and cloud-init
(tests/harness/booted_hub.py): the user data of a hub deployed into the local AWS emulator,
booted twice, with empty download caches (apt, pip and uv from the package archives) and with
the caches the first boot filled. The cached Debian root is built first if this machine has
none (not counted). Prints the figures; asserts nothing.

Run (root, with debootstrap and systemd-container): .venv/bin/python bench/booted_hub.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.booted_host import debian_root  # noqa: E402
from tests.harness.booted_hub import booted_hub  # noqa: E402
from tests.harness.hub_harness import wait_for  # noqa: E402


def boot_once(workdir: Path, downloads: Path) -> tuple[float, float]:
    """Seconds from starting the container to the end of the bootstrap, and to the dashboard answering."""
    with booted_hub(workdir, downloads) as hub:
        booted = hub.host.boots[-1]
        return booted, booted + wait_for(hub.dashboard_answers, timeout=300, interval=0.5)


def main() -> None:
    debian_root()
    with tempfile.TemporaryDirectory(prefix="bench-booted-hub-") as scratch:
        downloads = Path(scratch) / "downloads"
        for label in ("cold (empty apt, pip and uv caches)", "warm (the caches of the boot before)"):
            bootstrap, dashboard = boot_once(Path(tempfile.mkdtemp(dir=scratch)), downloads)
            print(f"{label}: end of the bootstrap {bootstrap:.1f} s, dashboard answering on 443 {dashboard:.1f} s", flush=True)


if __name__ == "__main__":
    main()
