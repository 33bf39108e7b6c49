"""FlareServerStack: the hub (NVFlare dashboard + FL server) and what it needs."""

from aws_cdk import Aws, CfnOutput, Fn, Stack
from constructs import Construct

from flare_constructs.account_trail import AccountTrail
from flare_constructs.admin_credential import DashboardAdminCredential
from flare_constructs.data_volume import HubDataVolume
from flare_constructs.federation_key import FederationKey
from flare_constructs.hub_alerts import HubAlerts
from flare_constructs.hub_audit_logs import HubAuditLogs
from flare_constructs.hub_endpoint import HubEndpoint
from flare_constructs.hub_host import HubHost
from flare_constructs.hub_runtime import HubRuntime
from flare_constructs.kit_store import KitStore
from flare_constructs.log_bucket import AuditLogBucket
from flare_constructs.network import FlareNetwork
from flare_constructs.provided_certificate import ProvidedCertificate
from flarectl.client_runtime import UV_VERSION
from flarectl.federation import Federation
from flarectl.hub_env import hub_env
from flarectl.vpc_choice import VpcChoice

SERVER_KIT_PREFIX = "server/"
CERTBOT_VERSION = "5.8.0"


class FlareServerStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, federation: Federation, vpc_choice: VpcChoice, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        hub, dns, certificate = federation.hub, federation.dns, federation.certificate

        # The kit store and the account trail's bucket log their access here, when this stack makes them.
        made_buckets = hub.kit_bucket is None or federation.audit.cloudtrail == "create"
        logs = AuditLogBucket(self, "AuditLogs", receives_access_logs=made_buckets)
        network = FlareNetwork(self, "Network", choice=vpc_choice, subnet_ids=federation.network.subnet_ids, flow_log_bucket=logs.bucket)
        key = FederationKey(self, "FederationKey", project=federation.project).key
        kits = KitStore(self, "KitStore", access_log_bucket=logs.bucket, encryption_key=key, existing_bucket=hub.kit_bucket)
        admin = DashboardAdminCredential(
            self,
            "DashboardAdmin",
            project=federation.project,
            admin_email=federation.project_admin_email,
            existing=hub.admin_secret == "existing",
            encryption_key=key,
        )
        data = HubDataVolume(
            self,
            "Data",
            availability_zone=network.availability_zone,
            size_gib=hub.data_volume_gib,
            existing_volume_id=hub.data_volume_id,
            key=key,
        )
        audit_logs = HubAuditLogs(
            self, "AuditTrail", project=federation.project, retention_days=federation.audit.log_retention_days, key=key
        )
        if federation.audit.cloudtrail == "create":
            AccountTrail(self, "AccountTrail", key=key, access_log_bucket=logs.bucket, log_group=audit_logs.add_group("cloudtrail"))
        runtime = HubRuntime(
            self,
            "Runtime",
            settings={
                "PROJECT": federation.project,
                "NVFLARE_VERSION": federation.nvflare_version,
                "CERTBOT_VERSION": CERTBOT_VERSION,
                "SERVER_REQUIREMENTS": "\n".join(hub.server_requirements),
                "AWS_REGION": Aws.REGION,
                "CERTIFICATE_MODE": federation.certificate_mode,
                "DATA_VOLUME_ID": data.volume.volume_id,
                "UV_VERSION": UV_VERSION,
                "LOG_GROUP_PREFIX": audit_logs.prefix,
                "HUB_ENV": hub_env(federation, kit_bucket=kits.bucket.bucket_name, admin_secret_name=admin.secret_name, region=Aws.REGION),
            },
        )
        host = HubHost(
            self,
            "Hub",
            vpc=network.vpc,
            subnets=network.subnets,
            instance_type=hub.instance_type,
            root_volume_gib=hub.root_volume_gib,
            ami_parameter=hub.ami_parameter,
            fl_port=hub.fl_port,
            dashboard_cidrs=hub.dashboard_cidrs,
            fl_cidrs=hub.fl_cidrs,
            ssh_cidr=hub.ssh_cidr,
            user_data=runtime.user_data,
        )
        data.grant_attach(host.role)
        runtime.grant_read(host.role)
        kits.grant_prefix_read(host.role, SERVER_KIT_PREFIX)
        admin.grant_read(host.role)
        if certificate.secret_name:
            ProvidedCertificate(self, "ProvidedCertificate", secret_name=certificate.secret_name).grant_read(host.role)
        alerts = HubAlerts(
            self,
            "Alerts",
            project=federation.project,
            email=federation.alerts_email,
            instance=host.instance,
            backup_vault_name=data.vault_name,
            key=key,
        )
        alerts.grant_publish_metrics(host.role)
        alerts.watch_refused_logins(audit_logs.groups["proxy"])
        alerts.watch_refused_handshakes(audit_logs.groups["fl-server"])
        audit_logs.grant_write(host.role)
        endpoint = HubEndpoint(
            self, "Endpoint", instance=host.instance, role=host.role, dns=dns, fl_port=hub.fl_port, existing_ip=hub.elastic_ip
        )
        # A public address and a public instance need the VPC's internet gateway attached first
        # (AWS::EC2::EIP requires it when the VPC is in the same template; no-op for a looked-up VPC).
        for needs_gateway in (host, endpoint):
            needs_gateway.node.add_dependency(network.gateway_attached)

        outputs = {
            "DashboardUrl": (endpoint.dashboard_url, "NVFlare dashboard (sign-up, approvals, startup kits)"),
            "FlServerAddress": (endpoint.server_address, "FL server address the startup kits connect to"),
            "ElasticIp": (endpoint.address, "The hub's stable public IP (retained if the stack is deleted)"),
            "InstanceId": (host.instance.instance_id, "Hub EC2 instance"),
            "DataVolumeId": (data.volume.volume_id, "Dashboard database, certificates and kits (retained)"),
            "SsmSessionCommand": (
                f"aws ssm start-session --target {host.instance.instance_id} --region {Aws.REGION}",
                "Shell on the hub without SSH",
            ),
            "AdminSecretName": (admin.secret_name, "Secrets Manager secret with the dashboard admin login"),
            "KitBucket": (kits.bucket.bucket_name, f"Startup kit store (the hub reads {SERVER_KIT_PREFIX} only)"),
            "CertificateMode": (federation.certificate_mode, "How the dashboard gets its HTTPS certificate"),
            "DashboardFingerprintCommand": (
                Fn.join(
                    "",
                    [
                        "aws logs filter-log-events --log-group-name ",
                        audit_logs.groups["proxy"].ref,
                        " --filter-pattern '\"SHA-256 fingerprint\"' --query 'events[-1].message' --output text --region ",
                        Aws.REGION,
                    ],
                ),
                "The dashboard certificate's SHA-256 fingerprint as the hub logged it (what Org Admins pin without DNS: "
                "flarectl site-kit fetch --fingerprint)",
            ),  # fmt: skip
            "AlertTopicArn": (alerts.topic.topic_arn, f"Alarms go here; {federation.alerts_email} must confirm the subscription email"),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
