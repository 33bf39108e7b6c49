#!/usr/bin/env python3
"""Wall time of `flarectl validate` (a fresh process, as a user runs it) on the largest valid
federation we test (every kind, 100 sites) and on the alias bomb the loader refuses. Prints
figures; asserts nothing.

Run: .venv/bin/python bench/validate.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
KINDS: list[dict[str, object]] = [
    {"kind": "aws", "gpus": 1, "gpu_memory_gib": 16},
    {"kind": "azure", "location": "eastus"},
    {"kind": "slurm", "kit": "/shared/kits/{name}", "workdir": "/shared/{name}", "gres": "gpu:a40:1"},
    {"kind": "linux", "kit": "/srv/kits/{name}", "workdir": "/srv/{name}"},
    {"kind": "wsl", "kit": "/home/ann/kits/{name}", "workdir": "/home/ann/{name}"},
]


def federation(count: int) -> dict:
    sites = []
    for index in range(count):
        name = f"site-{index:03d}"
        template = KINDS[index % len(KINDS)]
        sites.append(
            {"name": name, **{key: value.format(name=name) if isinstance(value, str) else value for key, value in template.items()}}
        )
    return {"project": "bench", "project_admin_email": "it@hospital.test", "sites": sites}


def timed(config: Path, runs: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", "flarectl", "validate", str(config)], capture_output=True, cwd=ROOT).returncode
        times.append(time.perf_counter() - start)
    return statistics.median(times), code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        large = Path(work) / "federation-100.yaml"
        large.write_text(yaml.safe_dump(federation(100)))
        print(f"flarectl validate, median of {args.runs} runs (a new process each)")
        for label, config in (("100 sites, every kind", large), ("alias bomb (refused)", ROOT / "tests/unit/alias-bomb.yaml")):
            seconds, code = timed(config, args.runs)
            print(f"  {label:24s} {seconds:6.2f} s   exit {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
