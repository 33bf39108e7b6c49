"""What every EC2 host receives: user data (cloud-config that runs the bootstrap at every boot
and writes helper files, then the bootstrap script itself) and read access to its assets."""

import yaml
from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets

from flarectl.config.errors import ConfigError
from flarectl.host_scripts import CDK_TOKEN, HOSTS_DIR

COMMON = HOSTS_DIR / "common"
FETCH_HELPER = "/opt/nvflare/bin/fetch_s3_zip.py"


# EC2 takes at most 16 KiB of user data, "in raw form, before it is base64-encoded" (EC2 User
# Guide, "Work with instance user data"); a larger one fails the instance at deploy.
USER_DATA_LIMIT = 16384
DEPLOY_VALUE_ESTIMATE = 64  # characters a CDK token (a bucket name, an asset key, the region) becomes at deploy


def every_boot_user_data(script: str) -> ec2.MultipartUserData:
    config = yaml.safe_load((COMMON / "cloud-config.yaml").read_text())
    config["write_files"] = [
        {"path": FETCH_HELPER, "permissions": "0755", "owner": "root:root", "content": (COMMON / "fetch_s3_zip.py").read_text()}
    ]
    user_data = ec2.MultipartUserData()
    user_data.add_part(
        ec2.MultipartBody.from_raw_body(
            content_type='text/cloud-config; charset="utf-8"', body="#cloud-config\n" + yaml.safe_dump(config, sort_keys=False)
        )
    )
    # The script as it is, not base64 inside the MIME part (a third larger): what counts is the raw size.
    user_data.add_part(ec2.MultipartBody.from_raw_body(content_type='text/x-shellscript; charset="utf-8"', body=script))
    check_size(user_data.render())
    return user_data


def check_size(rendered: str) -> None:
    """Refuse at synth a user data EC2 would refuse at deploy, saying what made it large."""
    estimate = len(CDK_TOKEN.sub("x" * DEPLOY_VALUE_ESTIMATE, rendered).encode())
    if estimate > USER_DATA_LIMIT:
        raise ConfigError([
            f"the host's user data would be about {estimate} bytes, and EC2 takes at most {USER_DATA_LIMIT}: "
            "shorten what it carries from the federation file (the governance section, server_requirements, the dashboard's texts)"
        ])  # fmt: skip


def grant_asset_read(role: iam.IRole, asset: s3_assets.Asset) -> None:
    """Exactly this asset object: CDK's asset.grant_read would open the whole staging bucket."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"])
    )
