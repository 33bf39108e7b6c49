#!/usr/bin/env python3
"""CDK entry point: load the federation config, build the hub stack and every site through
its kind (flarectl/sites/registry.py), check them with cdk-nag.

`cdk synth -c config=PATH` synthesizes that federation file and remembers it for the next
command that names none (flarectl/config/choice.py); with nothing named or remembered, the
embedded default is synthesized for review, and its stacks refuse to deploy.
"""

import shutil
import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks

from flare_constructs.review_only import ReviewOnly
from flarectl.config import DEFAULT_FEDERATION
from flarectl.config.capacity import describe as capacity_lines
from flarectl.config.choice import chosen, remember
from flarectl.config.errors import ConfigError
from flarectl.federation import Federation, load_federation
from flarectl.governance import review
from flarectl.lead_kit import write_lead_kit
from flarectl.picture import render_svg
from flarectl.sites.registry import KINDS
from flarectl.summary import CAPACITY_FILE, DECISIONS_FILE, GOVERNANCE_FILE
from flarectl.vpc_choice import choose_vpc, credentialed_difference
from stacks.environment import cdk_environment
from stacks.server_stack import FlareServerStack


def preflight(app: cdk.App, federation: Federation) -> None:
    """Problems that need a lookup, for the hub and every site, before anything is written."""
    problems = hub_preflight(federation)
    for index, site in enumerate(federation.sites):
        problems += [f"sites[{index}].{problem}" for problem in KINDS[site.kind].run_preflight(app, site, federation)]
    if problems:
        raise ConfigError(problems)


def hub_preflight(federation: Federation) -> list[str]:
    """With credentials for the hub's account: an adopted Elastic IP is the address it says."""
    elastic_ip, aws = federation.hub.elastic_ip, federation.aws
    if elastic_ip is None or aws.account is None or aws.region is None:
        return []
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from flarectl.restore_plan import elastic_ip_problem

    try:
        session = boto3.session.Session(region_name=aws.region)
        if session.client("sts").get_caller_identity()["Account"] != aws.account:
            return []
        problem = elastic_ip_problem(session.client("ec2"), elastic_ip.allocation_id, elastic_ip.address)
    except (BotoCoreError, ClientError):
        return []  # no credentials: checked at deploy by EC2 itself (the association fails)
    return [problem] if problem else []


def prune_site_outputs(outdir: Path, federation: Federation) -> None:
    """Files of sites no longer in the federation (an earlier synth's) would be reviewed or
    copied by mistake: remove them."""
    names = {site.name for site in federation.sites}
    for folder in ("sites", "site-bundles"):
        for path in (outdir / folder).glob("*"):
            if path.is_dir() and path.name not in names:
                shutil.rmtree(path)
                print(f"{folder}/{path.name}: removed (no such site in the federation file any more)", file=sys.stderr)


def build_app(federation: Federation, *, app: cdk.App | None = None, review_only: bool = False) -> cdk.App:
    """review_only: the embedded default's stacks, which refuse to deploy."""
    app = app or cdk.App()
    preflight(app, federation)
    hub_vpc = choose_vpc(federation.network, federation.aws)
    hub_environment, note = cdk_environment(app, federation.aws, hub_vpc, field="network.vpc")
    prune_site_outputs(Path(app.outdir), federation)
    notes = [note, credentialed_difference(federation.network, federation.aws, hub_vpc)]
    decisions = [f"FlareServerStack: {hub_vpc.kind} VPC, because {hub_vpc.reason}" + "".join(f"; {n}" for n in notes if n)]
    FlareServerStack(
        app,
        "FlareServerStack",
        federation=federation,
        vpc_choice=hub_vpc,
        env=hub_environment,
        description=f"NVFlare hub (dashboard + FL server) for project {federation.project}",
        analytics_reporting=False,
        termination_protection=True,  # the instances are replaceable; the stack is what must not vanish by mistake
    )
    decisions += [KINDS[site.kind].run_synth(app, site, federation) for site in federation.sites]
    print("\n".join(decisions), file=sys.stderr)
    # What synth decided and why (and what credentials would change): `flarectl summary` repeats it.
    (Path(app.outdir) / DECISIONS_FILE).write_text("\n".join(decisions) + "\n", encoding="utf-8")
    stances = "".join(f"{name}: {stance}\n" for name, stance in review(federation).items())
    (Path(app.outdir) / GOVERNANCE_FILE).write_text(stances, encoding="utf-8")
    sizing = capacity_lines(federation.capacity, instance_type=federation.hub.instance_type,
                            data_volume_gib=federation.hub.data_volume_gib, listed_sites=len(federation.sites))  # fmt: skip
    (Path(app.outdir) / CAPACITY_FILE).write_text("".join(f"{line}\n" for line in sizing), encoding="utf-8")
    if review_only:
        for stack in (child for child in app.node.children if isinstance(child, cdk.Stack)):
            ReviewOnly(stack, "ReviewOnly", default_file=DEFAULT_FEDERATION.name)
    (Path(app.outdir) / "federation.svg").write_text(render_svg(federation), encoding="utf-8")
    write_lead_kit(federation, Path(app.outdir) / "lead", Path(__file__).parent / "examples")
    validations = cdk.Validations.of(app)
    validations.add_plugins(AwsSolutionsChecks(app))
    validations.add_plugins(HIPAASecurityChecks(app))
    validations.add_plugins(NIST80053R5Checks(app))
    return app


def main() -> int:
    app = cdk.App()
    choice = chosen(app.node.try_get_context("config"))
    config_path = choice.path
    if choice.why != "named on the command line":
        print(f"Federation file: {config_path} ({choice.why})", file=sys.stderr)
    try:
        federation = load_federation(config_path)
        build_app(federation, app=app, review_only=choice.embedded_default)
        remember(config_path)
    except ConfigError as error:
        for problem in error.problems:
            print(problem if problem.startswith(config_path.name) else f"{config_path.name}: {problem}", file=sys.stderr)
        print("Nothing was synthesized. Fix the federation file and run again.", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
