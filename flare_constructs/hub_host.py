"""The hub's EC2 instance: dashboard and FL server on one host."""

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from flare_constructs.acknowledge import acknowledge


class HubHost(Construct):
    """Ubuntu 24.04 from Canonical's SSM parameter, encrypted gp3 root, IMDSv2, SSM Session
    Manager instead of a key pair, termination protection and automatic recovery."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        instance_type: str,
        root_volume_gib: int,
        ami_parameter: str,
        fl_port: int,
        dashboard_cidrs: list[str],
        fl_cidrs: list[str],
        ssh_cidr: str | None,
        user_data: ec2.UserData,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="NVFlare hub: dashboard HTTPS and the FL port",
            allow_all_outbound=True,  # apt, PyPI, Let's Encrypt, AWS APIs
        )
        for cidr in dashboard_cidrs:
            self.security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "NVFlare dashboard (HTTPS)")
        for cidr in fl_cidrs:
            self.security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(fl_port), "NVFlare FL server and admin")
        if ssh_cidr:
            self.security_group.add_ingress_rule(ec2.Peer.ipv4(ssh_cidr), ec2.Port.tcp(22), "SSH from the admin network")
        if "0.0.0.0/0" in dashboard_cidrs or "0.0.0.0/0" in fl_cidrs:
            acknowledge(
                self.security_group,
                {
                    "AwsSolutions-EC23": "Sites and researchers connect from anywhere; only 443 and the FL port (mutual TLS) are open.",
                    "HIPAA.Security-EC2RestrictedCommonPorts": "Only 443 and the FL port are open; both are TLS.",
                },
            )

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="NVFlare hub host",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")],
        )
        acknowledge(
            self.role,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]": "AWS's maintained policy for Session Manager, which replaces SSH and key pairs.",
                "HIPAA.Security-IAMNoInlinePolicy": "Grants scoped to this hub's own bucket prefix, secret and hosted zone live with the role they serve.",
            },
        )

        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=subnets,
            instance_type=ec2.InstanceType(instance_type),
            # Resolved by EC2 when the instance launches: a newer Canonical image then does not
            # replace a running hub on the next deploy (unattended-upgrades keeps it patched).
            machine_image=ec2.MachineImage.resolve_ssm_parameter_at_launch(ami_parameter, os=ec2.OperatingSystemType.LINUX),
            security_group=self.security_group,
            role=self.role,
            user_data=user_data,
            require_imdsv2=True,
            detailed_monitoring=True,
            disable_api_termination=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/sda1",
                    volume=ec2.BlockDeviceVolume.ebs(root_volume_gib, volume_type=ec2.EbsDeviceVolumeType.GP3, encrypted=True),
                )
            ],
        )
        # The subnet already fixes the AZ; a literal AZ from a VPC lookup only pins the template to it.
        self.instance.instance.add_property_deletion_override("AvailabilityZone")
        # cfn-lint's ImageId pattern does not know EC2's documented `resolve:ssm:` form.
        self.instance.instance.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E1152"]}})
        acknowledge(
            self.instance,
            {
                "CloudFormation-Validate::E1152": "ImageId 'resolve:ssm:<parameter>' is EC2's documented launch-time AMI lookup.",
                "AwsSolutions-EC28": "Detailed monitoring is on (HIPAA rule satisfied); ASG-style monitoring does not apply to a single hub host.",
            },
        )

        self.recovery_alarm = cloudwatch.Alarm(
            self,
            "RecoveryAlarm",
            alarm_description="Recover the NVFlare hub when the EC2 system status check fails",
            metric=cloudwatch.Metric(
                namespace="AWS/EC2",
                metric_name="StatusCheckFailed_System",
                dimensions_map={"InstanceId": self.instance.instance_id},
                statistic="Maximum",
                period=Duration.minutes(1),
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=2,
        )
        self.recovery_alarm.add_alarm_action(cloudwatch_actions.Ec2Action(cloudwatch_actions.Ec2InstanceAction.RECOVER))
