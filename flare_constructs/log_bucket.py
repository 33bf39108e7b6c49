"""The bucket that receives a stack's VPC flow logs (and the hub's S3 access logs)."""

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from flare_constructs.acknowledge import acknowledge, in_compliance_packs


class AuditLogBucket(Construct):
    """A stack's audit bucket: VPC flow logs, and with `receives_access_logs` the S3 access logs
    of the stack's other buckets (the hub's kit store)."""

    def __init__(self, scope: Construct, construct_id: str, *, receives_access_logs: bool, retention_days: int = 365) -> None:
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
        reasons = {
            **in_compliance_packs(
                "S3BucketReplicationEnabled",
                "Audit logs of this stack; versioning and the retention lifecycle protect them, cross-region replication is left to the organization.",
            ),
            **in_compliance_packs(
                "S3DefaultEncryptionKMS",
                "S3 server access log delivery supports only SSE-S3 on its target bucket."
                if receives_access_logs
                else "SSE-S3: flow log delivery to an SSE-KMS bucket needs the log delivery service in the key policy; "
                "the records hold addresses and ports, no patient data.",
            ),
        }
        if not receives_access_logs:
            # A bucket that receives access logs counts as logged; this one receives flow logs only.
            reasons |= {
                "AwsSolutions-S1": "Holds only this stack's VPC flow logs, written by the log delivery service; its own access logs would need yet another bucket.",
                **in_compliance_packs(
                    "S3BucketLoggingEnabled",
                    "Holds only this stack's VPC flow logs, written by the log delivery service; its own access logs would need yet another bucket.",
                ),
            }
        acknowledge(self.bucket, reasons)
