"""FlareClient-<site>: one AWS GPU client site."""

from aws_cdk import Aws, CfnOutput, Stack
from constructs import Construct

from flare_constructs.aws_client_site import AwsClientSite
from flare_constructs.log_bucket import AuditLogBucket
from flare_constructs.network import FlareNetwork
from flarectl.config.governance import Stance
from flarectl.sites.aws.instance_types import Choice
from flarectl.sites.aws.model import AwsSite
from flarectl.vpc_choice import VpcChoice


class FlareClientStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site: AwsSite,
        nvflare_version: str,
        governance: Stance,
        vpc_choice: VpcChoice,
        instance: Choice,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        logs = AuditLogBucket(self, "AuditLogs", receives_access_logs=False)
        network = FlareNetwork(self, "Network", choice=vpc_choice, subnet_ids=site.network.subnet_ids, flow_log_bucket=logs.bucket)
        client = AwsClientSite(
            self,
            "Site",
            site=site,
            nvflare_version=nvflare_version,
            governance=governance,
            instance_type=instance.instance_type,
            vpc=network.vpc,
            subnets=network.subnets,
        )
        client.node.add_dependency(network.gateway_attached)  # public subnet: the gateway first
        instance_id = client.instance.instance_id
        outputs = {
            "InstanceId": (instance_id, f"EC2 instance of client site {site.name}"),
            "InstanceType": (instance.instance_type, "Chosen for the site's GPUs"),
            "InstanceTypeReason": (instance.reason, "Why this instance type"),
            "SsmSessionCommand": (f"aws ssm start-session --target {instance_id} --region {Aws.REGION}", "Shell on the site without SSH"),
            "ClientLogCommand": (
                f"aws ssm start-session --target {instance_id} --region {Aws.REGION} --document-name AWS-StartInteractiveCommand "
                '--parameters command="journalctl -u flare-client -f"',
                "Follow the NVFlare client's log",
            ),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
