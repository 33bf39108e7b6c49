"""The Project Admin's verbs: check the federation file, review what synth made, publish the
FL server's kit, draw the federation, watch it, and plan a hub's restore."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flarectl.cli.common import CONFIG_HELP, federation_file, load_or_report


def _validate(args: argparse.Namespace) -> int:
    path = federation_file(args.config)
    federation = load_or_report(str(path))
    if federation is None:
        return 2
    print(f"{path}: OK (project {federation.project}, NVFlare {federation.nvflare_version}, {len(federation.sites)} site(s))")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from flarectl.summary import summarize

    print(summarize(Path(args.cdk_out)))
    return 0


def _server_kit(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from flarectl import server_kit

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


def _federation_status(args: argparse.Namespace) -> int:
    from flarectl import federation_status, lead
    from flarectl.governance import review

    expected, dashboard, stances = list(args.expect), args.dashboard, None
    if args.config:
        federation = load_or_report(args.config)
        if federation is None:
            return 2
        expected += [site.name for site in federation.sites]
        stances = review(federation)
        if federation.dns and not dashboard:
            dashboard = f"https://{federation.dns.dashboard_name}"
    try:
        report = federation_status.collect(lead.find_kit(args.kit, args.poc), expected=expected, dashboard=dashboard, timeout=args.timeout)
    except lead.LeadError as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2
    if stances is not None:
        report["governance"] = stances  # as the federation file says; the sites enforce what they were set up with
    print(json.dumps(report, indent=2) if args.json else federation_status.render(report))
    return 1 if report["missing"] else 0


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


def _picture(args: argparse.Namespace) -> int:
    from flarectl.picture import render_svg

    federation = load_or_report(str(federation_file(args.config)))
    if federation is None:
        return 2
    Path(args.output).write_text(render_svg(federation), encoding="utf-8")
    print(f"{args.output}: the hub, {len(federation.sites)} site(s) and who dials whom")
    return 0


def add_verbs(commands: argparse._SubParsersAction) -> None:
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
