"""FlareServerStack: every property the hub promises, asserted on the synthesized template."""

from __future__ import annotations

import json
import tempfile

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from app import build_app
from flarectl.host_scripts import HOSTS_DIR
from tests.conftest import ROOT
from tests.harness.synth_fixtures import CDK_JSON_CONTEXT
from tests.harness.templates import (
    INSTANCE,
    SESSION_MANAGER_STATEMENTS,
    bootstrap_part,
    cloud_config,
    hub_policy,
    hub_role,
    logical_id,
    only,
    render,
    session_manager_statements,
    user_data_text,
)


def ingress(template: Template) -> set[tuple[str, int, int]]:
    group = only(template, "AWS::EC2::SecurityGroup")["Properties"]
    return {(rule["CidrIp"], rule["FromPort"], rule["ToPort"]) for rule in group.get("SecurityGroupIngress", [])}


class TestHost:
    def test_ubuntu_ami_comes_from_canonicals_ssm_parameter(self, default_template: Template) -> None:
        image = only(default_template, INSTANCE)["Properties"]["ImageId"]
        # Resolved when the instance launches, so a newer image never replaces a running hub.
        assert image == "resolve:ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"

    def test_graviton_instance_gets_the_arm64_image(self, dns_template: Template) -> None:
        image = only(dns_template, INSTANCE)["Properties"]["ImageId"]
        assert image == "resolve:ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id"

    def test_instance_type_and_encrypted_gp3_root_volume(self, default_template: Template, dns_template: Template) -> None:
        for template, instance_type, size in ((default_template, "t3.medium", 40), (dns_template, "m7g.large", 64)):
            template.has_resource_properties(
                INSTANCE,
                {
                    "InstanceType": instance_type,
                    "BlockDeviceMappings": [
                        {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": size, "VolumeType": "gp3", "Encrypted": True}}
                    ],
                },
            )

    def test_imdsv2_required_and_no_key_pair(self, default_template: Template) -> None:
        default_template.has_resource_properties(
            "AWS::EC2::LaunchTemplate", {"LaunchTemplateData": {"MetadataOptions": {"HttpTokens": "required"}}}
        )
        assert "KeyName" not in only(default_template, INSTANCE)["Properties"]

    def test_monitoring_and_instance_profile(self, default_template: Template) -> None:
        default_template.has_resource_properties(
            INSTANCE,
            {"Monitoring": True, "IamInstanceProfile": {"Ref": Match.string_like_regexp("HubHostInstanceInstanceProfile")}},
        )

    def test_the_stacks_not_the_instances_are_protected_from_termination(self, client_federation) -> None:
        """Instance termination protection would block CloudFormation from replacing an instance
        (and from rolling a failed replacement back); the stacks carry it instead."""
        app = cdk.App(outdir=tempfile.mkdtemp(prefix="cdk-test-"), context=CDK_JSON_CONTEXT)
        build_app(client_federation, app=app)
        assembly = app.synth()
        stacks = {stack.stack_name: stack.termination_protection for stack in assembly.stacks}
        assert stacks == {"FlareServerStack": True, "FlareClient-onc-lab": True}
        for stack in assembly.stacks:
            instances = [r for r in stack.template["Resources"].values() if r["Type"] == INSTANCE]
            assert len(instances) == 1 and "DisableApiTermination" not in instances[0]["Properties"]

    def test_session_manager_instead_of_ssh(self, default_template: Template) -> None:
        """Only the SSM Agent's registration and session channels: not AmazonSSMManagedInstanceCore,
        which lets a host that runs FL job code read every SSM parameter in the account."""
        role_id = hub_role(default_template)
        role = default_template.to_json()["Resources"][role_id]["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
        assert session_manager_statements(default_template, role) == SESSION_MANAGER_STATEMENTS

    def test_automatic_recovery_alarm(self, default_template: Template) -> None:
        instance_id = logical_id(default_template, INSTANCE)
        default_template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": "StatusCheckFailed_System",
                "Namespace": "AWS/EC2",
                "Dimensions": [{"Name": "InstanceId", "Value": {"Ref": instance_id}}],
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "Threshold": 1,
                "AlarmActions": [
                    {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":automate:", {"Ref": "AWS::Region"}, ":ec2:recover"]]}
                ],
            },
        )

    def test_user_data_runs_the_bootstrap_at_every_boot(self, default_template: Template) -> None:
        text = user_data_text(default_template)
        assert text.startswith('Content-Type: multipart/mixed; boundary="+AWS+CDK+User+Data+Separator=="')
        config = cloud_config(default_template)
        assert ["scripts-user", "always"] in config["cloud_final_modules"]
        helper = config["write_files"][0]
        assert helper["path"] == "/opt/nvflare/bin/fetch_s3_zip.py"
        assert helper["content"] == (HOSTS_DIR / "common" / "fetch_s3_zip.py").read_text()

    def test_user_data_is_the_bootstrap_file_with_settings(self, default_template: Template, dns_template: Template) -> None:
        packed = bootstrap_part(default_template)
        assert "\nbase64 -d <<'PACKED' | gunzip >\"${UNPACKED}\"\n" in packed and "nvflare==" not in packed
        text = bootstrap_part(default_template, unpack=True)
        body = (HOSTS_DIR / "hub" / "bootstrap.sh").read_text().split("HUB_ENV\n", 1)[1]
        assert text.endswith(
            body.replace("# @INCLUDE@ common/venv-install.sh", (HOSTS_DIR / "common" / "venv-install.sh").read_text().rstrip())
        )
        assert text.startswith("#!/bin/bash\n")
        assert "readonly NVFLARE_VERSION=2.9.0" in text
        assert '"nvflare==${NVFLARE_VERSION}"' in text
        assert "readonly CERTIFICATE_MODE=self-signed" in text
        assert "# @SETTINGS@" not in text
        dns_text = bootstrap_part(dns_template, unpack=True)
        assert "readonly SERVER_REQUIREMENTS=torch==2.5.1" in dns_text
        assert '\nDASHBOARD_NAME="flareboard.mydomain.edu"\n' in dns_text  # in HUB_ENV, the text of hub.env
        assert "readonly CERTIFICATE_MODE=letsencrypt" in dns_text


