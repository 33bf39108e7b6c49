"""`audit.cloudtrail: create`: an account trail for a hub account that has none."""

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from flare_constructs.acknowledge import acknowledge, in_compliance_packs


class AccountTrail(Construct):
    """A multi-region CloudTrail trail of the account's management events (who changed what in
    AWS, the hub's own calls included), with log-file integrity validation, log files encrypted
    with the project key, into a retained, versioned, access-logged bucket, and into one of
    the hub's log groups."""

    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, access_log_bucket: s3.IBucket, log_group: logs.CfnLogGroup
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_log_bucket,
            server_access_logs_prefix="cloudtrail/",
            removal_policy=RemovalPolicy.RETAIN,  # the trail's record outlives the hub
        )
        acknowledge(
            self.bucket,
            in_compliance_packs(
                "S3BucketReplicationEnabled",
                "CloudTrail log files are versioned and validated by digest files; cross-region replication is left to the organization.",
            ),
        )
        # CloudTrail encrypts log files with the key only for this account's trails (AWS's
        # documented key policy for CloudTrail); CDK's Trail does not add it.
        trails = f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails}},
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")], actions=["kms:DescribeKey"], resources=["*"])
        )
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            bucket=self.bucket,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            encryption_key=key,
            send_to_cloud_watch_logs=True,  # searchable and alarmable beside the hub's own logs
            cloud_watch_log_group=logs.LogGroup.from_log_group_arn(self, "LogGroup", log_group.attr_arn),
        )
        stack = Stack.of(self)
        group_id = stack.resolve(stack.get_logical_id(log_group))
        acknowledge(
            self.trail,
            {
                f"AwsSolutions-IAM5[Resource::<{group_id}.Arn>:*]": "CloudTrail's delivery role writes streams it names itself into this one log group.",
                **in_compliance_packs(
                    "IAMNoInlinePolicy", "CloudTrail's delivery role, scoped to this trail's log group; it lives and dies with the trail."
                ),
            },
        )
