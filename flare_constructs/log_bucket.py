"""The bucket that receives S3 access logs and VPC flow logs for the hub."""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from flare_constructs.acknowledge import acknowledge


class AuditLogBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retention_days: int = 365) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 log delivery cannot write to SSE-KMS buckets
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days), noncurrent_version_expiration=Duration.days(30))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.bucket,
            {
                "AwsSolutions-S1": "This is the access-log bucket itself; logging it into itself would loop.",
                "HIPAA.Security-S3BucketLoggingEnabled": "This is the access-log bucket itself; logging it into itself would loop.",
                "HIPAA.Security-S3BucketReplicationEnabled": "Audit logs of one hub; versioning protects them, cross-region replication is left to the organization.",
                "HIPAA.Security-S3DefaultEncryptionKMS": "S3 server access log delivery only supports SSE-S3 on the target bucket.",
            },
        )
