#!/usr/bin/env python3
"""Wall time of `cdk synth` (pinned CLI) for the embedded default federation, next to an empty
CDK app measured in the same run, and their ratio; then federations with 10, 50 and 100 AWS
sites and the time each site adds. Prints figures; asserts nothing.

Run: make bench   (or .venv/bin/python bench/synth.py --runs 5 --sites 10 50 100)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from flarectl.config import DEFAULT_FEDERATION

ROOT = Path(__file__).resolve().parent.parent
EMPTY_APP = """\
import aws_cdk as cdk
app = cdk.App()
cdk.Stack(app, "Empty", analytics_reporting=False)
app.synth()
"""


def timed_synth(app_dir: Path, env: dict[str, str], extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(["cdk", "synth", "--quiet", "-o", out, *extra], cwd=app_dir, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sites", type=int, nargs="*", default=[10, 50, 100])
    args = parser.parse_args()
    env = dict(os.environ, CDK_DISABLE_CLI_TELEMETRY="1", CDK_DISABLE_VERSION_CHECK="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / "node_modules" / ".bin"), env["PATH"]])
    with tempfile.TemporaryDirectory() as empty:
        empty_dir = Path(empty)
        (empty_dir / "app.py").write_text(EMPTY_APP)
        (empty_dir / "cdk.json").write_text(
            f'{{"app": "{sys.executable} app.py", "context": {{"notices": false, "cli-telemetry": false}}}}'
        )
        timed_synth(empty_dir, env, [])  # warm the jsii cache so neither side pays for it
        empty_times, default_times = [], []
        for _ in range(args.runs):
            empty_times.append(timed_synth(empty_dir, env, []))
            default_times.append(timed_synth(ROOT, env, []))
    empty_median, default_median = statistics.median(empty_times), statistics.median(default_times)
    print(f"cdk synth, median of {args.runs} runs (pinned CLI, {os.cpu_count()} cores)")
    print(f"  empty CDK app           {empty_median:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in empty_times)}")
    print(f"  default federation.yaml {default_median:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in default_times)}")
    print(f"  ratio default/empty     {default_median / empty_median:6.2f}x")
    if args.sites:
        print("cdk synth with N AWS sites (one run each; kits absent, so no asset copying)")
        timings = {}
        with tempfile.TemporaryDirectory() as work:
            for count in args.sites:
                config = Path(work) / f"federation-{count}.yaml"
                config.write_text(yaml.safe_dump(federation_with_sites(count)))
                timings[count] = timed_synth(ROOT, env, ["-c", f"config={config}"])
                print(f"  {count:4d} sites  {timings[count]:7.2f} s")
        counts = sorted(timings)
        if len(counts) >= 2:
            slope = (timings[counts[-1]] - timings[counts[0]]) / (counts[-1] - counts[0])
            print(f"  per-site increment      {slope:6.3f} s/site ({counts[0]} -> {counts[-1]} sites)")
    return 0


def federation_with_sites(count: int) -> dict:
    data = yaml.safe_load(DEFAULT_FEDERATION.read_text())
    data["sites"] = [{"name": f"site-{i:03d}", "kind": "aws", "gpus": 1, "gpu_memory_gib": 16} for i in range(count)]
    return data


if __name__ == "__main__":
    sys.exit(main())
