"""Decides which VPC `network.vpc: auto` means, before any construct is built.

The guide's users hit `VPCIdNotSpecified` in accounts without a default VPC. `auto` uses
the region's default VPC when synth can see it, and otherwise creates a small VPC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flarectl.config.hub import AwsTarget, Network


@dataclass(frozen=True)
class VpcChoice:
    kind: Literal["default", "new", "existing"]
    reason: str
    vpc_id: str | None = None


def find_default_vpc(account: str, region: str) -> tuple[str | None, str]:
    """(default VPC id or None, why) for the account/region, using the caller's AWS credentials."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.session.Session(region_name=region)
        quick = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1})
        caller = session.client("sts", config=quick).get_caller_identity()["Account"]
        if caller != account:
            return None, f"the AWS credentials belong to account {caller}, not aws.account {account}"
        vpcs = session.client("ec2", config=quick).describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    except (BotoCoreError, ClientError) as error:
        return None, f"could not check for a default VPC ({error.__class__.__name__})"
    if not vpcs:
        return None, f"account {account} has no default VPC in {region}"
    return vpcs[0]["VpcId"], f"{vpcs[0]['VpcId']} is the default VPC of account {account} in {region}"


def choose_vpc(network: Network, aws: AwsTarget) -> VpcChoice:
    """For the hub (federation.network/aws) or a site (its own network, its aws or the federation's)."""
    if network.vpc == "new":
        return VpcChoice("new", "network.vpc is 'new'")
    if network.vpc != "auto":
        return VpcChoice("existing", f"network.vpc names {network.vpc}", network.vpc)
    if aws.account is None or aws.region is None:
        return VpcChoice("new", "offline synth (aws.account/aws.region unset), so no default VPC can be looked up")
    vpc_id, why = find_default_vpc(aws.account, aws.region)
    if vpc_id is None:
        return VpcChoice("new", why)
    return VpcChoice("default", why, vpc_id)


def credentialed_difference(network: Network, aws: AwsTarget, choice: VpcChoice) -> str:
    """What a synth with working credentials for aws.account could decide differently, or ""."""
    if network.vpc != "auto" or choice.kind != "new" or aws.account is None or aws.region is None or "has no default VPC" in choice.reason:
        return ""
    return (
        f"with credentials for account {aws.account}, synth looks up its default VPC in {aws.region} and uses it if there is "
        "one, instead of a new VPC"
    )
