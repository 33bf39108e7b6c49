"""The S3 bucket that carries startup kits to hosts (no copying kits over ssh)."""

from typing import cast

from aws_cdk import CfnElement, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from flare_constructs.acknowledge import acknowledge, in_compliance_packs


class KitStore(Construct):
    """Private, versioned, encrypted; hosts get read access to their own prefix only."""

    def __init__(self, scope: Construct, construct_id: str, *, access_log_bucket: s3.IBucket, encryption_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,  # one data key per bucket, not a KMS request per object
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_log_bucket,
            server_access_logs_prefix="kit-store/",
            removal_policy=RemovalPolicy.RETAIN,  # kits and their history outlive a stack
        )
        self.encryption_key = encryption_key
        acknowledge(
            self.bucket,
            {
                **in_compliance_packs(
                    "S3BucketReplicationEnabled", "Startup kits can be made again by the dashboard; versioning covers mistakes."
                ),
            },
        )

    def grant_prefix_read(self, role: iam.Role, prefix: str) -> None:
        """Let `role` list and read objects under `prefix` (e.g. "server/") and nothing else."""
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[self.bucket.arn_for_objects(f"{prefix}*")])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        self.encryption_key.grant_decrypt(role)
        stack = Stack.of(self)
        bucket_id = stack.resolve(stack.get_logical_id(cast(CfnElement, self.bucket.node.default_child)))
        acknowledge(
            role,
            {
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]": "Read-only, limited to this host's own prefix; kit file names are not known in advance.",
            },
        )
