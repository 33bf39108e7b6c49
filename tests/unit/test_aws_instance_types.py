"""Choosing an AWS site's instance type: EC2's catalogue (moto's EC2 has real GPU data), or
the built-in table offline."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from flarectl.sites.aws.instance_types import BUILTIN, NoInstanceType, choose, choose_instance_type, from_ec2

ACCOUNT = "123456789012"


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def catalogue_choice(ec2, gpus: int, memory: float, arch: str = "x86_64") -> str:
    return choose(from_ec2(ec2, "us-east-1", arch), gpus=gpus, gpu_memory_gib=memory, arch=arch, source="EC2", by_price=False).instance_type


def test_catalogue_one_16_gib_gpu_is_the_smallest_t4(ec2) -> None:
    assert catalogue_choice(ec2, 1, 16) == "g4dn.xlarge"


def test_catalogue_respects_exact_gpu_count_and_memory_threshold(ec2) -> None:
    four = catalogue_choice(ec2, 4, 24)
    types = {t.name: t for t in from_ec2(ec2, "us-east-1", "x86_64")}
    assert types[four].gpus == 4 and types[four].gpu_memory_gib >= 24 * 0.9
    assert types[catalogue_choice(ec2, 1, 40)].gpu_memory_gib >= 36
    assert types[catalogue_choice(ec2, 8, 80)].gpus == 8


def test_catalogue_arm64(ec2) -> None:
    assert catalogue_choice(ec2, 1, 16, "arm64").startswith("g5g.")


def test_catalogue_only_offers_types_offered_in_the_region(ec2) -> None:
    names = {t.name for t in from_ec2(ec2, "us-east-1", "x86_64")}
    offered = set()
    for page in ec2.get_paginator("describe_instance_type_offerings").paginate(LocationType="region"):
        offered.update(o["InstanceType"] for o in page["InstanceTypeOfferings"])
    assert names and names <= offered


def test_no_match_names_the_nearest_types(ec2) -> None:
    with pytest.raises(NoInstanceType) as caught:
        catalogue_choice(ec2, 3, 16)
    message = str(caught.value)
    assert "exactly 3 GPU(s) with 16 GiB each" in message and "nearest:" in message
    assert "Set instance_type explicitly" in message


def test_with_credentials_for_the_account_ec2_answers(ec2) -> None:
    choice = choose_instance_type(gpus=1, gpu_memory_gib=16, arch="x86_64", account=ACCOUNT, region="us-east-1")
    assert choice.instance_type == "g4dn.xlarge"
    assert "EC2's catalogue for us-east-1" in choice.reason


def test_offline_the_built_in_table_answers_by_price() -> None:
    choice = choose_instance_type(gpus=1, gpu_memory_gib=16, arch="x86_64", account=None, region=None)
    assert choice.instance_type == "g4dn.xlarge"
    assert "cheapest of" in choice.reason and "built-in table" in choice.reason and "$0.526/h" in choice.reason
    assert choose_instance_type(gpus=1, gpu_memory_gib=40, arch="x86_64", account=None, region=None).instance_type == "g6e.xlarge"
    assert choose_instance_type(gpus=8, gpu_memory_gib=80, arch="x86_64", account=None, region=None).instance_type == "p5.48xlarge"


def test_built_in_table_is_consistent() -> None:
    assert len({t.name for t in BUILTIN}) == len(BUILTIN)
    assert all(t.usd_per_hour and t.gpus >= 1 and t.gpu_memory_gib > 0 for t in BUILTIN)
