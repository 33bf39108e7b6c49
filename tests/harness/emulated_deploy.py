"""A real `cdk bootstrap` + `cdk deploy` with the pinned CLI into a moto_server."""

from __future__ import annotations

import base64
import email
import json
from pathlib import Path
from typing import Any

import boto3

from tests.harness.local import cdk, cli_env

AMI_PARAMETER = "/test/ubuntu-24.04/ami-id"
ACCOUNT, REGION = "123456789012", "us-east-1"


BOOTSTRAPPED: set[str] = set()


def bootstrap(env: dict[str, str]) -> None:
    """`cdk bootstrap` once per emulator."""
    if env["AWS_ENDPOINT_URL"] in BOOTSTRAPPED:
        return
    result = cdk("bootstrap", f"aws://{ACCOUNT}/{REGION}", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    BOOTSTRAPPED.add(env["AWS_ENDPOINT_URL"])


class Deployment:
    """cdk bootstrap done, the AMI parameter the federation names put, a hosted zone made."""

    def __init__(self, emulator: dict[str, str], workdir: Path, *, zone_name: str | None = None):
        self.env = cli_env(**emulator)
        self.workdir = workdir
        self.session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        self.endpoint = emulator["AWS_ENDPOINT_URL"]
        # moto refuses /aws/... parameter names, so the AMI comes from a test parameter.
        self.image_id = self.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        self.client("ssm").put_parameter(Name=AMI_PARAMETER, Value=self.image_id, Type="String", Overwrite=True)
        if zone_name:
            zone = self.client("route53").create_hosted_zone(Name=zone_name, CallerReference=f"flare-test-{zone_name}")
            self.zone_id = zone["HostedZone"]["Id"].split("/")[-1]
        bootstrap(self.env)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)

    def deploy(self, config_text: str, name: str, stack: str = "FlareServerStack") -> dict[str, str]:
        config = self.workdir / f"{name}.yaml"
        config.write_text(config_text)
        outputs = self.workdir / f"{name}-outputs.json"
        result = cdk(
            "deploy",
            stack,
            "-c",
            f"config={config}",
            "-o",
            str(self.workdir / f"{name}.out"),
            "--require-approval",
            "never",
            "--method=direct",
            "--outputs-file",
            str(outputs),
            "--progress",
            "events",
            env=self.env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(outputs.read_text())[stack]


def user_data(deployment: Deployment, instance_id: str) -> bytes:
    """The instance's user data, as EC2 hands it to cloud-init."""
    attribute = deployment.client("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    return base64.b64decode(attribute["UserData"]["Value"])


def user_data_parts(deployment: Deployment, instance_id: str) -> dict[str, str]:
    """The instance's multipart user data as {content type: decoded text}."""
    message = email.message_from_bytes(user_data(deployment, instance_id))
    return {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart()}
