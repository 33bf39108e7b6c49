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
        # The trail's name is fixed, so its ARN is known before it exists: the key and bucket
        # policies below name it (aws:SourceArn) without a dependency circle (key -> trail -> key).
        stack = Stack.of(self)
        trail_name = f"{stack.stack_name}-account-trail"
        trail_arn = f"arn:{Aws.PARTITION}:cloudtrail:{Aws.REGION}:{Aws.ACCOUNT_ID}:trail/{trail_name}"
        from_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
        # AWS's key policy for CloudTrail ("Configure AWS KMS key policies for CloudTrail"):
        # encrypt this account's trails' log files; describe the key; and, because the bucket
        # uses an S3 Bucket Key, decrypt. Each only for this trail.
        trails = f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"
        cloudtrail_service = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudtrail_service],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={**from_this_trail, "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails}},
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(principals=[cloudtrail_service], actions=["kms:DescribeKey"], resources=["*"], conditions=from_this_trail)
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(principals=[cloudtrail_service], actions=["kms:Decrypt"], resources=["*"], conditions=from_this_trail)
        )
        # CloudTrail wants the log group's ARN ending in one ":*"; the LogGroup's Arn attribute
        # already ends in ":*", and CDK's from_log_group_arn would add a second for a token.
        trail_group = logs.LogGroup.from_log_group_name(self, "LogGroup", log_group.ref)
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=self.bucket,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            encryption_key=key,
            send_to_cloud_watch_logs=True,  # searchable and alarmable beside the hub's own logs
            cloud_watch_log_group=trail_group,
        )
        self._only_this_trail_writes(from_this_trail)
        group_id = stack.resolve(stack.get_logical_id(log_group))
        acknowledge(
            self.trail,
            {
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<{group_id}>:*]": (
                    "CloudTrail's delivery role writes streams it names itself into this one log group."
                ),
                **in_compliance_packs(
                    "IAMNoInlinePolicy", "CloudTrail's delivery role, scoped to this trail's log group; it lives and dies with the trail."
                ),
            },
        )

    def _only_this_trail_writes(self, condition: dict) -> None:
        """AWS's bucket policy for CloudTrail names the trail (aws:SourceArn) on its ACL check
        and its writes; CDK's Trail adds both statements without it."""
        assert self.bucket.policy is not None
        policy = self.bucket.policy.node.default_child
        assert isinstance(policy, s3.CfnBucketPolicy)
        document = Stack.of(self).resolve(self.bucket.policy.document)
        for index, statement in enumerate(document["Statement"]):
            if statement.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}:
                merged = {**statement.get("Condition", {})}
                merged["StringEquals"] = {**merged.get("StringEquals", {}), **condition["StringEquals"]}
                policy.add_property_override(f"PolicyDocument.Statement.{index}.Condition", merged)
