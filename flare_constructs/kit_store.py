"""The S3 bucket that carries startup kits to hosts (no copying kits over ssh)."""

from typing import cast

from aws_cdk import Aws, CfnElement, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from flare_constructs.acknowledge import acknowledge, in_compliance_packs


class KitStore(Construct):
    """Private, versioned, encrypted; hosts get read access to their own prefix only."""

    def __init__(
        self, scope: Construct, construct_id: str, *, access_log_bucket: s3.IBucket, encryption_key: kms.IKey, existing_bucket: str | None
    ) -> None:
        super().__init__(scope, construct_id)
        self.existing_bucket = existing_bucket
        self.encryption_key = encryption_key
        if existing_bucket:
            # The restore path: the bucket an earlier hub kept, with its kits and their history.
            self.bucket: s3.IBucket = s3.Bucket.from_bucket_name(self, "Bucket", existing_bucket)
            return
        created = s3.Bucket(
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
        self.bucket = created
        acknowledge(
            created,
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
        if self.existing_bucket:
            # Its objects keep the key of the stack that made them: any key, but only through S3
            # and only for this bucket (S3's encryption context is the bucket's ARN, or the object's).
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"},
                        "StringLike": {"kms:EncryptionContext:aws:s3:arn": f"arn:{Aws.PARTITION}:s3:::{self.existing_bucket}*"},
                    },
                )
            )
            acknowledge(
                role,
                {"AwsSolutions-IAM5[Resource::*]": "kms:Decrypt of the adopted kit store's key, made by an earlier stack: only via S3 "
                 "and only for that bucket's objects (encryption context)."},
            )  # fmt: skip
            acknowledge(
                role,
                {f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{self.existing_bucket}/{prefix}*]": "Read-only, limited to "
                 "this host's own prefix; kit file names are not known in advance."},
            )  # fmt: skip
            return
        # The kits' key, only as S3 uses it for this bucket (the README's "only through S3").
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.encryption_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            )
        )
        stack = Stack.of(self)
        bucket_id = stack.resolve(stack.get_logical_id(cast(CfnElement, self.bucket.node.default_child)))
        acknowledge(
            role,
            {
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]": "Read-only, limited to this host's own prefix; kit file names are not known in advance.",
            },
        )
