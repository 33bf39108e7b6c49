"""flarectl: what CDK cannot do for the federation (validation, the synth summary, ...)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flarectl import lead, server_kit
from flarectl.config import DEFAULT_FEDERATION, ConfigError, Federation, load_federation
from flarectl.summary import summarize


def _load(config: str) -> Federation | None:
    """The federation, or None after printing one line per problem."""
    try:
        return load_federation(config)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return None


def _validate(args: argparse.Namespace) -> int:
    federation = _load(args.config)
    if federation is None:
        return 2
    print(f"{args.config}: OK (project {federation.project}, NVFlare {federation.nvflare_version}, {len(federation.sites)} site(s))")
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
        if args.action == "install":
            if not args.path:
                raise server_kit.KitError("install needs the kit: flarectl server-kit install PATH (folder or zip)")
            pointer = server_kit.install(s3, bucket, Path(args.path), args.zip_password)
            print(f"published {pointer['name']} (sha256 {pointer['sha256'][:16]}) to s3://{bucket}/{pointer['key']}")
        else:
            pointer = server_kit.rollback(s3, bucket)
            print(f"rolled back to {pointer['name']} (sha256 {pointer['sha256'][:16]})")
    except server_kit.KitError as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"flarectl: AWS call failed: {error}", file=sys.stderr)
        return 1
    print("The hub installs it within a minute and restarts the FL server (journalctl -u flare-kit-sync on the hub).")
    return 0


def _submit(args: argparse.Namespace) -> int:
    try:
        return lead.submit(Path(args.job_folder), lead.find_kit(args.kit, args.poc), args.timeout)
    except lead.LeadError as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2


def _status(args: argparse.Namespace) -> int:
    try:
        return lead.status(lead.find_kit(args.kit, args.poc))
    except lead.LeadError as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2


def _azure(args: argparse.Namespace) -> int:
    """`flarectl azure plan|deploy|destroy SITE`."""
    import os

    from azure.core.exceptions import AzureError

    from flarectl import azure_deploy, azure_plan
    from flarectl.config import AzureSite

    def fail(message: str) -> int:
        print(f"flarectl: {message}", file=sys.stderr)
        return 2

    federation = _load(args.config)
    if federation is None:
        return 2
    sites = {site.name: (index, site) for index, site in enumerate(federation.sites) if isinstance(site, AzureSite)}
    if args.site not in sites:
        return fail(f"no Azure site {args.site!r} in {args.config}; Azure sites: {', '.join(sites) or 'none (add one with kind: azure)'}")
    index, site = sites[args.site]
    subscription = args.subscription or site.subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not subscription:
        return fail(f"sites[{index}].subscription_id is not set; set it, pass --subscription, or set AZURE_SUBSCRIPTION_ID (`az account show --query id -o tsv`)")
    try:
        if args.action == "destroy":
            plan = azure_plan.plan_site(site, federation, subscription_id=subscription, custom_data="", custom_data_sha256="", ssh_public_key="")
        else:
            plan = azure_plan.deploy_plan(site, federation, subscription_id=subscription)
    except ValueError as error:
        return fail(f"sites[{index}].kit: {error}")
    clients = azure_deploy.connect(subscription)

    def confirm(question: str) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            print(f"{question} Pass --yes to confirm without a terminal.", file=sys.stderr)
            return False
        return input(f"{question} Type the resource group name to confirm: ").strip() == plan.resource_group

    try:
        if args.action == "plan":
            azure_deploy.describe(plan, clients)
        elif args.action == "deploy":
            azure_deploy.deploy(plan, clients)
            print(f"site {site.name} deployed; the client starts when cloud-init finishes (a few minutes; longer the first time the GPU driver installs)")
        else:
            azure_deploy.destroy(plan, clients, confirm)
    except azure_deploy.AzureDeployError as error:
        return fail(str(error))
    except AzureError as error:
        return fail(f"an Azure request failed: {str(error).splitlines()[0]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flarectl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a federation file; one line per problem")
    validate.add_argument("config", nargs="?", default=str(DEFAULT_FEDERATION))
    validate.set_defaults(run=_validate)
    summary = commands.add_parser("summary", help="describe what `cdk synth` produced")
    summary.add_argument("cdk_out", nargs="?", default="cdk.out")
    summary.set_defaults(run=_summary)
    kit = commands.add_parser("server-kit", help="publish the FL server startup kit to the hub, or roll back")
    kit.add_argument("action", choices=["install", "rollback"])
    kit.add_argument("path", nargs="?", help="server startup kit: folder or the dashboard's zip")
    kit.add_argument("--zip-password", help="password of the dashboard's zip, if it has one")
    kit.add_argument("--stack", default="FlareServerStack", help="hub stack whose KitBucket output to use")
    kit.add_argument("--bucket", help="kit bucket name (instead of looking it up from --stack)")
    kit.set_defaults(run=_server_kit)
    for name, helptext, run in (("submit", "submit a job as a Lead and follow it to the end", _submit),
                                ("status", "show the FL server, connected clients and running jobs", _status)):  # fmt: skip
        command = commands.add_parser(name, help=helptext)
        if name == "submit":
            command.add_argument("job_folder")
            command.add_argument("--timeout", type=float, default=3600, help="seconds to follow the job (default 3600)")
        command.add_argument("--kit", help="your admin startup kit folder (default: the one under ~/.nvflare/<project>/<user>)")
        command.add_argument("--poc", action="store_true", help="use the admin kit of `nvflare poc`")
        command.add_argument("--debug", action="store_true", help="show NVFlare's own log lines")
        command.set_defaults(run=run)
    azure = commands.add_parser("azure", help="plan, deploy or destroy an Azure GPU site (kind: azure)")
    azure.add_argument("action", choices=["plan", "deploy", "destroy"])
    azure.add_argument("site", help="the site's name in the federation file")
    azure.add_argument("-c", "--config", default=str(DEFAULT_FEDERATION), help="federation file (default: the embedded federation.yaml)")
    azure.add_argument("--subscription", help="Azure subscription id (default: the site's subscription_id, then AZURE_SUBSCRIPTION_ID)")
    azure.add_argument("--yes", action="store_true", help="destroy without asking")
    azure.set_defaults(run=_azure)
    args = parser.parse_args(argv)
    if not getattr(args, "debug", True):
        import logging

        logging.disable(logging.WARNING)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
