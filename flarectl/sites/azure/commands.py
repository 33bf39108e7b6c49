"""`flarectl azure plan|deploy|destroy SITE`: what CDK cannot do for an Azure site."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import Any


def add_commands(commands: argparse._SubParsersAction, load_site: Callable[..., Any]) -> None:
    azure = commands.add_parser("azure", help="plan, deploy or destroy an Azure GPU site (kind: azure)")
    azure.add_argument("action", choices=["plan", "deploy", "destroy"])
    azure.add_argument("site", help="the site's name in the federation file")
    azure.add_argument(
        "-c",
        "--config",
        help="federation file (default: the one this checkout remembers from cdk -c config=, else the embedded federation.yaml)",
    )
    azure.add_argument("--subscription", help="Azure subscription id (default: the site's subscription_id, then AZURE_SUBSCRIPTION_ID)")
    azure.add_argument("--yes", action="store_true", help="destroy without asking")
    azure.set_defaults(run=functools.partial(run, load_site=load_site))


def fail(message: str) -> int:
    print(f"flarectl: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace, *, load_site: Callable[..., Any]) -> int:
    from azure.core.exceptions import AzureError

    from flarectl.sites.azure import clients as azure_clients
    from flarectl.sites.azure import deploy, plan
    from flarectl.sites.azure.model import AzureSite

    found = load_site(args.config, args.site, AzureSite, known="Azure sites", none="none (add one with kind: azure)")
    if found is None:
        return 2
    federation, index, site = found
    subscription = args.subscription or site.subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not subscription:
        return fail(
            f"sites[{index}].subscription_id is not set; set it, pass --subscription, or set AZURE_SUBSCRIPTION_ID (`az account show --query id -o tsv`)"
        )
    try:
        if args.action == "destroy":
            site_plan = plan.plan_site(
                site, federation, subscription_id=subscription, custom_data="", custom_data_sha256="", ssh_public_key=""
            )
        else:
            site_plan = plan.deploy_plan(site, federation, subscription_id=subscription)
    except ValueError as error:
        return fail(f"sites[{index}].kit: {error}")
    clients = azure_clients.connect(subscription)

    def confirm(question: str) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            print(f"{question} Pass --yes to confirm without a terminal.", file=sys.stderr)
            return False
        return input(f"{question} Type the resource group name to confirm: ").strip() == site_plan.resource_group

    try:
        if args.action == "plan":
            deploy.describe(site_plan, clients)
        elif args.action == "deploy":
            deploy.deploy(site_plan, clients)
            print(
                f"site {site.name} deployed; the client starts when cloud-init finishes (a few minutes; longer the first time the GPU driver installs)"
            )
        else:
            deploy.destroy(site_plan, clients, confirm)
    except deploy.AzureDeployError as error:
        return fail(str(error))
    except AzureError as error:
        return fail(f"an Azure request failed: {str(error).splitlines()[0]}")
    return 0