class TestSecurityGroup:
    def test_default_opens_dashboard_and_fl_port_to_everyone_and_nothing_else(self, default_template: Template) -> None:
        assert ingress(default_template) == {("0.0.0.0/0", 443, 443), ("0.0.0.0/0", 8002, 8002)}

    def test_configured_cidrs_port_and_ssh(self, dns_template: Template) -> None:
        assert ingress(dns_template) == {
            ("198.51.100.0/24", 443, 443),
            ("0.0.0.0/0", 8102, 8102),
            ("203.0.113.0/24", 22, 22),
        }


class TestEndpoint:
    def test_elastic_ip_names_the_instance_and_is_retained(self, default_template: Template) -> None:
        eip = only(default_template, "AWS::EC2::EIP")
        assert eip["Properties"] == {"Domain": "vpc", "InstanceId": {"Ref": logical_id(default_template, INSTANCE)}}
        assert eip["DeletionPolicy"] == "Retain" and eip["UpdateReplacePolicy"] == "Retain"
        assert default_template.find_resources("AWS::EC2::EIPAssociation") == {}

    def test_no_dns_records_without_dns(self, default_template: Template) -> None:
        assert default_template.find_resources("AWS::Route53::RecordSet") == {}
        default_template.has_output(
            "DashboardUrl", {"Value": {"Fn::Join": ["", ["https://", {"Ref": logical_id(default_template, "AWS::EC2::EIP")}]]}}
        )

    def test_dashboard_and_server_records_point_at_the_eip(self, dns_template: Template) -> None:
        eip = {"Ref": logical_id(dns_template, "AWS::EC2::EIP")}
        for name in ("flareboard.mydomain.edu.", "flareserver.mydomain.edu."):
            dns_template.has_resource_properties(
                "AWS::Route53::RecordSet",
                {"Name": name, "Type": "A", "HostedZoneId": "Z0123456789ABCDEFGHIJ", "ResourceRecords": [eip], "TTL": "300"},
            )

    def test_host_may_change_only_acme_txt_records_in_its_zone(self, dns_template: Template) -> None:
        dns_template.has_resource_properties(
            "AWS::IAM::Policy",
            {
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            {
                                "Action": "route53:ChangeResourceRecordSets",
                                "Effect": "Allow",
                                "Resource": {
                                    "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":route53:::hostedzone/Z0123456789ABCDEFGHIJ"]]
                                },
                                "Condition": {
                                    "ForAllValues:StringEquals": {
                                        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                                            "_acme-challenge.flareboard.mydomain.edu",
                                            "_acme-challenge.flareserver.mydomain.edu",
                                        ],
                                        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                                    }
                                },
                            }
                        ]
                    )
                },
                "Roles": [{"Ref": hub_role(dns_template)}],
            },
        )

    def test_outputs_use_the_dns_names(self, dns_template: Template) -> None:
        dns_template.has_output("DashboardUrl", {"Value": "https://flareboard.mydomain.edu"})
        dns_template.has_output("FlServerAddress", {"Value": "flareserver.mydomain.edu:8102"})
        dns_template.has_output("CertificateMode", {"Value": "letsencrypt"})


