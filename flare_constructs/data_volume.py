"""The hub's data volume: dashboard database, certificates, kits and job stores."""

from typing import cast

from aws_cdk import Aws, CfnResource, Duration, Fn, RemovalPolicy, Size, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from flare_constructs.acknowledge import acknowledge
from flare_constructs.retained_names import stack_id_suffix


class HubDataVolume(Construct):
    """A separate gp3 volume encrypted with the project key (it holds the dashboard database and
    with it the project's CA key; EBS snapshots, AWS Backup's included, keep the volume's key),
    retained on stack deletion and on replacement, so a replaced or rebuilt instance finds the
    dashboard database, certificates and kits again; AWS Backup snapshots it daily (kept 35
    days) into a vault under the same key, against loss of the volume itself."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        availability_zone: str,
        size_gib: int,
        existing_volume_id: str | None,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        if existing_volume_id:
            # The restore path: the retained volume of an earlier hub (same AZ as the hub's subnet).
            self.volume: ec2.IVolume = ec2.Volume.from_volume_attributes(
                self, "Volume", volume_id=existing_volume_id, availability_zone=availability_zone
            )
        else:
            volume = ec2.Volume(
                self,
                "Volume",
                availability_zone=availability_zone,
                size=Size.gibibytes(size_gib),
                volume_type=ec2.EbsDeviceVolumeType.GP3,
                encrypted=True,
                encryption_key=key,
                removal_policy=RemovalPolicy.RETAIN,
            )
            # With an existing VPC the AZ is a literal from the lookup; it has to match the subnet.
            cast(CfnResource, volume.node.default_child).add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3010"]}})
            self.volume = volume
        # Retained, so its name must not repeat: the stack's own id in it lets a rebuilt stack
        # make a new vault beside the kept one (which keeps its recovery points).
        stack_id = stack_id_suffix()
        self.vault_name = Fn.join("-", [Aws.STACK_NAME, "data", stack_id])  # known without reading the vault
        vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=self.vault_name,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        plan = backup.BackupPlan(self, "Plan", backup_vault=vault)
        plan.add_rule(
            backup.BackupPlanRule(
                rule_name="daily-35-days",
                schedule_expression=events.Schedule.cron(hour="3", minute="0"),
                delete_after=Duration.days(35),
            )
        )
        stack = Stack.of(self)
        volume_arn = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}:volume/{self.volume.volume_id}"
        selection = plan.add_selection("DataVolume", resources=[backup.BackupResource.from_arn(volume_arn)])
        acknowledge(
            selection,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]": "AWS's maintained service role policy for AWS Backup jobs.",
            },
        )

    def grant_attach(self, role: iam.IRole) -> None:
        """The hub attaches the volume itself at boot (flarectl/hosts/hub/instance.py): a template
        VolumeAttachment cannot move the volume to a replacement instance, which CloudFormation
        creates while the old one still holds it. Only this volume, only to this stack's instances."""
        stack = Stack.of(self)
        # Pseudo-parameters, not the stack's env: one reviewed acknowledgment for every environment.
        volume = f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:volume/{self.volume.volume_id}"
        instances = f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:instance/*"
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:DescribeVolumes"], resources=["*"]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:AttachVolume"], resources=[volume]))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ec2:AttachVolume"],
                resources=[instances],
                conditions={"StringEquals": {"aws:ResourceTag/aws:cloudformation:stack-id": stack.stack_id}},
            )
        )
        # Attaching a volume under a customer-managed key makes EC2 create a grant for the
        # instance on the caller's behalf; an adopted volume may carry an earlier stack's key.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={
                    "StringEquals": {"kms:ViaService": f"ec2.{Aws.REGION}.amazonaws.com"},
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            )
        )
        acknowledge(
            role,
            {
                "AwsSolutions-IAM5[Resource::*]": "ec2:DescribeVolumes has no resource-level permissions; kms:CreateGrant only through EC2 "
                "and only for an AWS resource (the attachment), with whichever key the data volume has.",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]": "Only instances tagged with this stack's id (a tag CloudFormation sets and nobody can change): the hub and its replacement, whose id is not known when the policy is written.",
            },
        )
