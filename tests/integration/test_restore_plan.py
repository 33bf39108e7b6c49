"""`flarectl hub restore-plan` against the emulator: a deleted hub stack's outputs (which
CloudFormation keeps for 90 days) and the resources `cdk destroy` kept become the lines that
make the rebuilt hub adopt them; what is gone becomes a note that says what to do."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import yaml

from flarectl.cli import main as flarectl
from flarectl.federation import Federation
from tests.harness.local import emulator_client
from tests.harness.synth_fixtures import synth_hub


@pytest.fixture
def kept(aws_emulator: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `cdk destroy` of a hub leaves: the resources, and the deleted stack naming them."""
    for name, value in aws_emulator.items():
        monkeypatch.setenv(name, value)
    ec2, s3 = emulator_client(aws_emulator, "ec2"), emulator_client(aws_emulator, "s3")
    suffix = uuid.uuid4().hex[:8]  # a fresh set per test in the shared emulator
    kept = {
        "DataVolumeId": ec2.create_volume(AvailabilityZone="us-east-1a", Size=20)["VolumeId"],
        "AdminSecretName": f"restorefl{suffix}/dashboard-admin",
        "KitBucket": f"restorefl{suffix}-kits",
        "ElasticIp": ec2.allocate_address(Domain="vpc")["PublicIp"],
        "stack": f"RestoreHub{suffix}",
    }
    emulator_client(aws_emulator, "secretsmanager").create_secret(Name=kept["AdminSecretName"], SecretString="{}")
    s3.create_bucket(Bucket=kept["KitBucket"])
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in kept.items() if key != "stack"},
    }
    cloudformation = emulator_client(aws_emulator, "cloudformation")
    cloudformation.create_stack(StackName=kept["stack"], TemplateBody=json.dumps(template))
    cloudformation.delete_stack(StackName=kept["stack"])
    return kept


def restore_plan(stack: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    code = flarectl(["hub", "restore-plan", "--stack", stack, "--region", "us-east-1"])
    out, err = capsys.readouterr()
    return code, (yaml.safe_load(out) or {}), err


def test_everything_kept_is_adopted_and_the_rebuilt_template_uses_it(kept: dict[str, Any], aws_emulator, capsys) -> None:
    code, block, notes = restore_plan(kept["stack"], capsys)
    allocation = emulator_client(aws_emulator, "ec2").describe_addresses(PublicIps=[kept["ElasticIp"]])["Addresses"][0]["AllocationId"]
    assert (code, notes) == (
        0,
        f"flarectl: data volume {kept['DataVolumeId']} is in us-east-1a: the rebuilt hub's subnet must be there "
        "(with vpc: vpc-..., set network.subnet_ids to a subnet in that zone)\n",
    )
    assert block == {
        "hub": {
            "data_volume_id": kept["DataVolumeId"],
            "admin_secret": "existing",
            "kit_bucket": kept["KitBucket"],
            "elastic_ip": {"allocation_id": allocation, "address": kept["ElasticIp"]},
        }
    }
    # Pasted into a federation file, it validates and the rebuilt hub creates none of the four.
    federation = Federation.model_validate({"project": "restorefl", "project_admin_email": "it@flare.test", **block})
    template = synth_hub(federation)
    for kind in ("AWS::EC2::Volume", "AWS::SecretsManager::Secret"):
        template.resource_count_is(kind, 0)
    assert [b for b in template.find_resources("AWS::S3::Bucket").values() if "KMSMasterKeyID" in json.dumps(b)] == []
    template.has_output("KitBucket", {"Value": kept["KitBucket"]})
    template.has_output("DataVolumeId", {"Value": kept["DataVolumeId"]})


def test_what_is_gone_is_left_out_with_what_to_do(kept: dict[str, Any], aws_emulator, capsys) -> None:
    ec2 = emulator_client(aws_emulator, "ec2")
    ec2.delete_volume(VolumeId=kept["DataVolumeId"])
    allocation = ec2.describe_addresses(PublicIps=[kept["ElasticIp"]])["Addresses"][0]["AllocationId"]
    ec2.release_address(AllocationId=allocation)
    code, block, notes = restore_plan(kept["stack"], capsys)
    assert code == 1
    assert block == {"hub": {"admin_secret": "existing", "kit_bucket": kept["KitBucket"]}}
    assert notes.splitlines() == [
        f"flarectl: data volume {kept['DataVolumeId']} no longer exists: restore a recovery point of the old backup vault to a new "
        "volume in the hub subnet's AZ (AWS Backup console), then set hub.data_volume_id to it",
        f"flarectl: Elastic IP {kept['ElasticIp']} was released: startup kits that name the server by this address must be made again",
    ]


def test_a_volume_still_attached_is_not_adopted(kept: dict[str, Any], aws_emulator, capsys) -> None:
    ec2 = emulator_client(aws_emulator, "ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, Placement={"AvailabilityZone": "us-east-1a"})["Instances"][0]
    ec2.attach_volume(VolumeId=kept["DataVolumeId"], InstanceId=instance["InstanceId"], Device="/dev/sdf")
    code, block, notes = restore_plan(kept["stack"], capsys)
    assert code == 1 and "data_volume_id" not in block["hub"]
    assert f"data volume {kept['DataVolumeId']} is in-use ({instance['InstanceId']}): stop that instance first" in notes


def test_no_such_stack(aws_emulator: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    for name, value in aws_emulator.items():
        monkeypatch.setenv(name, value)
    code, block, notes = restore_plan("NoSuchHub", capsys)
    assert (code, block) == (2, {})
    assert notes == "flarectl: no stack NoSuchHub in this account and region, live or deleted in the last 90 days (check --region)\n"
