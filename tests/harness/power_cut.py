"""Run a hub program and kill it with SIGKILL at one of its steps, as a power cut would stop it:
`python power_cut.py POINT POINTS_FILE program.py args...`, where POINT is text found in the
step's description (the first such step is cut). A step is each point where the program changes
lasting state or relies on another service having done so: a rename or replacement, a removal,
a symlink, a command run (systemctl), an answer read from the dashboard (described by its
request, e.g. `answer PATCH /api/v1/project`). A file step is cut before it runs; an answer is
cut once its status line and headers have arrived: the dashboard has acted on the request and
the program never heard (cut before that, whether the dashboard acted is a race). Every step
is appended to POINTS_FILE before it runs.

A real SIGKILL of the real process: nothing in the program can catch it or clean up."""

from __future__ import annotations

import http.client
import os
import runpy
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


def describe(name: str, args: tuple[Any, ...]) -> str:
    words = []
    for arg in args[:2]:
        if isinstance(arg, (str, Path)):
            words.append(str(arg))
        elif isinstance(arg, list):
            words.append(" ".join(map(str, arg)))
    return " ".join([name, *words])


def main() -> None:
    point, points_file, program = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    depth = {"n": 0}

    def step(name: str, real: Any, what: Any = None, cut_after: bool = False) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if depth["n"]:  # a removal inside rmtree is part of that step
                return real(*args, **kwargs)
            description = what(args) if what else describe(name, args)
            with points_file.open("a") as points:
                points.write(description + "\n")
            if point in description and not cut_after:
                os.kill(os.getpid(), signal.SIGKILL)
            depth["n"] += 1
            try:
                result = real(*args, **kwargs)
            finally:
                depth["n"] -= 1
            if point in description:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return call

    request = http.client.HTTPConnection.request

    def remember(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        self.power_cut_request = f"{method} {url}"
        return request(self, method, url, *args, **kwargs)

    http.client.HTTPConnection.request = remember  # type: ignore[method-assign]
    http.client.HTTPConnection.getresponse = step(  # type: ignore[method-assign]
        "answer",
        http.client.HTTPConnection.getresponse,
        lambda args: f"answer {getattr(args[0], 'power_cut_request', '')}",
        cut_after=True,
    )
    os.replace = step("replace", os.replace)
    os.rename = step("rename", os.rename)  # Path.rename calls it
    os.unlink = step("unlink", os.unlink)  # Path.unlink calls it
    os.symlink = step("symlink", os.symlink)
    shutil.rmtree = step("rmtree", shutil.rmtree)
    subprocess.run = step("run", subprocess.run)
    sys.argv = [program, *sys.argv[4:]]
    sys.path.insert(0, str(Path(program).parent))
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
