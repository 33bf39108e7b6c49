"""The hub's EC2 instance: dashboard and FL server on one host."""

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from flare_constructs.acknowledge import acknowledge
from flare_constructs.managed_instance import ManagedInstance


class HubHost(Construct):
    """Ubuntu 24.04 from Canonical's SSM parameter on a ManagedInstance, a security group for
    the dashboard and the FL port, and automatic recovery."""

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
                },
            )

        host = ManagedInstance(
            self,
            "Host",
            vpc=vpc,
            subnets=subnets,
            security_group=self.security_group,
            instance_type=instance_type,
            ami_parameter=ami_parameter,
            root_volume_gib=root_volume_gib,
            user_data=user_data,
            description="NVFlare hub host",
        )
        self.role, self.instance = host.role, host.instance

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
