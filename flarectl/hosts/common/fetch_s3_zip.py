"""Fetch a zip from S3 (a CDK asset) with the instance role and unpack it.

cloud-init writes this file (user data write_files) before the bootstrap runs; the
bootstraps call it with a venv's python that has boto3.
Usage: python fetch_s3_zip.py BUCKET KEY TARGET_DIR
"""

import io
import sys
import zipfile

import boto3


def main(bucket: str, key: str, target: str) -> None:
    archive = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    zipfile.ZipFile(io.BytesIO(archive)).extractall(target)


if __name__ == "__main__":
    main(*sys.argv[1:])
