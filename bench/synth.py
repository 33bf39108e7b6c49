#!/usr/bin/env python3
"""Wall time of `cdk synth` (pinned CLI) for the embedded default federation, next to an empty
CDK app measured in the same run, and their ratio. Prints figures; asserts nothing.

Run: make bench   (or .venv/bin/python bench/synth.py --runs 5)
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
    args = parser.parse_args()
    env = dict(os.environ, CDK_DISABLE_CLI_TELEMETRY="1", CDK_DISABLE_VERSION_CHECK="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(ROOT / "node_modules" / ".bin"), env["PATH"]])
    with tempfile.TemporaryDirectory() as empty:
        empty_dir = Path(empty)
        (empty_dir / "app.py").write_text(EMPTY_APP)
        (empty_dir / "cdk.json").write_text(f'{{"app": "{sys.executable} app.py", "context": {{"notices": false, "cli-telemetry": false}}}}')
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