class TestKitStore:
    def kit_bucket(self, template: Template) -> tuple[str, dict]:
        buckets = template.find_resources("AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": Match.any_value()}})
        assert len(buckets) == 1
        return next(iter(buckets.items()))

    def test_private_encrypted_versioned_logged_retained(self, default_template: Template) -> None:
        _, bucket = self.kit_bucket(default_template)
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert (
            properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            == "aws:kms"
        )
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert properties["LoggingConfiguration"]["LogFilePrefix"] == "kit-store/"
        assert bucket["DeletionPolicy"] == "Retain"

    def test_ssl_only(self, default_template: Template) -> None:
        bucket_id, _ = self.kit_bucket(default_template)
        default_template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": bucket_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                    )
                },
            },
        )

    def test_host_reads_only_the_server_prefix(self, default_template: Template) -> None:
        bucket_id, _ = self.kit_bucket(default_template)
        statements = hub_policy(default_template)
        kit_statements = [s for s in statements if bucket_id in json.dumps(s)]
        assert kit_statements == [
            {
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Effect": "Allow",
                "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/server/*"]]},
            },
            {
                "Action": "s3:ListBucket",
                "Condition": {"StringLike": {"s3:prefix": ["server/*"]}},
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [bucket_id, "Arn"]},
            },
        ]


class TestAdminCredential:
    def test_generated_by_secrets_manager_and_readable_by_the_host(self, default_template: Template) -> None:
        secret = only(default_template, "AWS::SecretsManager::Secret")
        properties = secret["Properties"]
        assert properties["Name"] == "cancer-fl/dashboard-admin"
        assert "SecretString" not in properties
        assert properties["GenerateSecretString"]["GenerateStringKey"] == "password"
        assert json.loads(properties["GenerateSecretString"]["SecretStringTemplate"]) == {"email": "flare-admin@example.org"}
        statements = hub_policy(default_template)
        assert {
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Effect": "Allow",
            "Resource": {"Ref": logical_id(default_template, "AWS::SecretsManager::Secret")},
        } in statements

    def test_outputs_name_the_secret_never_its_value(self, default_template: Template) -> None:
        default_template.has_output("AdminSecretName", {"Value": "cancer-fl/dashboard-admin"})
        text = json.dumps(default_template.to_json())
        assert "password" not in bootstrap_part(default_template).lower()
        assert '"SecretString":' not in text


class TestNetwork:
    def test_offline_auto_creates_a_small_public_vpc_without_nat_and_with_flow_logs(self, default_template: Template) -> None:
        default_template.resource_count_is("AWS::EC2::VPC", 1)
        default_template.resource_count_is("AWS::EC2::NatGateway", 0)
        default_template.resource_count_is("AWS::EC2::Subnet", 2)
        default_template.all_resources_properties("AWS::EC2::Subnet", {"MapPublicIpOnLaunch": True})
        default_template.has_resource_properties(
            "AWS::EC2::FlowLog", {"LogDestinationType": "s3", "ResourceType": "VPC", "TrafficType": "ALL"}
        )

    def test_existing_vpc_and_subnet_are_used_not_created(self, existing_vpc_template: Template) -> None:
        existing_vpc_template.resource_count_is("AWS::EC2::VPC", 0)
        existing_vpc_template.has_resource_properties(INSTANCE, {"SubnetId": "subnet-0ddd3333eeee4444f"})
        existing_vpc_template.has_resource_properties("AWS::EC2::SecurityGroup", {"VpcId": "vpc-0abc12345def67890"})


