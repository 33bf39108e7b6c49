"""The Lead's verbs: install a kit zip, submit a job and follow it, list, abort and download
jobs, and the server's status. NVFlare is imported only when a verb talks to the server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flarectl import lead


def _lead(run: Any) -> Any:
    """A Lead's verb: its LeadError is a user mistake (exit 2), said in one line."""

    def verb(args: argparse.Namespace) -> int:
        try:
            return run(args, lead.find_kit(args.kit, args.poc))
        except lead.LeadError as error:
            print(f"flarectl: {error}", file=sys.stderr)
            return 2

    return verb


LEAD_VERBS = {
    "submit": ("submit a job folder (relative, absolute or ~) and follow it to the end",
               lambda args, kit: lead.submit(lead.job_folder(args.job_folder), kit, args.timeout)),
    "jobs": ("list the jobs on the server, newest first", lambda args, kit: lead.jobs(kit, args.state, args.limit)),
    "abort": ("abort a submitted or running job", lambda args, kit: lead.abort(kit, args.job_id)),
    "download": ("download a job's result and logs into DIR/<job id>/", lambda args, kit: lead.download(kit, args.job_id, Path(args.output))),
    "status": ("show the FL server, connected clients and running jobs", lambda args, kit: lead.status(kit)),
}  # fmt: skip


def _kit_install(args: argparse.Namespace) -> int:
    """The PIN comes from the terminal (getpass), or one line of standard input when that is not a
    terminal (`flarectl kit install x.zip < pin-file`): never from argv, which `ps` shows."""
    from flarectl import kit_install

    path = Path(args.zip)
    try:
        pin = kit_install.ask_pin(path)
        target, kind = kit_install.install(path, pin, to=Path(args.to) if args.to else None, home=Path.home())
    except (kit_install.KitInstallError, OSError) as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2
    key = "startup/client.key" if kind != "server" else "startup/server.key"
    print(f"{target}: your {kind} startup kit; its private key is {key} (mode 600)")
    return 0


def add_verbs(commands: argparse._SubParsersAction) -> None:
    for name, (helptext, run) in LEAD_VERBS.items():
        command = commands.add_parser(name, help=helptext, epilog="exit: 0 done, 1 the job failed or left nothing, 2 a mistake to fix")
        if name == "submit":
            command.add_argument("job_folder")
            command.add_argument("--timeout", type=float, default=3600, help="seconds to follow the job (default 3600)")
        if name == "jobs":
            command.add_argument("--state", help="only jobs whose status starts with this (RUNNING, FINISHED, SUBMITTED, ...)")
            command.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
        if name in ("abort", "download"):
            command.add_argument("job_id")
        if name == "download":
            command.add_argument("-o", "--output", default=".", help="folder to download into (default: here)")
        command.add_argument("--kit", help="your admin startup kit folder (default: the one under ~/.nvflare/<project>/<user>)")
        command.add_argument("--poc", action="store_true", help="use the admin kit of `nvflare poc`")
        command.add_argument("--debug", action="store_true", help="show NVFlare's own log lines")
        command.set_defaults(run=_lead(run))
    kit_commands = commands.add_parser("kit", help="a startup kit zip from the dashboard").add_subparsers(dest="kit_command", required=True)
    install = kit_commands.add_parser(
        "install", help="unpack a kit zip where it is used (a Lead's admin kit: ~/.nvflare/<project>/<you>); asks for its PIN"
    )
    install.add_argument("zip", help="the zip the dashboard downloaded")
    install.add_argument("--to", help="folder to unpack into (a site kit: the kit: of the site in the federation file)")
    install.set_defaults(run=_kit_install)
