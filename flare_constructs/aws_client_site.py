"""An NVFlare client site on an AWS GPU instance, running the shared client runtime."""

import shutil
import tempfile
from pathlib import Path

from aws_cdk import Aws, CfnParameter, CfnRule, CfnRuleAssertion, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from flare_constructs.acknowledge import acknowledge
from flare_constructs.user_data import every_boot_user_data
from flarectl.config import AwsSite
from flarectl.userdata import USERDATA_DIR, render_script

CLIENT_RUNTIME = ("flare-client.sh", "flare-client.service")


def site_bundle(kit: Path) -> str:
    """A directory with kit/ (the startup kit) and runtime/ (the shared client runtime)."""
    bundle = Path(tempfile.mkdtemp(prefix="flare-site-bundle-"))
    shutil.copytree(kit, bundle / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "runtime").mkdir()
    for name in CLIENT_RUNTIME:
        shutil.copy2(USERDATA_DIR / "client" / name, bundle / "runtime" / name)
    return str(bundle)


class AwsClientSite(Construct):
    """Deep Learning Base AMI (Ubuntu 24.04, NVIDIA driver ready at boot) resolved at launch;
    no inbound rules at all (the client dials out to the hub); SSM Session Manager; IMDSv2;
    encrypted disks. The startup kit travels as an S3 asset only this instance may read."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site: AwsSite,
        nvflare_version: str,
        instance_type: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description=f"NVFlare client {site.name}: outbound only", allow_all_outbound=True
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"NVFlare client site {site.name}",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")],
        )
        bundle_bucket, bundle_key = self._bundle(site)
        script = render_script(
            "client/aws-bootstrap.sh",
            {
                "SITE_NAME": site.name,
                "NVFLARE_VERSION": nvflare_version,
                "REQUIREMENTS": " ".join(site.requirements),
                "GPUS": str(site.gpus),
                "GPU_MEMORY_GIB": f"{site.gpu_memory_gib:g}",
                "BUNDLE_BUCKET": bundle_bucket,
                "BUNDLE_KEY": bundle_key,
            },
        )
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=subnets,
            instance_type=ec2.InstanceType(instance_type),
            # Resolved at launch: a newer AMI does not replace a running site on the next deploy.
            machine_image=ec2.MachineImage.resolve_ssm_parameter_at_launch(site.ami_parameter, os=ec2.OperatingSystemType.LINUX),
            security_group=self.security_group,
            role=self.role,
            user_data=every_boot_user_data(script),
            detailed_monitoring=True,
            disable_api_termination=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/sda1",
                    volume=ec2.BlockDeviceVolume.ebs(site.root_volume_gib, volume_type=ec2.EbsDeviceVolumeType.GP3, encrypted=True),
                )
            ],
        )
        self.instance.instance.add_property_deletion_override("AvailabilityZone")
        self.instance.instance.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E1152"]}})
        # IMDSv2, and optionally Spot, through a launch template of our own (ec2.Instance
        # has no Spot option): a persistent request that stops, not terminates, keeps the disk.
        launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            http_endpoint=True,
            spot_options=ec2.LaunchTemplateSpotOptions(
                request_type=ec2.SpotRequestType.PERSISTENT, interruption_behavior=ec2.SpotInstanceInterruption.STOP
            )
            if site.spot
            else None,
        )
        self.instance.instance.launch_template = ec2.CfnInstance.LaunchTemplateSpecificationProperty(
            launch_template_id=launch_template.launch_template_id, version=launch_template.latest_version_number
        )
        acknowledge(
            self.instance,
            {
                "CloudFormation-Validate::E1152": "ImageId 'resolve:ssm:<parameter>' is EC2's documented launch-time AMI lookup.",
                "AwsSolutions-EC28": "Detailed monitoring is on; ASG-style monitoring does not apply to a single site host.",
            },
        )
        acknowledge(
            self.role,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]": "AWS's maintained policy for Session Manager, which replaces SSH and key pairs.",
                "HIPAA.Security-IAMNoInlinePolicy": "The only grant, read of this site's own bundle object, lives with the role it serves.",
            },
        )

    def _bundle(self, site: AwsSite) -> tuple[str, str]:
        """The site bundle asset and the role's read on exactly that object; without a kit,
        a CloudFormation rule that refuses the deploy (synth still works, for review)."""
        if not site.kit_present:
            status = CfnParameter(self, "StartupKit", type="String", default="missing", description=f"Startup kit of site {site.name}")
            CfnRule(
                self,
                "StartupKitRequired",
                assertions=[
                    CfnRuleAssertion(
                        assert_=Fn.condition_equals(status.value_as_string, "present"),
                        assert_description=(
                            f"Site {site.name}: no startup kit at {site.kit or '(kit not set)'}. Download the site's kit from the "
                            "NVFlare dashboard, unzip it there (sites[].kit in the federation file), then synthesize and deploy again."
                        ),
                    )
                ],
            )
            return "", ""
        asset = s3_assets.Asset(self, "Bundle", path=site_bundle(Path(site.kit)))
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"])
        )
        return asset.s3_bucket_name, asset.s3_object_key