HUB_OUTPUTS = {"DashboardUrl", "FlServerAddress", "ElasticIp", "InstanceId", "DataVolumeId", "SsmSessionCommand", "AdminSecretName",
               "KitBucket", "CertificateMode", "AlertTopicArn", "DashboardFingerprintCommand"}  # fmt: skip


def test_outputs_tell_the_admin_how_to_reach_everything(default_template: Template, dns_template: Template) -> None:
    """Exactly these: an output is readable by anyone who can describe the stack."""
    for template in (default_template, dns_template):
        assert set(template.to_json()["Outputs"]) == HUB_OUTPUTS
    outputs = default_template.to_json()["Outputs"]
    command = outputs["SsmSessionCommand"]["Value"]["Fn::Join"][1]
    assert command[0] == "aws ssm start-session --target "
    # The proxy's log group, and the label hubctl.py proxy writes before the fingerprint.
    fingerprint = outputs["DashboardFingerprintCommand"]["Value"]["Fn::Join"][1]
    groups = default_template.find_resources("AWS::Logs::LogGroup")
    assert fingerprint[1] == {"Ref": next(k for k, g in groups.items() if g["Properties"]["LogGroupName"]["Fn::Join"][1][-1] == "proxy")}
    assert "'\"SHA-256 fingerprint\"'" in fingerprint[2]
    assert 'log(f"dashboard certificate {FINGERPRINT_LABEL}: ' in (HOSTS_DIR / "hub" / "hub_services.py").read_text()
    assert 'FINGERPRINT_LABEL = "SHA-256 fingerprint"' in (HOSTS_DIR / "hub" / "hub_certificates.py").read_text()


class TestDataVolume:
    def test_encrypted_gp3_retained_and_attached_to_the_hub(self, default_template: Template) -> None:
        volume_id = logical_id(default_template, "AWS::EC2::Volume")
        volume = only(default_template, "AWS::EC2::Volume")
        assert volume["Properties"]["Encrypted"] is True
        assert volume["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [logical_id(default_template, "AWS::KMS::Key"), "Arn"]}
        vault = only(default_template, "AWS::Backup::BackupVault")["Properties"]
        assert vault["EncryptionKeyArn"] == volume["Properties"]["KmsKeyId"]
        assert [s for s in hub_policy(default_template) if s["Action"] == "kms:CreateGrant"] == [
            {"Action": "kms:CreateGrant", "Effect": "Allow", "Resource": "*", "Condition": {
                "StringEquals": {"kms:ViaService": {"Fn::Join": ["", ["ec2.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}},
                "Bool": {"kms:GrantIsForAWSResource": "true"}}}
        ]  # fmt: skip
        assert volume["Properties"]["VolumeType"] == "gp3"
        assert volume["Properties"]["Size"] == 20
        assert volume["DeletionPolicy"] == "Retain" and volume["UpdateReplacePolicy"] == "Retain"
        assert f'readonly DATA_VOLUME_ID=\'<{{"Ref": "{volume_id}"}}>\'' in bootstrap_part(default_template)

    def test_the_hub_attaches_its_volume_itself_and_only_that_one(self, default_template: Template) -> None:
        """No VolumeAttachment: CloudFormation creates a replacement instance while the old one
        still holds the volume. The bootstrap attaches it with the role, scoped to this volume
        and to the stack's own instances."""
        default_template.resource_count_is("AWS::EC2::VolumeAttachment", 0)
        volume_id = logical_id(default_template, "AWS::EC2::Volume")
        attach = [s for s in hub_policy(default_template) if "ec2" in json.dumps(s["Action"])]
        assert attach == [
            {"Action": "ec2:DescribeVolumes", "Effect": "Allow", "Resource": "*"},
            {
                "Action": "ec2:AttachVolume",
                "Effect": "Allow",
                "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ec2:", {"Ref": "AWS::Region"}, ":",
                                               {"Ref": "AWS::AccountId"}, ":volume/", {"Ref": volume_id}]]},
            },
            {
                "Action": "ec2:AttachVolume",
                "Condition": {"StringEquals": {"aws:ResourceTag/aws:cloudformation:stack-id": {"Ref": "AWS::StackId"}}},
                "Effect": "Allow",
                "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ec2:", {"Ref": "AWS::Region"}, ":",
                                               {"Ref": "AWS::AccountId"}, ":instance/*"]]},
            },
        ]  # fmt: skip

    def test_volume_is_in_the_instances_subnet_az(self, default_template: Template, existing_vpc_template: Template) -> None:
        instance_subnet = only(default_template, INSTANCE)["Properties"]["SubnetId"]["Ref"]
        subnet_az = default_template.to_json()["Resources"][instance_subnet]["Properties"]["AvailabilityZone"]
        assert only(default_template, "AWS::EC2::Volume")["Properties"]["AvailabilityZone"] == subnet_az
        assert only(existing_vpc_template, "AWS::EC2::Volume")["Properties"]["AvailabilityZone"] == "us-west-2b"

    def test_daily_backups_kept_35_days(self, default_template: Template) -> None:
        default_template.has_resource_properties(
            "AWS::Backup::BackupPlan",
            {
                "BackupPlan": {
                    "BackupPlanRule": [Match.object_like({"ScheduleExpression": "cron(0 3 * * ? *)", "Lifecycle": {"DeleteAfterDays": 35}})]
                }
            },
        )
        selection = only(default_template, "AWS::Backup::BackupSelection")["Properties"]["BackupSelection"]
        assert logical_id(default_template, "AWS::EC2::Volume") in json.dumps(selection["Resources"])
        assert only(default_template, "AWS::Backup::BackupVault")["DeletionPolicy"] == "Retain"


