"""User data shared by every EC2 host: cloud-config that runs the bootstrap at every boot and
writes helper files, then the bootstrap script itself."""

import yaml
from aws_cdk import aws_ec2 as ec2

from flarectl.userdata import USERDATA_DIR

COMMON = USERDATA_DIR / "common"
FETCH_HELPER = "/opt/nvflare/bin/fetch_s3_zip.py"


def every_boot_user_data(script: str) -> ec2.MultipartUserData:
    config = yaml.safe_load((COMMON / "cloud-config.yaml").read_text())
    config["write_files"] = [
        {"path": FETCH_HELPER, "permissions": "0755", "owner": "root:root", "content": (COMMON / "fetch_s3_zip.py").read_text()}
    ]
    user_data = ec2.MultipartUserData()
    user_data.add_part(
        ec2.MultipartBody.from_raw_body(content_type='text/cloud-config; charset="utf-8"', body="#cloud-config\n" + yaml.safe_dump(config, sort_keys=False))
    )
    user_data.add_part(ec2.MultipartBody.from_user_data(ec2.UserData.custom(script)))
    return user_data
