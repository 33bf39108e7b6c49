"""After `mutmut run` (make mutation): the kill rate of the pure rules' unit tests, and each
surviving mutant's diff, to kill with a test of the rule or to name in docs/verification.md
as equivalent. Prints; never asserts. Scope: [tool.mutmut] in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

MUTMUT = str(Path(sys.executable).with_name("mutmut"))


def main() -> int:
    lines = subprocess.run([MUTMUT, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout.splitlines()
    states = {name.strip(): state.strip() for name, _, state in (line.rpartition(":") for line in lines if ":" in line)}
    counts = Counter(states.values())
    killed, survived = counts["killed"], counts["survived"]
    print(f"mutants: {len(states)}; killed {killed}, survived {survived}, not reached by these unit tests {counts['no tests']}, "
          f"timed out {counts['timeout']}")  # fmt: skip
    if killed + survived:
        print(f"kill rate of the mutants the unit tests reach: {killed / (killed + survived):.1%}")
    by_function = Counter(name.split("__mutmut_")[0] for name, state in states.items() if state == "survived")
    for function, count in by_function.most_common():
        print(f"  {count:3d} survived in {function.replace('.x_', '.')}")
    if "--diffs" in sys.argv:
        for name, state in sorted(states.items()):
            if state == "survived":
                print(subprocess.run([MUTMUT, "show", name], capture_output=True, text=True).stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