class TestRuntime:
    def test_host_reads_exactly_the_runtime_asset(self, default_template: Template) -> None:
        statements = [s for s in hub_policy(default_template) if "cdk-hnb659fds-assets" in json.dumps(s)]
        assert len(statements) == 1 and statements[0]["Action"] == "s3:GetObject"
        resource = render(statements[0]["Resource"])
        assert resource.endswith(".zip") and "*" not in resource
        key = resource.rsplit("/", 1)[1]
        assert f"readonly RUNTIME_KEY={key}" in bootstrap_part(default_template)

    def test_provided_certificate_secret_is_readable(self) -> None:
        from tests.harness.synth_fixtures import federation, synth_hub

        template = synth_hub(federation(certificate={"mode": "provided", "secret_name": "it/flareboard-cert"}))
        statements = json.dumps(hub_policy(template))
        assert ":secret:it/flareboard-cert-??????" in statements
        assert '\nCERT_SECRET_NAME="it/flareboard-cert"\n' in bootstrap_part(template)
        template.has_output("CertificateMode", {"Value": "provided"})


def test_restore_adopts_an_existing_data_volume() -> None:
    from tests.harness.synth_fixtures import federation, synth_hub

    template = synth_hub(federation(hub={"data_volume_id": "vol-0123456789abcdef0", "admin_secret": "existing"}))
    template.resource_count_is("AWS::EC2::Volume", 0)
    assert ":volume/vol-0123456789abcdef0" in json.dumps(hub_policy(template))
    assert "readonly DATA_VOLUME_ID=vol-0123456789abcdef0" in bootstrap_part(template)
    assert "vol-0123456789abcdef0" in json.dumps(only(template, "AWS::Backup::BackupSelection"))
    template.has_output("DataVolumeId", {"Value": "vol-0123456789abcdef0"})


def test_restore_adopts_the_kept_elastic_ip() -> None:
    """Kits name the server by address when there is no DNS: a rebuilt hub keeps the old one."""
    from tests.harness.synth_fixtures import DNS, federation, synth_hub

    template = synth_hub(federation(dns=DNS, hub={"elastic_ip": {"allocation_id": "eipalloc-0123456789abcdef0", "address": "52.10.20.30"}}))
    template.resource_count_is("AWS::EC2::EIP", 0)
    template.has_resource_properties(
        "AWS::EC2::EIPAssociation", {"AllocationId": "eipalloc-0123456789abcdef0", "InstanceId": {"Ref": logical_id(template, INSTANCE)}}
    )
    template.has_resource_properties("AWS::Route53::RecordSet", {"Name": "flareboard.mydomain.edu.", "ResourceRecords": ["52.10.20.30"]})
    template.has_output("ElasticIp", {"Value": "52.10.20.30"})


