"""What every EC2 host receives: user data (cloud-config that runs the bootstrap at every boot
and writes helper files, then the bootstrap script itself) and read access to its assets."""

import yaml
from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets

from flarectl.host_scripts import HOSTS_DIR

COMMON = HOSTS_DIR / "common"
FETCH_HELPER = "/opt/nvflare/bin/fetch_s3_zip.py"


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
    user_data.add_part(ec2.MultipartBody.from_user_data(ec2.UserData.custom(script)))
    return user_data


def grant_asset_read(role: iam.IRole, asset: s3_assets.Asset) -> None:
    """Exactly this asset object: CDK's asset.grant_read would open the whole staging bucket."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"])
    )
