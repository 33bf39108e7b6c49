"""Stand-ins for the system-changing commands the hub bootstrap runs, so the real script
can run in a sandbox directory. Installed as symlinks named after each command; every call
is appended to $RECORDER_LOG and the little state they share (installed packages, users,
formatted devices, mounts, owners) lives in $RECORDER_STATE, so a second run sees what the
first one did, as on a real host."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

STATE = Path(os.environ["RECORDER_STATE"])


def load() -> dict:
    return json.loads(STATE.read_text()) if STATE.exists() else {"packages": [], "users": [], "formatted": {}, "mounts": [], "owners": {}}


def main(name: str, args: list[str]) -> int:
    with open(os.environ["RECORDER_LOG"], "a") as log:
        log.write(" ".join([name, *args]) + "\n")
    state = load()
    words = [a for a in args if not a.startswith("-")]
    status = 0
    if name == "dpkg-query":
        status = 0 if words[-1] in state["packages"] else 1
        if status == 0:
            print("install ok installed", end="")
    elif name == "apt-get" and "install" in words:
        state["packages"] += words[words.index("install") + 1 :]
    elif name == "mountpoint":
        status = 0 if words[-1] in state["mounts"] else 1
    elif name == "mount":
        state["mounts"].append(words[-1])
    elif name == "mkfs.ext4":
        state["formatted"][words[-1]] = str(uuid.uuid4())
    elif name == "blkid":
        device = words[-1]
        status = 0 if device in state["formatted"] else 2
        if status == 0 and "UUID" in args:
            print(state["formatted"][device])
    elif name == "id":  # users get uids 990, 991, ... in the order they were added
        status = 0 if words[-1] in state["users"] else 1
        if status == 0 and "-u" in args:
            print(990 + state["users"].index(words[-1]))
    elif name == "useradd":
        state["users"].append(words[-1])
    elif name == "chown":  # the owner is recorded by number, as the filesystem keeps it
        state["owners"][words[-1]] = str(990 + state["users"].index(words[0].split(":")[0]))
    elif name == "stat":  # stat -c %u PATH
        print(state["owners"].get(words[-1], "0"))
    elif name == "python3" and args[:2] == ["-m", "venv"]:
        venv = Path(args[2])
        (venv / "bin").mkdir(parents=True, exist_ok=True)
        # The sandbox venv's python is this test venv's (it has nvflare, certbot and boto3); pip is recorded.
        for tool, target in (("python", sys.executable), ("pip", str(Path(os.environ["RECORDER_BIN"]) / "pip"))):
            wrapper = venv / "bin" / tool
            wrapper.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
            wrapper.chmod(0o755)
    elif name == "curl":  # the sandbox has no internet (AWS's CloudWatch agent bucket)
        print("curl: (7) Failed to connect", file=sys.stderr)
        status = 7
    elif name == "python3":
        os.execv(sys.executable, [sys.executable, *args])
    STATE.write_text(json.dumps(state))
    return status


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).name, sys.argv[2:]))