class TestCloudRequirements:
    """What AWS's own documentation requires of these templates (issue: what would break on the real clouds)."""

    def test_flow_logs_can_write_to_the_audit_bucket_without_aws_rewriting_its_policy(self, default_template, client_template) -> None:
        for template in (default_template, client_template):
            policies = [p["Properties"]["PolicyDocument"]["Statement"] for p in template.find_resources("AWS::S3::BucketPolicy").values()]
            delivery = [
                s for statements in policies for s in statements if s.get("Principal", {}).get("Service") == "delivery.logs.amazonaws.com"
            ]
            actions = sorted(json.dumps(statement["Action"], sort_keys=True) for statement in delivery)
            assert actions == ['"s3:PutObject"', '["s3:GetBucketAcl", "s3:ListBucket"]']
            (audit,) = [statements for statements in policies if any(s in delivery for s in statements)]
            assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in audit)  # SSL-only kept beside them

    def test_the_public_address_and_instances_wait_for_the_internet_gateway_and_the_routes(self, default_template, client_template) -> None:
        """A host that boots before its subnet's default route cannot reach the package indexes."""
        for template, kinds in ((default_template, ("AWS::EC2::EIP", "AWS::EC2::Instance")), (client_template, ("AWS::EC2::Instance",))):
            attachment = logical_id(template, "AWS::EC2::VPCGatewayAttachment")
            routes = {name for name, r in template.find_resources("AWS::EC2::Route").items() if "GatewayId" in r["Properties"]}
            assert len(routes) == 2
            for kind in kinds:
                resource = only(template, kind)
                assert {attachment, *routes} <= set(resource.get("DependsOn", [])), kind

    def test_a_looked_up_vpc_adds_no_gateway_dependency(self, existing_vpc_template) -> None:
        assert existing_vpc_template.find_resources("AWS::EC2::VPCGatewayAttachment") == {}
        # The looked-up VPC's gateway and routes are not in the template: nothing to wait for.
        assert "DependsOn" not in only(existing_vpc_template, "AWS::EC2::EIP")
        assert set(only(existing_vpc_template, "AWS::EC2::Instance")["DependsOn"]) == {
            "HubHostRoleDefaultPolicy8A80524E",
            "HubHostRoleB7E8F496",
        }


def test_restore_adopts_the_kept_admin_secret() -> None:
    """cdk destroy keeps <project>/dashboard-admin: a rebuild reads it instead of creating it again."""
    from tests.harness.synth_fixtures import federation, synth_hub

    template = synth_hub(federation(hub={"data_volume_id": "vol-0123456789abcdef0", "admin_secret": "existing"}))
    template.resource_count_is("AWS::SecretsManager::Secret", 0)
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert ":secret:cancer-fl/dashboard-admin-??????" in policies and "secretsmanager:GetSecretValue" in policies
    template.has_output("AdminSecretName", {"Value": "cancer-fl/dashboard-admin"})
    assert '\nADMIN_SECRET_NAME="cancer-fl/dashboard-admin"\n' in bootstrap_part(template)


def test_a_new_hub_creates_the_secret_and_a_vault_whose_name_does_not_repeat() -> None:
    """Both are retained by cdk destroy: the secret has its adoption path (above), and the vault's
    name carries the stack's own id, so a rebuilt stack never collides with the kept vault."""
    from tests.harness.synth_fixtures import federation, synth_hub

    template = synth_hub(federation())
    template.resource_count_is("AWS::SecretsManager::Secret", 1)
    vault = only(template, "AWS::Backup::BackupVault")
    assert vault["DeletionPolicy"] == "Retain"
    assert vault["Properties"]["BackupVaultName"] == {
        "Fn::Join": [
            "-",
            [
                {"Ref": "AWS::StackName"},
                "data",
                {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]},
            ],
        ]
    }


