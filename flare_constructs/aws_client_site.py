"""An NVFlare client site on an AWS GPU instance, running the shared client runtime."""

import shutil
from pathlib import Path

from aws_cdk import Stage
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from flare_constructs.boot_user_data import every_boot_user_data, grant_asset_read
from flare_constructs.managed_instance import ManagedInstance
from flare_constructs.review_only import refuse_deploy
from flarectl.client_runtime import CLOUD_BUNDLE, RUNTIME_FILES, client_env, cloud_layout
from flarectl.config.governance import Stance
from flarectl.host_scripts import HOSTS_DIR, PACKAGE_DIR, render_script
from flarectl.sites.aws.model import AwsSite

HOST = cloud_layout(kit="kit")  # the bundle unzips to kit/ and runtime/


def site_bundle(kit: Path, bundle: Path) -> str:
    """`bundle` made afresh with kit/ (the startup kit) and runtime/ (the shared client
    runtime). It holds the kit's private key: synth puts it inside cdk.out, never in /tmp."""
    shutil.rmtree(bundle, ignore_errors=True)
    bundle.mkdir(parents=True)
    bundle.chmod(0o700)
    shutil.copytree(kit, bundle / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "runtime").mkdir()
    for name in RUNTIME_FILES:
        shutil.copy2(HOSTS_DIR / "client" / name, bundle / "runtime" / name)
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
        governance: Stance,
        instance_type: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description=f"NVFlare client {site.name}: outbound only", allow_all_outbound=True
        )
        bundle = self._bundle(site)
        script = render_script(
            PACKAGE_DIR / "sites" / "aws" / "host" / "aws-bootstrap.sh",
            {
                "CLIENT_SETTINGS": client_env(site, nvflare_version, HOST, governance),
                "SETTINGS_PATH": HOST.settings_file,
                "BUNDLE_PATH": CLOUD_BUNDLE,
                "VENV_PATH": HOST.venv,
                "BUNDLE_BUCKET": bundle.s3_bucket_name if bundle else "",
                "BUNDLE_KEY": bundle.s3_object_key if bundle else "",
            },
        )
        host = ManagedInstance(
            self,
            "Host",
            vpc=vpc,
            subnets=subnets,
            security_group=self.security_group,
            instance_type=instance_type,
            ami_parameter=site.ami_parameter,
            root_volume_gib=site.root_volume_gib,
            user_data=every_boot_user_data(script),
            description=f"NVFlare client site {site.name}",
            spot=site.spot,
        )
        self.instance = host.instance
        if bundle is not None:
            grant_asset_read(host.role, bundle)

    def _bundle(self, site: AwsSite) -> s3_assets.Asset | None:
        """The site bundle asset; without a kit, a CloudFormation rule that refuses the
        deploy instead (synth still works, for review)."""
        if not site.kit_present:
            refuse_deploy(
                self,
                "StartupKit",
                default="missing",
                required="present",
                description=f"Startup kit of site {site.name}",
                message=(
                    f"Site {site.name}: no startup kit at {site.kit or '(kit not set)'}. Download the site's kit from the "
                    "NVFlare dashboard, unzip it there (sites[].kit in the federation file), then synthesize and deploy again."
                ),
            )
            return None
        bundle = Path(Stage.of(self).outdir) / "site-bundles" / site.name  # type: ignore[union-attr]
        return s3_assets.Asset(self, "Bundle", path=site_bundle(Path(str(site.kit)), bundle))
