#!/usr/bin/env python3
"""A site's venv install, as the shared client runtime does it, with uv against pip: the same
machine, the same run, from the package index, with a cold cache (empty) and a warm one (the
same cache again, a new venv). The set is NVFlare and a typical tabular requirement set
without torch. Prints the figures and uv's share of pip's time; asserts nothing (the goal in
issue 13: at most 0.3 of pip's time, cold).

Run: .venv/bin/python bench/host_install.py   (needs the package index; a few minutes)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flarectl.client_runtime import UV_VERSION  # noqa: E402

REQUIREMENTS = ["nvflare==2.9.0", "numpy", "pandas", "scikit-learn", "tensorboard"]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.monotonic() - start


def new_venv(work: Path, name: str) -> Path:
    venv = work / name
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return venv


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-install-") as scratch:
        work = Path(scratch)
        tools = new_venv(work, "uv-tools")
        subprocess.run([str(tools / "bin/pip"), "install", "--quiet", f"uv=={UV_VERSION}"], check=True)
        uv = tools / "bin" / "uv"
        env = {**os.environ, "UV_CACHE_DIR": str(work / "uv-cache"), "PIP_CACHE_DIR": str(work / "pip-cache")}
        figures: dict[str, float] = {}
        for cache in ("cold", "warm"):
            venv = new_venv(work, f"pip-{cache}")
            figures[f"pip {cache}"] = timed([str(venv / "bin/pip"), "install", "--quiet", *REQUIREMENTS], env)
            venv = new_venv(work, f"uv-{cache}")
            figures[f"uv {cache}"] = timed([str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin/python"), *REQUIREMENTS], env)
    print(f"site venv install of {' '.join(REQUIREMENTS)} (uv {UV_VERSION}, pip {pip_version()}):")
    for cache in ("cold", "warm"):
        pip, uv_time = figures[f"pip {cache}"], figures[f"uv {cache}"]
        print(f"  {cache} cache: pip {pip:6.1f} s, uv {uv_time:6.1f} s, uv/pip {uv_time / pip:.2f}")


def pip_version() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True).stdout.split()[1]


if __name__ == "__main__":
    main()
