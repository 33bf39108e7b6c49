"""The EC2 instance every FLARE host runs on (hub and AWS client sites)."""

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from flare_constructs.acknowledge import acknowledge, in_compliance_packs


class ManagedInstance(Construct):
    """An instance reached through SSM Session Manager (no key pair), its AMI resolved from an
    SSM parameter when it launches (a newer image never replaces a running host on the next
    deploy), IMDSv2 only, an encrypted gp3 root volume and detailed monitoring. No instance
    termination protection: it would block CloudFormation from replacing the instance or rolling
    back a failed one; the stack carries termination protection instead. `spot`: a persistent
    Spot request that stops, not terminates, on interruption."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        instance_type: str,
        ami_parameter: str,
        root_volume_gib: int,
        user_data: ec2.UserData,
        description: str,
        spot: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # Session Manager replaces SSH and key pairs. Only what its agent needs to register and
        # open sessions (AWS's AWSCloud9SSMInstanceProfile is the same set), not
        # AmazonSSMManagedInstanceCore, which also reads every SSM parameter in the account.
        session_manager = iam.ManagedPolicy(
            self,
            "SessionManagerPolicy",
            description="SSM Agent: register the instance and open Session Manager sessions; nothing else",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "ssm:UpdateInstanceInformation",
                        "ssmmessages:CreateControlChannel",
                        "ssmmessages:CreateDataChannel",
                        "ssmmessages:OpenControlChannel",
                        "ssmmessages:OpenDataChannel",
                    ],
                    resources=["*"],
                )
            ],
        )
        acknowledge(
            session_manager,
            {
                "AwsSolutions-IAM5[Resource::*]": "The SSM Agent's registration and session-channel actions have no resource-level permissions."
            },
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=description,
            managed_policies=[session_manager],
        )
        acknowledge(
            self.role,
            in_compliance_packs(
                "IAMNoInlinePolicy", "Grants scoped to this host's own objects, secrets and records live and die with the role they serve."
            ),
        )
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=subnets,
            instance_type=ec2.InstanceType(instance_type),
            machine_image=ec2.MachineImage.resolve_ssm_parameter_at_launch(ami_parameter, os=ec2.OperatingSystemType.LINUX),
            security_group=security_group,
            role=self.role,
            user_data=user_data,
            detailed_monitoring=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/sda1",
                    volume=ec2.BlockDeviceVolume.ebs(root_volume_gib, volume_type=ec2.EbsDeviceVolumeType.GP3, encrypted=True),
                )
            ],
        )
        # IMDSv2 (and Spot) through a launch template of our own: ec2.Instance has no Spot option.
        launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            http_endpoint=True,
            spot_options=ec2.LaunchTemplateSpotOptions(
                request_type=ec2.SpotRequestType.PERSISTENT, interruption_behavior=ec2.SpotInstanceInterruption.STOP
            )
            if spot
            else None,
        )
        cfn_instance = self.instance.instance
        cfn_instance.launch_template = ec2.CfnInstance.LaunchTemplateSpecificationProperty(
            launch_template_id=launch_template.launch_template_id, version=launch_template.latest_version_number
        )
        # The subnet already fixes the AZ; a literal AZ from a VPC lookup only pins the template to it.
        cfn_instance.add_property_deletion_override("AvailabilityZone")
        # cfn-lint's ImageId pattern does not know EC2's documented `resolve:ssm:` form.
        cfn_instance.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E1152"]}})
        acknowledge(
            self.instance,
            {
                "CloudFormation-Validate::E1152": "ImageId 'resolve:ssm:<parameter>' is EC2's documented launch-time AMI lookup.",
                "AwsSolutions-EC29": "Replaceable by design: what a host keeps lives on retained resources (the hub's data volume, address, "
                "secret and buckets; a client site's kit comes with each deploy). Instance termination protection would block CloudFormation's replacements and rollbacks; "
                "the stack has termination protection.",
            },
        )
