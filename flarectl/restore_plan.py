"""`flarectl hub restore-plan`: the federation-file lines that make a rebuilt hub adopt what
`cdk destroy` kept (data volume, admin secret, kit store, Elastic IP).

They are read from the old stack's outputs (CloudFormation keeps a deleted stack's description
for 90 days, reachable by its stack id) and checked against the resources themselves, so the
plan names only what still exists and is free to adopt; everything else becomes a note that
says what to do.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class RestoreError(Exception):
    pass


def find_stack(cloudformation: Any, name: str) -> dict[str, Any]:
    """The live stack of that name, else its most recently deleted one."""
    try:
        return cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError:
        pass
    deleted = [
        summary
        for page in cloudformation.get_paginator("list_stacks").paginate(StackStatusFilter=["DELETE_COMPLETE"])
        for summary in page["StackSummaries"]
        if summary["StackName"] == name
    ]
    if not deleted:
        raise RestoreError(f"no stack {name} in this account and region, live or deleted in the last 90 days (check --region)")
    newest = max(deleted, key=lambda summary: summary.get("DeletionTime") or summary["CreationTime"])
    return cloudformation.describe_stacks(StackName=newest["StackId"])["Stacks"][0]


def plan(session: Any, stack_name: str) -> tuple[dict[str, Any], list[str]]:
    """({"hub": {...}} to merge into the federation file, notes for the Project Admin)."""
    try:
        stack = find_stack(session.client("cloudformation"), stack_name)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        hub: dict[str, Any] = {}
        notes: list[str] = []
        if stack["StackStatus"] != "DELETE_COMPLETE":
            notes.append(f"{stack_name} still exists ({stack['StackStatus']}): these are its resources, which cdk destroy keeps")
        volume_note = _volume(session.client("ec2"), outputs.get("DataVolumeId"), hub)
        secret_note = _secret(session.client("secretsmanager"), outputs.get("AdminSecretName"), hub)
        bucket_note = _bucket(session.client("s3"), outputs.get("KitBucket"), hub)
        address_note = _address(session.client("ec2"), outputs.get("ElasticIp"), hub)
    except (BotoCoreError, ClientError) as error:
        raise RestoreError(f"cannot read the old hub's resources ({error})") from None
    notes += [note for note in (volume_note, secret_note, bucket_note, address_note) if note]
    if "data_volume_id" in hub and hub.get("admin_secret") != "existing":
        notes.append("the data volume's dashboard database was seeded from the admin secret, which is gone: the old admin "
                     "login still works on the dashboard; set admin_secret: existing after creating the secret again by hand")  # fmt: skip
    return {"hub": hub}, notes


def _volume(ec2: Any, volume_id: str | None, hub: dict[str, Any]) -> str | None:
    if not volume_id:
        return "the old stack names no data volume (DataVolumeId output)"
    try:
        volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    except ClientError:
        return (f"data volume {volume_id} no longer exists: restore a recovery point of the old backup vault to a new "
                "volume in the hub subnet's AZ (AWS Backup console), then set hub.data_volume_id to it")  # fmt: skip
    if volume["State"] != "available":
        holders = ", ".join(a["InstanceId"] for a in volume.get("Attachments", []))
        return f"data volume {volume_id} is {volume['State']} ({holders}): stop that instance first, or it cannot be adopted"
    hub["data_volume_id"] = volume_id
    return (f"data volume {volume_id} is in {volume['AvailabilityZone']}: the rebuilt hub's subnet must be there "
            "(with vpc: vpc-..., set network.subnet_ids to a subnet in that zone)")  # fmt: skip


def _secret(secrets: Any, name: str | None, hub: dict[str, Any]) -> str | None:
    if not name:
        return "the old stack names no admin secret (AdminSecretName output)"
    try:
        described = secrets.describe_secret(SecretId=name)
    except ClientError:
        return f"secret {name} no longer exists: the rebuilt hub makes a new one"
    if described.get("DeletedDate"):
        return f"secret {name} is scheduled for deletion: aws secretsmanager restore-secret --secret-id {name}, then run this again"
    hub["admin_secret"] = "existing"
    return None


def _bucket(s3: Any, name: str | None, hub: dict[str, Any]) -> str | None:
    if not name:
        return "the old stack names no kit store (KitBucket output)"
    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        return f"kit store {name} no longer exists: the rebuilt hub makes a new one; publish the server kit again"
    hub["kit_bucket"] = name
    return None


def _address(ec2: Any, address: str | None, hub: dict[str, Any]) -> str | None:
    if not address:
        return "the old stack names no Elastic IP (ElasticIp output)"
    try:
        found = ec2.describe_addresses(PublicIps=[address])["Addresses"]
    except ClientError:
        found = []
    if not found:
        return f"Elastic IP {address} was released: startup kits that name the server by this address must be made again"
    if found[0].get("InstanceId") or found[0].get("AssociationId"):
        return f"Elastic IP {address} is still associated ({found[0].get('InstanceId', 'a network interface')}): disassociate it first"
    hub["elastic_ip"] = {"allocation_id": found[0]["AllocationId"], "address": address}
    return None


def elastic_ip_problem(ec2: Any, allocation_id: str, address: str) -> str | None:
    """hub.elastic_ip as EC2 has it: the allocation exists and holds that address."""
    try:
        found = ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"]
    except ClientError:
        found = []
    if not found:
        return f"hub.elastic_ip.allocation_id: {allocation_id} is not an Elastic IP of this account and region"
    if found[0]["PublicIp"] != address:
        return (f"hub.elastic_ip.address: {address} is not the address of {allocation_id} ({found[0]['PublicIp']}); "
                f"DNS and kits would point at the wrong host: set address: {found[0]['PublicIp']}")  # fmt: skip
    return None


def merged(federation_text: str, block: dict[str, Any]) -> dict[str, Any]:
    """The federation file's data with the plan's hub keys merged into its hub section."""
    import yaml

    data = yaml.safe_load(federation_text) or {}
    data["hub"] = {**(data.get("hub") or {}), **block["hub"]}
    return data
