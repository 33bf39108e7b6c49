"""`network.vpc: auto`: the default VPC when synth can see one, otherwise a new VPC."""

from __future__ import annotations

import boto3
import pytest
from aws_cdk.assertions import Template
from moto import mock_aws

from flarectl.federation import Federation
from flarectl.vpc_choice import VpcChoice, choose_vpc
from tests.harness.synth_fixtures import ACCOUNT, REGION, federation, synth_hub, vpc_context


def hub_vpc(fed: Federation) -> VpcChoice:
    return choose_vpc(fed.network, fed.aws)


@pytest.fixture
def aws_account(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def test_offline_synth_creates_a_vpc() -> None:
    choice = hub_vpc(federation())
    assert choice.kind == "new"
    assert "offline" in choice.reason


def test_explicit_choices_are_taken_as_written() -> None:
    assert hub_vpc(federation(network={"vpc": "new"})).kind == "new"
    existing = hub_vpc(federation(aws={"account": ACCOUNT, "region": REGION}, network={"vpc": "vpc-0abc12345def67890"}))
    assert (existing.kind, existing.vpc_id) == ("existing", "vpc-0abc12345def67890")


def test_auto_uses_the_default_vpc_when_the_account_has_one(aws_account) -> None:
    default_vpc = aws_account.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    choice = hub_vpc(federation(aws={"account": ACCOUNT, "region": REGION}))
    assert (choice.kind, choice.vpc_id) == ("default", default_vpc)
    assert "default VPC" in choice.reason


def test_auto_creates_a_vpc_when_the_default_was_deleted(aws_account) -> None:
    """The guide's VPCIdNotSpecified case: an account without a default VPC."""
    for vpc in aws_account.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]:
        for subnet in aws_account.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]:
            aws_account.delete_subnet(SubnetId=subnet["SubnetId"])
        aws_account.delete_vpc(VpcId=vpc["VpcId"])
    choice = hub_vpc(federation(aws={"account": ACCOUNT, "region": REGION}))
    assert choice.kind == "new"
    assert choice.reason == f"account {ACCOUNT} has no default VPC in {REGION}"


def test_auto_with_credentials_of_another_account_creates_a_vpc(aws_account) -> None:
    choice = hub_vpc(federation(aws={"account": "210987654321", "region": REGION}))
    assert choice.kind == "new"
    assert "not aws.account 210987654321" in choice.reason


def test_auto_without_credentials_creates_a_vpc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: like being offline
    choice = hub_vpc(federation(aws={"account": ACCOUNT, "region": REGION}))
    assert choice.kind == "new"
    assert "could not check" in choice.reason


def test_default_vpc_template_looks_the_vpc_up_instead_of_creating_one(aws_account) -> None:
    """By the id found live, so a stale cached 'default VPC' (the default VPC was deleted and
    made again) cannot put the template in a VPC other than the one synth names."""
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION)
    live = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [live]}])["Subnets"])[:2]
    stale = vpc_context("vpc-0feed1234abcd5678", "filter.isDefault=true")
    context = {**stale, **vpc_context(live, f"filter.vpc-id={live}", subnets)}
    template: Template = synth_hub(federation(aws={"account": ACCOUNT, "region": REGION}), context)
    template.resource_count_is("AWS::EC2::VPC", 0)
    template.has_resource_properties("AWS::EC2::SecurityGroup", {"VpcId": live})
    template.has_resource_properties("AWS::EC2::Instance", {"SubnetId": subnets[0]})


def test_a_cached_lookup_whose_subnets_are_gone_is_refused_with_the_reset_command(aws_account) -> None:
    """The VPC's subnets were made again after CDK cached the lookup: the template would name
    subnets that do not exist (InvalidSubnetID.NotFound at deploy)."""
    import boto3

    from flarectl.config.errors import ConfigError

    live = boto3.client("ec2", region_name=REGION).describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    cached = vpc_context(live, f"filter.vpc-id={live}")  # subnet-0aaa1111bbbb2222c, subnet-0ddd3333eeee4444f: not moto's
    with pytest.raises(ConfigError) as refused:
        synth_hub(federation(aws={"account": ACCOUNT, "region": REGION}), cached)
    (key,) = cached
    assert refused.value.problems == [
        f"network.vpc: cdk.context.json holds an earlier lookup of {live} whose subnets subnet-0aaa1111bbbb2222c, subnet-0ddd3333eeee4444f "
        f"no longer exist; refresh it with: cdk context --reset '{key}' (or delete cdk.context.json), then synth again"
    ]
