#!/usr/bin/env python3
"""This EC2 instance: its metadata (IMDSv2) and the hub's data volume.

  instance.py attach VOLUME_ID DEVICE [--wait-minutes N] [--poll-seconds S]

The bootstrap attaches the data volume itself, with the instance role, instead of the template
(AWS::EC2::VolumeAttachment): when CloudFormation replaces the hub instance it creates the new
one first and terminates the old one only after the update, so the volume is still in use by
the old instance while the new one boots. Here the new instance waits until the old one has
released the volume, then attaches it. Exit 0 attached, 1 not attached in time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request

import boto3
from botocore.exceptions import ClientError


class MetadataError(Exception):
    pass


def metadata(path: str) -> str:
    """One instance metadata item (e.g. `instance-id`, `public-ipv4`), read with an IMDSv2 token."""
    endpoint = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/")
    try:
        token_request = urllib.request.Request(
            f"{endpoint}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        )
        with urllib.request.urlopen(token_request, timeout=5) as response:
            token = response.read().decode()
        item_request = urllib.request.Request(f"{endpoint}/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token})
        with urllib.request.urlopen(item_request, timeout=5) as response:
            return response.read().decode().strip()
    except OSError as error:
        raise MetadataError(f"cannot read {path} from the instance metadata ({error})") from None


def elastic_ip(ec2, instance_id: str) -> str | None:
    """The Elastic IP associated with `instance_id`, from EC2 itself; None until it is."""
    addresses = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Addresses"]
    return addresses[0]["PublicIp"] if addresses else None


def log(message: str) -> None:
    print(f"flare-bootstrap: {message}", flush=True)


def attach(ec2, volume_id: str, device: str, instance_id: str, *, wait_minutes: float, poll_seconds: float) -> bool:
    """Attach `volume_id` to `instance_id` once no other instance holds it; True when attached."""
    deadline = time.monotonic() + wait_minutes * 60
    reported = None
    while True:
        volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
        holders = [a for a in volume.get("Attachments", []) if a["State"] in ("attaching", "attached", "detaching")]
        mine = [a for a in holders if a["InstanceId"] == instance_id]
        if mine and mine[0]["State"] == "attached":
            return True
        if not holders and volume["State"] == "available":
            try:
                ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=device)
                log(f"attached data volume {volume_id} as {device}")
            except ClientError as error:  # another attach won the race, or the old holder is not gone yet
                log(f"attaching data volume {volume_id}: {error.response['Error']['Message']}")
        elif not mine and holders and reported != holders[0]["InstanceId"]:
            reported = holders[0]["InstanceId"]
            log(f"data volume {volume_id} is still attached to {reported} (a replaced hub instance, which "
                "CloudFormation terminates when the update completes); waiting for it to be released")  # fmt: skip
        if time.monotonic() >= deadline:
            holder = holders[0]["InstanceId"] if holders else None
            log(f"data volume {volume_id} was not attached within {wait_minutes:g} minutes"
                + (f"; it is held by {holder}: stop that instance (aws ec2 stop-instances --instance-ids {holder}) "
                   "or detach the volume, then reboot this one" if holder and holder != instance_id else ""))  # fmt: skip
            return False
        time.sleep(poll_seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    attach_parser = sub.add_parser("attach", help="attach the hub's data volume to this instance")
    attach_parser.add_argument("volume_id")
    attach_parser.add_argument("device")
    attach_parser.add_argument("--wait-minutes", type=float, default=30)
    attach_parser.add_argument("--poll-seconds", type=float, default=10)
    args = parser.parse_args()
    try:
        instance_id = metadata("instance-id")
    except MetadataError as error:
        log(str(error))
        return 1
    ec2 = boto3.client("ec2")
    attached = attach(ec2, args.volume_id, args.device, instance_id, wait_minutes=args.wait_minutes, poll_seconds=args.poll_seconds)
    return 0 if attached else 1


if __name__ == "__main__":
    sys.exit(main())
