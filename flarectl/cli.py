"""flarectl: what CDK cannot do for the federation (validation, the synth summary, ...)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from flarectl import lead, server_kit
from flarectl.client_runtime import exact
from flarectl.config.choice import chosen
from flarectl.config.errors import ConfigError
from flarectl.federation import Federation, load_federation
from flarectl.host_scripts import USERDATA_DIR
from flarectl.sites.registry import KINDS
from flarectl.summary import summarize


def load_or_report(config: str) -> Federation | None:
    """The federation, or None after printing one line per problem."""
    try:
        return load_federation(config)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return None


CONFIG_HELP = "federation file (default: the one this checkout remembers from cdk -c config=, else the embedded federation.yaml)"


def federation_file(named: str | None) -> Path:
    """The file a command reads: the one named, else the one this checkout remembers, else the
    embedded default (flarectl/config/choice.py); says which when none was named."""
    choice = chosen(named)
    if not named:
        print(f"flarectl: federation file {choice.path} ({choice.why})", file=sys.stderr)
    return choice.path


def load_site(
    config: str | None, name: str, model: type | None = None, known: str = "sites", none: str = "none"
) -> tuple[Federation, int, Any] | None:
    """The federation, the index and the site called `name` (of `model`, when given), or None
    after printing why not."""
    path = federation_file(config)
    federation = load_or_report(str(path))
    if federation is None:
        return None
    sites = {site.name: (index, site) for index, site in enumerate(federation.sites) if model is None or isinstance(site, model)}
    if name not in sites:
        print(f"flarectl: no {known[:-1]} {name!r} in {path}; {known}: {', '.join(sites) or none}", file=sys.stderr)
        return None
    return (federation, *sites[name])


def _validate(args: argparse.Namespace) -> int:
    path = federation_file(args.config)
    federation = load_or_report(str(path))
    if federation is None:
        return 2
    print(f"{path}: OK (project {federation.project}, NVFlare {federation.nvflare_version}, {len(federation.sites)} site(s))")
    return 0


def _summary(args: argparse.Namespace) -> int:
    print(summarize(Path(args.cdk_out)))
    return 0


def _server_kit(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        bucket = args.bucket or server_kit.kit_bucket_from_stack(args.stack)
        s3 = boto3.client("s3")
        if args.action == "list":
            current = (server_kit.read_pointer(s3, bucket) or {}).get("sha256")
            for entry in server_kit.read_history(s3, bucket):
                mark = "*" if entry["sha256"] == current else " "
                withdrawn = f", rolled back from on {entry['withdrawn']}" if entry.get("withdrawn") else ""
                print(f"{mark} {entry['sha256'][:16]}  {entry['published']}  {entry['name']}{withdrawn}")
            return 0
        if args.action == "install":
            if not args.path:
                raise server_kit.KitError("install needs the kit: flarectl server-kit install PATH (folder or zip)")
            federation = load_or_report(str(federation_file(args.config)))
            if federation is None:
                return 2
            expect = {"project": federation.project, "server_name": federation.dns.server_name if federation.dns else None,
                      "port": federation.hub.fl_port}  # fmt: skip
            from flarectl.kit_install import ask_pin

            pointer = server_kit.install(s3, bucket, Path(args.path), ask_pin(Path(args.path)), expect=expect)
            print(f"published {pointer['name']} (sha256 {pointer['sha256'][:16]}) to s3://{bucket}/{pointer['key']}")
        else:
            current = server_kit.read_pointer(s3, bucket)
            pointer = server_kit.rollback(s3, bucket)
            away = f"; {current['name']} ({current['sha256'][:16]}) is withdrawn and is not rolled back to again" if current else ""
            print(f"rolled back to {pointer['name']} (sha256 {pointer['sha256'][:16]}, published {pointer['published']}){away}")
    except server_kit.KitError as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"flarectl: AWS call failed: {error}", file=sys.stderr)
        return 1
    print("The hub installs it within a minute and restarts the FL server (journalctl -u flare-kit-sync on the hub).")
    return 0


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


def _federation_status(args: argparse.Namespace) -> int:
    from flarectl import federation_status

    expected, dashboard = list(args.expect), args.dashboard
    if args.config:
        federation = load_or_report(args.config)
        if federation is None:
            return 2
        expected += [site.name for site in federation.sites]
        if federation.dns and not dashboard:
            dashboard = f"https://{federation.dns.dashboard_name}"
    try:
        report = federation_status.collect(lead.find_kit(args.kit, args.poc), expected=expected, dashboard=dashboard, timeout=args.timeout)
    except lead.LeadError as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else federation_status.render(report))
    return 1 if report["missing"] else 0


def _site_kit(args: argparse.Namespace) -> int:
    """An Org Admin's site kit from the dashboard, into the federation file's `kit:` folder."""
    import getpass
    import os

    from flarectl import site_kit

    found = load_site(args.config, args.site)
    if found is None:
        return 2
    federation, index, site = found
    target = Path(args.output or site.kit or "")
    if not (args.output or site.kit):
        print(f"flarectl: sites[{index}].kit is not set; set it in the federation file or pass -o DIR", file=sys.stderr)
        return 2
    dashboard = args.dashboard or (f"https://{federation.dns.dashboard_name}" if federation.dns else None)
    if not dashboard:
        print("flarectl: the federation file has no dns: pass --dashboard https://<the hub's address>", file=sys.stderr)
        return 2
    server_name = federation.dns.server_name if federation.dns else None
    try:
        # Nothing is asked for before the dashboard answers and the target can take the kit.
        if target.exists() and any(target.iterdir()):
            raise site_kit.SiteKitError(
                f"{target} already holds files; move them away first (a kit is a private key: nothing is overwritten)"
            )
        client = site_kit.DashboardClient(dashboard, fingerprint=args.fingerprint)
        client.check_reachable()
        email = args.email or os.environ.get("FLARE_DASHBOARD_EMAIL") or input("dashboard email: ")
        password = os.environ.get("FLARE_DASHBOARD_PASSWORD") or getpass.getpass(f"dashboard password for {email}: ")
        dials = site_kit.fetch(client, email=email, password=password, site=site.name, target=target, server_name=server_name,
                               fl_port=federation.hub.fl_port)  # fmt: skip
    except site_kit.SiteKitError as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2
    print(f"{target}: the startup kit of {site.name} (dials {dials}); its private key is startup/client.key (mode 600)")
    repository = site_kit.unignored_in_git(target)
    if repository:
        print(f"flarectl: WARNING: {target} is inside the git work tree {repository} and not ignored; add it to .gitignore "
              "so the private key is never committed", file=sys.stderr)  # fmt: skip
    return 0


def _restore_plan(args: argparse.Namespace) -> int:
    import boto3
    import yaml

    from flarectl import restore_plan

    try:
        block, notes = restore_plan.plan(boto3.session.Session(region_name=args.region), args.stack)
    except restore_plan.RestoreError as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2
    if args.merge:
        source = Path(args.merge)
        target = source.with_name(source.stem + "-restore.yaml")
        data = restore_plan.merged(source.read_text(encoding="utf-8"), block)
        target.write_text(f"# {source.name} with the restore plan merged into hub: (comments are not kept)\n"
                          + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")  # fmt: skip
        if load_or_report(str(target)) is None:
            return 2
        print(f"wrote {target}: review it, then cdk deploy FlareServerStack -c config={target}")
    else:
        print("# Merge into the federation file's hub: section (or run again with --merge FILE), then cdk deploy FlareServerStack:")
        print(yaml.safe_dump(block, sort_keys=False), end="")
    for note in notes:
        print(f"flarectl: {note}", file=sys.stderr)
    return 0 if len(block["hub"]) == 4 else 1


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


def _picture(args: argparse.Namespace) -> int:
    from flarectl.picture import render_svg

    federation = load_or_report(str(federation_file(args.config)))
    if federation is None:
        return 2
    Path(args.output).write_text(render_svg(federation), encoding="utf-8")
    print(f"{args.output}: the hub, {len(federation.sites)} site(s) and who dials whom")
    return 0


def _site_files(args: argparse.Namespace) -> int:
    """The files `cdk synth` writes for one site, without CDK (for an Org Admin with only flarectl)."""
    found = load_site(args.config, args.site)
    if found is None:
        return 2
    federation, _, site = found
    emit = KINDS[site.kind].emit
    if emit is None:
        print(f"flarectl: {site.kind} sites are CloudFormation stacks, not files; `make synth` builds them", file=sys.stderr)
        return 2
    directory = Path(args.output or Path("cdk.out") / "sites" / site.name)
    written = emit(site, federation, directory)
    print(f"{directory}: {', '.join(path.name for path in written)} (see README.md)")
    return 0


def kit_site_name(kit: Path, password: str | None) -> str | None:
    """The site a client kit was made for (its sub_start.sh's uid=), from the folder or the zip."""
    import re

    try:
        if kit.is_dir():
            text = (kit / "startup" / "sub_start.sh").read_text()
        else:
            with zipfile.ZipFile(kit) as bundle:
                name = next(n for n in bundle.namelist() if n.endswith("startup/sub_start.sh"))
                text = bundle.read(name, pwd=password.encode() if password else None).decode()
    except (OSError, StopIteration, RuntimeError, zipfile.BadZipFile, UnicodeDecodeError):
        return None
    match = re.search(r"uid=([A-Za-z0-9_-]+)", text)
    return match.group(1) if match else None


def _site_doctor(args: argparse.Namespace) -> int:
    """The doctor the site's runtime runs (flare-doctor.py), here before setup. A kit zip's PIN
    is asked for once (kit_install.ask_pin) and handed to the doctor on its standard input."""
    from flarectl.kit_install import ask_pin

    command = [sys.executable, str(USERDATA_DIR / "client" / "flare-doctor.py"), "--kit", args.kit, "--workdir", args.workdir]
    try:
        pin = ask_pin(Path(args.kit))
    except (OSError, zipfile.BadZipFile):
        pin = None  # the doctor names what is wrong with the kit
    if args.config:
        if not args.site:
            args.site = kit_site_name(Path(args.kit), pin)  # the help's default: the site the kit was made for
        if not args.site:
            print("flarectl: cannot tell from the kit which site it is for; pass --site NAME (the site's name in the federation file)",
                  file=sys.stderr)  # fmt: skip
            return 2
        found = load_site(args.config, args.site)
        if found is None:
            return 2
        federation, _, site = found
        command += ["--gpus", str(site.gpus), "--gpu-memory-gib", exact(site.gpu_memory_gib), "--port", str(federation.hub.fl_port)]
        if federation.dns:
            command += ["--server", federation.dns.server_name]
        if args.venv:
            command += ["--venv", args.venv, "--nvflare-version", federation.nvflare_version]
    elif args.venv:
        print("flarectl: --venv needs --config (the federation file names the NVFlare version)", file=sys.stderr)
        return 2
    if args.site:
        command += ["--site", args.site]
    return subprocess.run(command, input=None if pin is None else f"{pin}\n", text=True).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flarectl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a federation file; one line per problem")
    validate.add_argument("config", nargs="?", help=CONFIG_HELP)
    validate.set_defaults(run=_validate)
    summary = commands.add_parser("summary", help="describe what `cdk synth` produced")
    summary.add_argument("cdk_out", nargs="?", default="cdk.out")
    summary.set_defaults(run=_summary)
    kit = commands.add_parser("server-kit", help="publish the FL server startup kit to the hub, or roll back")
    kit.add_argument("action", choices=["install", "rollback", "list"])
    kit.add_argument("-c", "--config", help=CONFIG_HELP + "; install checks the kit's project, server name and port against it")
    kit.add_argument("path", nargs="?", help="server startup kit: folder or the dashboard's zip")
    kit.add_argument("--stack", default="FlareServerStack", help="hub stack whose KitBucket output to use")
    kit.add_argument("--bucket", help="kit bucket name (instead of looking it up from --stack)")
    kit.set_defaults(run=_server_kit)
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
    picture = commands.add_parser("picture", help="draw the federation as SVG (what `make synth` writes to cdk.out/federation.svg)")
    picture.add_argument("config", nargs="?", help=CONFIG_HELP)
    picture.add_argument("-o", "--output", default="federation.svg", help="the SVG file to write (default: federation.svg)")
    picture.set_defaults(run=_picture)
    federation = commands.add_parser("federation", help="the Project Admin's view of the federation").add_subparsers(
        dest="federation_command", required=True
    )
    status = federation.add_parser(
        "status", help="sites connected or not, jobs, uptime, certificates (exit 1: an expected site is missing)"
    )
    status.add_argument("--kit", help="the project admin's startup kit folder (default: the one under ~/.nvflare/<project>/<user>)")
    status.add_argument("--poc", action="store_true", help="use the admin kit of `nvflare poc`")
    status.add_argument("--expect", action="append", default=[], metavar="SITE", help="a site that must be connected (repeatable)")
    status.add_argument("-c", "--config", help="federation file: every site in it is expected, and it names the dashboard")
    status.add_argument("--dashboard", help="the dashboard's URL (default: https://<the server's name>)")
    status.add_argument("--json", action="store_true", help="print the report as JSON, for scripts")
    status.add_argument("--debug", action="store_true", help="show NVFlare's own log lines")
    status.add_argument("--timeout", type=float, default=20, help="seconds to wait for the FL server (default 20)")
    status.set_defaults(run=_federation_status)
    hub = commands.add_parser("hub", help="the Project Admin's hub").add_subparsers(dest="hub_command", required=True)
    restore = hub.add_parser(
        "restore-plan",
        help="the hub: lines that adopt what cdk destroy kept (exit 0 all four, 1 some are gone: see the notes, 2 no such stack)",
    )
    restore.add_argument("--stack", default="FlareServerStack", help="the old hub stack's name (default: FlareServerStack)")
    restore.add_argument("--region", help="its region (default: the AWS CLI's)")
    restore.add_argument(
        "--merge", metavar="FILE", help="write FILE's content with the plan merged into its hub: section to FILE-restore.yaml"
    )
    restore.set_defaults(run=_restore_plan)
    files = commands.add_parser("site-files", help="write one site's files (what `cdk synth` writes to cdk.out/sites/<site>/)")
    files.add_argument("site", help="the site's name in the federation file")
    files.add_argument("-c", "--config", help=CONFIG_HELP)
    files.add_argument("-o", "--output", help="directory to write to (default: cdk.out/sites/<site>)")
    files.set_defaults(run=_site_files)
    kit_fetch = commands.add_parser("site-kit", help="an Org Admin's site startup kit").add_subparsers(
        dest="site_kit_command", required=True
    )
    fetch = kit_fetch.add_parser("fetch", help="download the site's kit from the dashboard into its kit: folder (no browser)")
    fetch.add_argument("--site", required=True, help="the site's name in the federation file and on the dashboard")
    fetch.add_argument("-c", "--config", help=CONFIG_HELP)
    fetch.add_argument("--dashboard", help="the dashboard's URL (default: https://<dns.dashboard_name>)")
    fetch.add_argument("--email", help="your dashboard login (default: $FLARE_DASHBOARD_EMAIL, else asked)")
    fetch.add_argument("-o", "--output", help="folder to unzip into (default: the site's kit: in the federation file)")
    fetch.add_argument("--fingerprint", metavar="SHA256",
                       help="a hub without DNS (self-signed certificate): accept exactly the certificate with this SHA-256 "
                            "fingerprint, which the Project Admin reads off the hub (stack output DashboardFingerprintCommand)")  # fmt: skip
    fetch.set_defaults(run=_site_kit)
    kit_commands = commands.add_parser("kit", help="a startup kit zip from the dashboard").add_subparsers(dest="kit_command", required=True)
    install = kit_commands.add_parser(
        "install", help="unpack a kit zip where it is used (a Lead's admin kit: ~/.nvflare/<project>/<you>); asks for its PIN"
    )
    install.add_argument("zip", help="the zip the dashboard downloaded")
    install.add_argument("--to", help="folder to unpack into (a site kit: the kit: of the site in the federation file)")
    install.set_defaults(run=_kit_install)
    site = commands.add_parser("site", help="checks for a client site").add_subparsers(dest="site_command", required=True)
    doctor = site.add_parser(
        "doctor", help="can this machine's client connect, and will jobs run? (exit 0 ok, 1 cannot connect, 2 jobs would fail)"
    )
    doctor.add_argument("--kit", required=True, help="the site's startup kit: folder or the dashboard's zip")
    doctor.add_argument("--site", help="the site's name (default: the site the kit was made for)")
    doctor.add_argument("-c", "--config", help="federation file: check the site's registered GPUs (and --venv's NVFlare version)")
    doctor.add_argument("--venv", help="the site's venv, to check its NVFlare version")
    doctor.add_argument("--workdir", default=".", help="where jobs will run, for the disk check (default: here)")
    doctor.set_defaults(run=_site_doctor)
    for kind in KINDS.values():  # the kinds' own verbs
        if kind.add_commands:
            kind.add_commands(commands)
    args = parser.parse_args(argv)
    if not getattr(args, "debug", True):
        import logging

        logging.disable(logging.CRITICAL)  # NVFlare's connector errors too: the command says what failed, once
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
