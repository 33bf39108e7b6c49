"""The CDK environment of a stack. Explicit when the federation names an account and region
and this machine can look things up there (credentials, or CDK's cache of an earlier lookup in
cdk.context.json); otherwise environment-agnostic, saying so, so that synth works offline for
every valid federation file."""

import aws_cdk as cdk

from flarectl.config.errors import ConfigError
from flarectl.config.hub import AwsTarget
from flarectl.vpc_choice import VpcChoice


def has_credentials() -> bool:
    import boto3

    return boto3.session.Session().get_credentials() is not None


def cached_vpc_lookup(app: cdk.App, aws: AwsTarget, vpc_id: str) -> bool:
    prefix = f"vpc-provider:account={aws.account}:"
    return any(
        key.startswith(prefix) and f"filter.vpc-id={vpc_id}:" in key and f":region={aws.region}:" in key
        for key in app.node.get_all_context()
    )


def refuse_stale_lookup(app: cdk.App, aws: AwsTarget, vpc_id: str, *, field: str) -> None:
    """CDK reuses a VPC lookup cached in cdk.context.json forever. If subnets it cached are gone
    (the VPC's subnets were made again), the template would name them and the deploy fail with
    InvalidSubnetID.NotFound: refuse before writing anything, and say how to refresh it."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    context = app.node.get_all_context()
    keys = [k for k in context if k.startswith(f"vpc-provider:account={aws.account}:filter.vpc-id={vpc_id}:region={aws.region}:")]
    for key in keys:
        cached = {s["subnetId"] for group in context[key].get("subnetGroups", []) for s in group.get("subnets", [])}
        try:
            ec2 = boto3.client("ec2", region_name=aws.region, config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1}))
            live = {s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}
        except (BotoCoreError, ClientError):
            return  # cannot tell; CDK's own lookup will speak
        if cached - live:
            raise ConfigError(
                [
                    f"{field}: cdk.context.json holds an earlier lookup of {vpc_id} whose subnets {', '.join(sorted(cached - live))} "
                    f"no longer exist; refresh it with: cdk context --reset '{key}' (or delete cdk.context.json), then synth again"
                ]
            )


def cdk_environment(app: cdk.App, aws: AwsTarget, vpc: VpcChoice, *, field: str) -> tuple[cdk.Environment | None, str]:
    """The environment, and a note for the reader when it is not the one the file names.
    `field`: where the VPC is set in the federation file, for the message."""
    if aws.account is None:
        return None, ""
    environment = cdk.Environment(account=aws.account, region=aws.region)
    if has_credentials():
        if vpc.vpc_id:
            refuse_stale_lookup(app, aws, vpc.vpc_id, field=field)
        return environment, ""
    if vpc.kind == "existing" and vpc.vpc_id:
        if cached_vpc_lookup(app, aws, vpc.vpc_id):
            return environment, ""
        raise ConfigError(
            [
                f"{field}: {vpc.vpc_id} must be looked up in account {aws.account} ({aws.region}), and this machine has no AWS "
                "credentials: run synth once with credentials for that account (CDK caches the lookup in cdk.context.json), "
                "or use network.vpc: new"
            ]
        )
    return None, (
        f"no AWS credentials on this machine, so nothing in account {aws.account} was looked up: synthesized for any "
        "account and region (availability zones are resolved at deploy). Deploy with credentials for that account."
    )
