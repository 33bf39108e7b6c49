"""flarectl/restore_plan.py's rules, each with its boundary: which old stack is read, which kept
resource counts as free to adopt, and what the Project Admin is told otherwise. The AWS answers
come through botocore's Stubber, which checks every request and reply against the service's
own model (issue 34)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from flarectl import restore_plan
from flarectl.restore_plan import RestoreError

UTC = datetime.UTC
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/FlareServerStack/{}"


def client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


@contextmanager
def stubbed(service: str) -> Iterator[tuple[Any, Stubber]]:
    aws = client(service)
    with Stubber(aws) as stub:
        yield aws, stub
        stub.assert_no_pending_responses()


def stack(status: str, outputs: dict[str, str], suffix: str = "1") -> dict[str, Any]:
    return {"StackName": "FlareServerStack", "StackId": STACK_ID.format(suffix), "StackStatus": status,
            "CreationTime": datetime.datetime(2026, 1, 1, tzinfo=UTC),
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}  # fmt: skip


def summary(suffix: str, created: int, deleted: int | None) -> dict[str, Any]:
    entry = {"StackName": "FlareServerStack", "StackId": STACK_ID.format(suffix), "StackStatus": "DELETE_COMPLETE",
             "CreationTime": datetime.datetime(2026, created, 1, tzinfo=UTC)}  # fmt: skip
    if deleted:
        entry["DeletionTime"] = datetime.datetime(2026, deleted, 1, tzinfo=UTC)
    return entry


def test_the_live_stack_is_read_when_there_is_one() -> None:
    with stubbed("cloudformation") as (cloudformation, stub):
        stub.add_response("describe_stacks", {"Stacks": [stack("UPDATE_COMPLETE", {})]}, {"StackName": "FlareServerStack"})
        assert restore_plan.find_stack(cloudformation, "FlareServerStack")["StackStatus"] == "UPDATE_COMPLETE"


def test_of_the_deleted_stacks_of_that_name_the_most_recently_deleted_is_read() -> None:
    with stubbed("cloudformation") as (cloudformation, stub):
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id FlareServerStack does not exist")
        # Deleted in March (created in February) and in May (created in January): May's is the newest.
        other = {**summary("9", 1, 12), "StackName": "FlareServerStack-old"}
        stub.add_response("list_stacks", {"StackSummaries": [summary("2", 2, 3), summary("1", 1, 5), other]},
                          {"StackStatusFilter": ["DELETE_COMPLETE"]})  # fmt: skip
        stub.add_response("describe_stacks", {"Stacks": [stack("DELETE_COMPLETE", {}, "1")]}, {"StackName": STACK_ID.format("1")})
        assert restore_plan.find_stack(cloudformation, "FlareServerStack")["StackId"] == STACK_ID.format("1")


def test_a_deleted_stack_without_a_deletion_time_counts_by_its_creation() -> None:
    with stubbed("cloudformation") as (cloudformation, stub):
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id FlareServerStack does not exist")
        stub.add_response("list_stacks", {"StackSummaries": [summary("1", 1, None), summary("2", 3, None)]})
        stub.add_response("describe_stacks", {"Stacks": [stack("DELETE_COMPLETE", {}, "2")]}, {"StackName": STACK_ID.format("2")})
        assert restore_plan.find_stack(cloudformation, "FlareServerStack")["StackId"] == STACK_ID.format("2")


def test_no_stack_live_or_deleted_is_said_with_the_region_to_check() -> None:
    with stubbed("cloudformation") as (cloudformation, stub):
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id FlareServerStack does not exist")
        stub.add_response("list_stacks", {"StackSummaries": [{**summary("9", 1, 2), "StackName": "Other"}]})
        with pytest.raises(RestoreError) as error:
            restore_plan.find_stack(cloudformation, "FlareServerStack")
    assert str(error.value) == "no stack FlareServerStack in this account and region, live or deleted in the last 90 days (check --region)"


@pytest.mark.parametrize(
    ("reply", "adopted", "note"),
    [
        (None, False, "the old stack names no data volume (DataVolumeId output)"),
        ("gone", False, "data volume vol-0abc no longer exists: restore a recovery point of the old backup vault to a new volume in the hub "
                        "subnet's AZ (AWS Backup console), then set hub.data_volume_id to it"),
        ({"State": "in-use", "Attachments": [{"InstanceId": "i-0old"}]}, False,
         "data volume vol-0abc is in-use (i-0old): stop that instance first, or it cannot be adopted"),
        ({"State": "creating", "Attachments": []}, False, "data volume vol-0abc is creating (): stop that instance first, or it cannot be adopted"),
        ({"State": "in-use", "Attachments": [{"InstanceId": "i-0a"}, {"InstanceId": "i-0b"}]}, False,
         "data volume vol-0abc is in-use (i-0a, i-0b): stop that instance first, or it cannot be adopted"),
        ({"State": "deleting"}, False, "data volume vol-0abc is deleting (): stop that instance first, or it cannot be adopted"),
        ({"State": "available", "Attachments": []}, True, "data volume vol-0abc is in us-east-1b: the rebuilt hub's subnet must be there "
                                                          "(with vpc: vpc-..., set network.subnet_ids to a subnet in that zone)"),
    ],
)  # fmt: skip
def test_only_an_available_volume_is_adopted(reply: Any, adopted: bool, note: str) -> None:
    hub: dict[str, Any] = {}
    with stubbed("ec2") as (ec2, stub):
        if reply == "gone":
            stub.add_client_error("describe_volumes", "InvalidVolume.NotFound", "The volume 'vol-0abc' does not exist.")
        elif reply:
            volume = {"VolumeId": "vol-0abc", "AvailabilityZone": "us-east-1b", "Size": 50, **reply}
            stub.add_response("describe_volumes", {"Volumes": [volume]}, {"VolumeIds": ["vol-0abc"]})
        assert restore_plan._volume(ec2, "vol-0abc" if reply else None, hub) == note
    assert hub == ({"data_volume_id": "vol-0abc"} if adopted else {})


@pytest.mark.parametrize(
    ("reply", "adopted", "note"),
    [
        (None, False, "the old stack names no admin secret (AdminSecretName output)"),
        ("gone", False, "secret p/dashboard-admin no longer exists: the rebuilt hub makes a new one"),
        ({"DeletedDate": datetime.datetime(2026, 3, 1, tzinfo=UTC)}, False,
         "secret p/dashboard-admin is scheduled for deletion: aws secretsmanager restore-secret --secret-id p/dashboard-admin, then run this again"),
        ({}, True, None),
    ],
)  # fmt: skip
def test_only_a_secret_not_scheduled_for_deletion_is_adopted(reply: Any, adopted: bool, note: str | None) -> None:
    hub: dict[str, Any] = {}
    with stubbed("secretsmanager") as (secrets, stub):
        if reply == "gone":
            stub.add_client_error("describe_secret", "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        elif reply is not None:
            stub.add_response("describe_secret", {"Name": "p/dashboard-admin", **reply}, {"SecretId": "p/dashboard-admin"})
        assert restore_plan._secret(secrets, "p/dashboard-admin" if reply is not None else None, hub) == note
    assert hub == ({"admin_secret": "existing"} if adopted else {})


@pytest.mark.parametrize(
    ("reply", "adopted", "note"),
    [
        (None, False, "the old stack names no kit store (KitBucket output)"),
        ("gone", False, "kit store p-kits no longer exists: the rebuilt hub makes a new one; publish the server kit again"),
        ({}, True, None),
    ],
)
def test_a_kit_store_that_still_exists_is_adopted(reply: Any, adopted: bool, note: str | None) -> None:
    hub: dict[str, Any] = {}
    with stubbed("s3") as (s3, stub):
        if reply == "gone":
            stub.add_client_error("head_bucket", "404", "Not Found")
        elif reply is not None:
            stub.add_response("head_bucket", {}, {"Bucket": "p-kits"})
        assert restore_plan._bucket(s3, "p-kits" if reply is not None else None, hub) == note
    assert hub == ({"kit_bucket": "p-kits"} if adopted else {})


@pytest.mark.parametrize(
    ("reply", "adopted", "note"),
    [
        (None, False, "the old stack names no Elastic IP (ElasticIp output)"),
        ("error", False, "Elastic IP 198.51.100.7 was released: startup kits that name the server by this address must be made again"),
        ([], False, "Elastic IP 198.51.100.7 was released: startup kits that name the server by this address must be made again"),
        ([{"InstanceId": "i-0old", "AssociationId": "eipassoc-1"}], False,
         "Elastic IP 198.51.100.7 is still associated (i-0old): disassociate it first"),
        ([{"InstanceId": "i-0old"}], False, "Elastic IP 198.51.100.7 is still associated (i-0old): disassociate it first"),
        ([{"AssociationId": "eipassoc-1"}], False,
         "Elastic IP 198.51.100.7 is still associated (a network interface): disassociate it first"),
        ([{}], True, None),
    ],
)  # fmt: skip
def test_only_an_unassociated_elastic_ip_is_adopted(reply: Any, adopted: bool, note: str | None) -> None:
    hub: dict[str, Any] = {}
    with stubbed("ec2") as (ec2, stub):
        if reply == "error":
            stub.add_client_error("describe_addresses", "InvalidAddress.NotFound", "Address '198.51.100.7' not found.")
        elif reply is not None:
            found = [{"PublicIp": "198.51.100.7", "AllocationId": "eipalloc-1", "Domain": "vpc", **entry} for entry in reply]
            stub.add_response("describe_addresses", {"Addresses": found}, {"PublicIps": ["198.51.100.7"]})
        assert restore_plan._address(ec2, "198.51.100.7" if reply is not None else None, hub) == note
    assert hub == ({"elastic_ip": {"allocation_id": "eipalloc-1", "address": "198.51.100.7"}} if adopted else {})


@pytest.mark.parametrize(
    ("found", "problem"),
    [
        ("error", "hub.elastic_ip.allocation_id: eipalloc-1 is not an Elastic IP of this account and region"),
        ([], "hub.elastic_ip.allocation_id: eipalloc-1 is not an Elastic IP of this account and region"),
        (["203.0.113.9"], "hub.elastic_ip.address: 198.51.100.7 is not the address of eipalloc-1 (203.0.113.9); DNS and kits would point at "
                          "the wrong host: set address: 203.0.113.9"),
        (["198.51.100.7"], None),
    ],
)  # fmt: skip
def test_an_adopted_elastic_ip_must_be_the_allocations_address(found: Any, problem: str | None) -> None:
    with stubbed("ec2") as (ec2, stub):
        if found == "error":
            stub.add_client_error("describe_addresses", "InvalidAllocationID.NotFound", "The allocation ID 'eipalloc-1' does not exist")
        else:
            addresses = [{"PublicIp": ip, "AllocationId": "eipalloc-1", "Domain": "vpc"} for ip in found]
            stub.add_response("describe_addresses", {"Addresses": addresses}, {"AllocationIds": ["eipalloc-1"]})
        assert restore_plan.elastic_ip_problem(ec2, "eipalloc-1", "198.51.100.7") == problem


class Session:
    """What plan() asks of a boto3 session: one client per service (the stubbed ones)."""

    def __init__(self, clients: dict[str, Any]):
        self.clients = clients

    def client(self, service: str) -> Any:
        return self.clients[service]


def test_a_still_existing_stack_and_an_adopted_volume_without_its_secret_each_get_a_note() -> None:
    outputs = {"DataVolumeId": "vol-0abc", "AdminSecretName": "p/dashboard-admin", "KitBucket": "p-kits", "ElasticIp": "198.51.100.7"}
    cloudformation, ec2, secrets, s3 = client("cloudformation"), client("ec2"), client("secretsmanager"), client("s3")
    with Stubber(cloudformation) as cf_stub, Stubber(ec2) as ec2_stub, Stubber(secrets) as secret_stub, Stubber(s3) as s3_stub:
        cf_stub.add_response("describe_stacks", {"Stacks": [stack("UPDATE_COMPLETE", outputs)]})
        ec2_stub.add_response(
            "describe_volumes", {"Volumes": [{"VolumeId": "vol-0abc", "AvailabilityZone": "us-east-1b", "State": "available"}]}
        )
        secret_stub.add_client_error("describe_secret", "ResourceNotFoundException", "not found")
        s3_stub.add_response("head_bucket", {})
        ec2_stub.add_response("describe_addresses", {"Addresses": [{"PublicIp": "198.51.100.7", "AllocationId": "eipalloc-1"}]})
        block, notes = restore_plan.plan(Session({"cloudformation": cloudformation, "ec2": ec2, "secretsmanager": secrets, "s3": s3}),
                                         "FlareServerStack")  # fmt: skip
    assert block == {"hub": {"data_volume_id": "vol-0abc", "kit_bucket": "p-kits",
                             "elastic_ip": {"allocation_id": "eipalloc-1", "address": "198.51.100.7"}}}  # fmt: skip
    assert notes == [
        "FlareServerStack still exists (UPDATE_COMPLETE): these are its resources, which cdk destroy keeps",
        "data volume vol-0abc is in us-east-1b: the rebuilt hub's subnet must be there (with vpc: vpc-..., set network.subnet_ids to a subnet in that zone)",
        "secret p/dashboard-admin no longer exists: the rebuilt hub makes a new one",
        "the data volume's dashboard database was seeded from the admin secret, which is gone: the old admin login still works on the "
        "dashboard; set admin_secret: existing after creating the secret again by hand",
    ]


def test_a_deleted_stack_with_everything_kept_adopts_all_four_without_notes_but_the_zone() -> None:
    outputs = {"DataVolumeId": "vol-0abc", "AdminSecretName": "p/dashboard-admin", "KitBucket": "p-kits", "ElasticIp": "198.51.100.7"}
    cloudformation, ec2, secrets, s3 = client("cloudformation"), client("ec2"), client("secretsmanager"), client("s3")
    with Stubber(cloudformation) as cf_stub, Stubber(ec2) as ec2_stub, Stubber(secrets) as secret_stub, Stubber(s3) as s3_stub:
        cf_stub.add_response("describe_stacks", {"Stacks": [stack("DELETE_COMPLETE", outputs)]})
        ec2_stub.add_response(
            "describe_volumes", {"Volumes": [{"VolumeId": "vol-0abc", "AvailabilityZone": "us-east-1c", "State": "available"}]}
        )
        secret_stub.add_response("describe_secret", {"Name": "p/dashboard-admin"})
        s3_stub.add_response("head_bucket", {})
        ec2_stub.add_response("describe_addresses", {"Addresses": [{"PublicIp": "198.51.100.7", "AllocationId": "eipalloc-1"}]})
        block, notes = restore_plan.plan(Session({"cloudformation": cloudformation, "ec2": ec2, "secretsmanager": secrets, "s3": s3}),
                                         "FlareServerStack")  # fmt: skip
    assert block == {"hub": {"data_volume_id": "vol-0abc", "admin_secret": "existing", "kit_bucket": "p-kits",
                             "elastic_ip": {"allocation_id": "eipalloc-1", "address": "198.51.100.7"}}}  # fmt: skip
    assert notes == ["data volume vol-0abc is in us-east-1c: the rebuilt hub's subnet must be there "
                     "(with vpc: vpc-..., set network.subnet_ids to a subnet in that zone)"]  # fmt: skip


def test_a_stack_without_outputs_names_nothing_to_adopt() -> None:
    with stubbed("cloudformation") as (cloudformation, stub):
        without = {key: value for key, value in stack("DELETE_COMPLETE", {}).items() if key != "Outputs"}
        stub.add_response("describe_stacks", {"Stacks": [without]})
        block, notes = restore_plan.plan(Session({"cloudformation": cloudformation, "ec2": client("ec2"), "secretsmanager": client("secretsmanager"),
                                                  "s3": client("s3")}), "FlareServerStack")  # fmt: skip
    assert block == {"hub": {}}
    assert notes == [
        "the old stack names no data volume (DataVolumeId output)",
        "the old stack names no admin secret (AdminSecretName output)",
        "the old stack names no kit store (KitBucket output)",
        "the old stack names no Elastic IP (ElasticIp output)",
    ]


def test_an_aws_failure_while_reading_is_one_restore_error() -> None:
    with stubbed("cloudformation") as (cloudformation, stub):
        stub.add_client_error("describe_stacks", "ValidationError", "no such stack")
        stub.add_client_error("list_stacks", "AccessDenied", "User is not authorized to perform: cloudformation:ListStacks")
        with pytest.raises(RestoreError) as error:
            restore_plan.plan(Session({"cloudformation": cloudformation}), "FlareServerStack")
    assert str(error.value).startswith("cannot read the old hub's resources (An error occurred (AccessDenied) when calling the ListStacks")


def test_the_plan_merges_into_the_hub_section_and_keeps_the_rest() -> None:
    text = "project: p\nhub:\n  instance_type: t3.large\n  data_volume_id: vol-0old\nsites: []\n"
    merged = restore_plan.merged(text, {"hub": {"data_volume_id": "vol-0new", "kit_bucket": "p-kits"}})
    assert merged == {
        "project": "p",
        "hub": {"instance_type": "t3.large", "data_volume_id": "vol-0new", "kit_bucket": "p-kits"},
        "sites": [],
    }
    assert restore_plan.merged("", {"hub": {"kit_bucket": "k"}}) == {"hub": {"kit_bucket": "k"}}
    assert restore_plan.merged("hub:\n", {"hub": {"kit_bucket": "k"}}) == {"hub": {"kit_bucket": "k"}}
