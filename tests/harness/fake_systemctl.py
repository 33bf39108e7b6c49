"""A `systemctl` stand-in for tests: these machines have no systemd as PID 1.

It records every call in $FAKE_SYSTEMD_DIR/calls.log. For a unit the test registered
($FAKE_SYSTEMD_DIR/<unit>.json: argv, env, cwd, the unit's own ExecStart), `start`,
`stop`, `restart` and `is-active` act like systemd on a simple service: the process runs
in its own session, is stopped with SIGTERM+SIGCONT then SIGKILL, and its output is
appended to <unit>.log. Everything else (daemon-reload, enable, --no-block starts of
unregistered units) is only recorded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def pid_of(unit: str, state: Path) -> int | None:
    pid_file = state / f"{unit}.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    waited = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return None if waited.startswith("Z") else pid


def stop(unit: str, state: Path) -> None:
    pid = pid_of(unit, state)
    if pid is None:
        return
    for sig in (signal.SIGTERM, signal.SIGCONT):  # systemd also sends SIGCONT so a stopped process sees SIGTERM
        os.killpg(pid, sig)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and pid_of(unit, state) is not None:
        time.sleep(0.1)
    if pid_of(unit, state) is not None:
        os.killpg(pid, signal.SIGKILL)


def start(unit: str, state: Path) -> None:
    spec_file = state / f"{unit}.json"
    if not spec_file.exists() or pid_of(unit, state) is not None:
        return
    spec = json.loads(spec_file.read_text())
    log = (state / f"{unit}.log").open("a")
    process = subprocess.Popen(
        spec["argv"], env=spec["env"], cwd=spec.get("cwd"), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    (state / f"{unit}.pid").write_text(str(process.pid))


def main(args: list[str]) -> int:
    state = Path(os.environ["FAKE_SYSTEMD_DIR"])
    with (state / "calls.log").open("a") as calls:
        calls.write(" ".join(args) + "\n")
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return 0
    command, units = words[0], words[1:]
    for unit in units:
        if command in ("restart", "start", "reload-or-restart") and not (state / f"{unit}.json").exists():
            print(f"Failed to {command} {unit}: Unit {unit} not found.", file=sys.stderr)
            return 5  # systemctl's code for a unit it does not know
        if command == "restart":
            stop(unit, state)
            start(unit, state)
        elif command == "start":
            start(unit, state)
        elif command == "reload-or-restart":  # the unit's ExecReload: SIGHUP to its main process
            pid = pid_of(unit, state)
            if pid is None:
                start(unit, state)
            else:
                os.kill(pid, signal.SIGHUP)
        elif command == "stop":
            stop(unit, state)
        elif command == "is-active":
            return 0 if pid_of(unit, state) is not None else 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