def test_every_retained_resource_with_a_fixed_name_has_an_adoption_path() -> None:
    """A resource cdk destroy keeps under a name the next deploy would use again makes that deploy fail
    (AlreadyExists): each such name must be one the federation file can adopt."""
    from tests.harness.synth_fixtures import federation, synth_hub

    template = synth_hub(federation()).to_json()
    name_keys = ("Name", "SecretName", "BackupVaultName", "BucketName", "LogGroupName", "RoleName", "TopicName", "KeyAlias")
    fixed = {
        (resource["Type"], key)
        for resource in template["Resources"].values()
        if resource.get("DeletionPolicy") == "Retain"
        for key in name_keys
        if isinstance(resource.get("Properties", {}).get(key), str)
    }
    assert fixed == {("AWS::SecretsManager::Secret", "Name")}  # adopted with hub.admin_secret: existing


@pytest.mark.parametrize("restore", [False, True], ids=["new", "restore"])
def test_the_hub_role_uses_the_project_key_only_through_a_service(restore: bool) -> None:
    """The README: the hub may decrypt with the project key only through Secrets Manager, S3 or
    EC2 (kms:ViaService), in IAM policies and in the key's own policy alike."""
    from tests.harness.synth_fixtures import federation, synth_hub

    restored = {"hub": {"data_volume_id": "vol-0123456789abcdef0", "admin_secret": "existing", "kit_bucket": "kept-kits-bucket"}}
    template = synth_hub(federation(**(restored if restore else {})))
    role = {"Fn::GetAtt": [hub_role(template), "Arn"]}
    granted = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": hub_role(template)} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    granted += [s for k in template.find_resources("AWS::KMS::Key").values()
                for s in k["Properties"]["KeyPolicy"]["Statement"] if s.get("Principal") == {"AWS": role}]  # fmt: skip
    kms = [s for s in granted if any(a.startswith("kms:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))]
    assert kms and all("kms:ViaService" in s.get("Condition", {}).get("StringEquals", {}) for s in kms), kms
    services = {s["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Join"][1][0].rstrip(".") for s in kms}
    assert services == {"secretsmanager", "s3", "ec2"}


def test_without_dns_the_hub_may_read_its_own_elastic_ip_and_nothing_more(default_template: Template, dns_template: Template) -> None:
    """It freezes the project on the Elastic IP EC2 associated, not on the metadata's launch address."""
    lookups = [p for name, p in default_template.find_resources("AWS::IAM::Policy").items() if "AddressLookupPolicy" in name]
    assert [p["Properties"]["PolicyDocument"]["Statement"] for p in lookups] == [
        [{"Action": "ec2:DescribeAddresses", "Effect": "Allow", "Resource": "*"}]
    ]
    assert [name for name in dns_template.find_resources("AWS::IAM::Policy") if "AddressLookupPolicy" in name] == []


@pytest.mark.parametrize("cloudtrail", ["existing", "create"])
def test_what_cdk_destroy_keeps_is_what_the_readme_lists(cloudtrail: str) -> None:
    """The Project Admin's tear-down table names every resource the stack retains, by kind and count."""
    from collections import Counter

    from tests.harness.synth_fixtures import federation, synth_hub

    template = synth_hub(federation(audit={"cloudtrail": cloudtrail}))
    kept = Counter(r["Type"] for r in template.to_json()["Resources"].values() if r.get("DeletionPolicy") == "Retain")
    trail = cloudtrail == "create"
    assert kept == Counter({"AWS::EC2::EIP": 1, "AWS::EC2::Volume": 1, "AWS::Backup::BackupVault": 1, "AWS::KMS::Key": 1,
                            "AWS::SecretsManager::Secret": 1, "AWS::S3::Bucket": 2 + trail, "AWS::Logs::LogGroup": 8 + trail})  # fmt: skip
    readme = (ROOT / "docs" / "project-admin.md").read_text()
    table = readme[readme.index("| Kept by `cdk destroy` |") : readme.index("Client sites: `cdk destroy FlareClient-<site>`")]
    for row in ("Elastic IP", "Data volume", "Backup vault", "Project KMS key", "Admin secret", "Kit bucket", "Audit log bucket",
                "8 log groups", "audit.cloudtrail: create"):  # fmt: skip
        assert f"| {row}" in table or row in table, row
