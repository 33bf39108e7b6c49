"""Choosing an AWS site's instance type: EC2's catalogue (moto's EC2 has real GPU data), or
the built-in table offline."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from flarectl.gpu_models import GPU_MODELS
from flarectl.sites.aws.instance_types import BUILTIN, NoInstanceType, choose, choose_instance_type, from_ec2, table_entry

ACCOUNT = "123456789012"


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def catalogue_choice(ec2, gpus: int, memory: float, arch: str = "x86_64") -> str:
    return choose(from_ec2(ec2, "us-east-1", arch), gpus=gpus, gpu_memory_gib=memory, arch=arch, source="EC2", by_price=False).instance_type


def test_catalogue_one_15_gib_gpu_is_the_smallest_t4_and_16_is_not_a_t4(ec2) -> None:
    """EC2 reports a T4's marketed 16 GiB; nvidia-smi (and so NVFlare) 15360 MiB."""
    assert catalogue_choice(ec2, 1, 15) == "g4dn.xlarge"
    types = {t.name: t for t in from_ec2(ec2, "us-east-1", "x86_64")}
    assert types[catalogue_choice(ec2, 1, 16)].gpu_model != "T4"


def test_catalogue_respects_exact_gpu_count_and_reported_memory(ec2) -> None:
    types = {t.name: t for t in from_ec2(ec2, "us-east-1", "x86_64")}
    four = catalogue_choice(ec2, 4, 22.4)
    assert types[four].gpus == 4 and types[four].gpu_memory_gib >= 22.4
    assert types[catalogue_choice(ec2, 4, 24)].gpu_model not in ("A10G", "L4")  # "24 GB" GPUs report 22.49 GiB
    assert types[catalogue_choice(ec2, 1, 40)].gpu_memory_gib >= 40
    assert types[catalogue_choice(ec2, 8, 79.6)].gpus == 8


def test_catalogue_arm64(ec2) -> None:
    assert catalogue_choice(ec2, 1, 15, "arm64").startswith("g5g.")


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
    choice = choose_instance_type(gpus=1, gpu_memory_gib=15, arch="x86_64", account=ACCOUNT, region="us-east-1")
    assert choice.instance_type == "g4dn.xlarge"
    assert "EC2's catalogue for us-east-1" in choice.reason


def test_offline_the_built_in_table_answers_by_price() -> None:
    choice = choose_instance_type(gpus=1, gpu_memory_gib=15, arch="x86_64", account=None, region=None)
    assert choice.instance_type == "g4dn.xlarge"
    assert "cheapest of" in choice.reason and "built-in table" in choice.reason and "$0.526/h" in choice.reason
    assert choose_instance_type(gpus=1, gpu_memory_gib=16, arch="x86_64", account=None, region=None).instance_type == "g6.xlarge"
    assert choose_instance_type(gpus=1, gpu_memory_gib=40, arch="x86_64", account=None, region=None).instance_type == "g6e.xlarge"
    assert choose_instance_type(gpus=8, gpu_memory_gib=79.6, arch="x86_64", account=None, region=None).instance_type == "p5.48xlarge"
    with pytest.raises(NoInstanceType):  # an H100 reports 79.65 GiB: "80 GB" fits none of the priced types
        choose_instance_type(gpus=8, gpu_memory_gib=80, arch="x86_64", account=None, region=None)


@pytest.mark.parametrize("candidate", BUILTIN, ids=lambda t: t.name)
def test_the_chooser_never_gives_a_type_nvflare_would_refuse(candidate) -> None:
    """For each priced type: its model's registrable figure chooses that model; a registration
    one MiB above what nvidia-smi reports never does (NVFlare would refuse it)."""
    model = GPU_MODELS[candidate.gpu_model]
    fits = choose(list(BUILTIN), gpus=candidate.gpus, gpu_memory_gib=model.register_gib, arch=candidate.arch, source="t", by_price=True)
    assert GPU_MODELS[table_entry(fits.instance_type).gpu_model].memory_mib >= model.register_gib * 1024
    above = (model.memory_mib + 1) / 1024
    try:
        chosen = choose(list(BUILTIN), gpus=candidate.gpus, gpu_memory_gib=above, arch=candidate.arch, source="t", by_price=True)
    except NoInstanceType:
        return
    assert GPU_MODELS[table_entry(chosen.instance_type).gpu_model].memory_mib > model.memory_mib


def test_built_in_table_is_consistent() -> None:
    assert len({t.name for t in BUILTIN}) == len(BUILTIN)
    assert all(t.usd_per_hour and t.gpus >= 1 and t.gpu_memory_gib > 0 for t in BUILTIN)
