"""What runs on the hub: the bootstrap as user data, and hubctl + systemd units as an asset."""

from aws_cdk import SymlinkFollowMode
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from flare_constructs.boot_user_data import every_boot_user_data, grant_asset_read
from flarectl.host_scripts import HOSTS_DIR, render_script

RUNTIME_DIR = HOSTS_DIR / "hub"


class HubRuntime(Construct):
    """`user_data`: cloud-config (run the bootstrap at every boot) + flarectl/hosts/hub/bootstrap.sh
    with its settings. The rest of flarectl/hosts/hub/ (hubctl.py, units/) is an S3 asset the
    bootstrap fetches, so the runtime can grow past EC2's 16 KiB user-data limit."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: dict[str, str]) -> None:
        super().__init__(scope, construct_id)
        # startup_kit.py is a link to ../common/ (one reading of a kit for the hub, sites and flarectl).
        self.asset = s3_assets.Asset(
            self, "Files", path=str(RUNTIME_DIR), exclude=["bootstrap.sh", "__pycache__"], follow_symlinks=SymlinkFollowMode.ALWAYS
        )
        script = render_script(
            "hub/bootstrap.sh",
            {**settings, "RUNTIME_BUCKET": self.asset.s3_bucket_name, "RUNTIME_KEY": self.asset.s3_object_key},
            packed=True,  # ~13 KiB of shell; EC2 takes 16 KiB of user data in all
        )
        self.user_data = every_boot_user_data(script)

    def grant_read(self, role: iam.IRole) -> None:
        grant_asset_read(role, self.asset)
