"""A real `cdk bootstrap` + `cdk deploy FlareServerStack` with the pinned CLI into moto_server.

What moto does not model is asserted on the template instead (tests/unit/test_server_stack.py):
bucket versioning, public access block, access logging and bucket policies (SSL only),
managed policy ARNs, instance security groups and launch-template metadata options.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from flarectl.host_scripts import HOSTS_DIR
from tests.harness.emulated_deploy import AMI_PARAMETER, REGION, Deployment, bootstrap, user_data_parts
from tests.harness.imds import imds
from tests.harness.local import cdk


def federation_yaml(zone_id: str, instance_type: str, ami_parameter: str = AMI_PARAMETER) -> str:
    return f"""\
project: motofl
project_admin_email: admin@flare.test
hub:
  instance_type: {instance_type}
  ami_ssm_parameter: {ami_parameter}
dns:
  hosted_zone_id: {zone_id}
  zone_name: flare.test
  dashboard_name: dashboard.flare.test
  server_name: server.flare.test
"""


@pytest.fixture(scope="module")
def deployment(aws_emulator: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    deployment = Deployment(aws_emulator, tmp_path_factory.mktemp("deploy"), zone_name="flare.test")
    deployment.first = deployment.deploy(federation_yaml(deployment.zone_id, "t3.medium"), "first")
    return deployment


def bootstrap_settings(deployment: Deployment, instance_id: str) -> dict[str, str]:
    """The settings rendered into the bootstrap (its `# @SETTINGS@` line), and those of the
    client.env (CLIENT_SETTINGS) or hub.env (HUB_ENV) it carries, as bash reads them."""
    script = user_data_parts(deployment, instance_id)["text/x-shellscript"]
    header = re.split(r"\nreadonly ROOT=|\n# The rest of ", script)[0]  # the settings; the hub's body is packed below them
    settings = read_settings(header, re.findall(r"^readonly ([A-Z][A-Z0-9_]*)=", header, re.M))
    for carried in ("CLIENT_SETTINGS", "HUB_ENV"):
        if carried in settings:
            settings |= read_settings(settings[carried], re.findall(r"^([A-Z][A-Z0-9_]*)=", settings[carried], re.M))
    return settings


def read_settings(shell: str, names: list[str]) -> dict[str, str]:
    printed = subprocess.run(["bash", "-c", shell + "".join(f'\nprintf "%s\\0" "${{{name}}}"' for name in names)],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    return dict(zip(names, printed.split("\0")[:-1], strict=True))


def instance(deployment: Deployment, instance_id: str) -> dict[str, Any]:
    reservations = deployment.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]


def a_records(deployment: Deployment) -> dict[str, list[str]]:
    records = deployment.client("route53").list_resource_record_sets(HostedZoneId=deployment.zone_id)["ResourceRecordSets"]
    return {r["Name"]: [v["Value"] for v in r["ResourceRecords"]] for r in records if r["Type"] == "A"}


def test_outputs(deployment: Deployment) -> None:
    outputs = deployment.first
    assert outputs["DashboardUrl"] == "https://dashboard.flare.test"
    assert outputs["FlServerAddress"] == "server.flare.test:8002"
    assert outputs["AdminSecretName"] == "motofl/dashboard-admin"
    assert outputs["SsmSessionCommand"] == f"aws ssm start-session --target {outputs['InstanceId']} --region {REGION}"
    assert outputs["CertificateMode"] == "letsencrypt"


def test_instance_runs_the_ubuntu_image_with_the_bootstrap(deployment: Deployment) -> None:
    hub = instance(deployment, deployment.first["InstanceId"])
    assert hub["State"]["Name"] == "running"
    assert hub["InstanceType"] == "t3.medium"
    assert hub["ImageId"] == deployment.image_id
    parts = user_data_parts(deployment, hub["InstanceId"])
    config = yaml.safe_load(parts["text/cloud-config"])
    assert ["scripts-user", "always"] in config["cloud_final_modules"]
    assert config["write_files"][0]["path"] == "/opt/nvflare/bin/fetch_s3_zip.py"
    script = parts["text/x-shellscript"]
    assert script.startswith("#!/bin/bash\n")
    settings = bootstrap_settings(deployment, hub["InstanceId"])
    assert settings["NVFLARE_VERSION"] == "2.9.0"
    assert settings["KIT_BUCKET"] == deployment.first["KitBucket"]  # references were resolved
    assert settings["AWS_REGION"] == "us-east-1"
    assert settings["CERTIFICATE_MODE"] == "letsencrypt" and settings["DASHBOARD_NAME"] == "dashboard.flare.test"
    volumes = deployment.client("ec2").describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [hub["InstanceId"]]}])[
        "Volumes"
    ]
    root = [v for v in volumes if v["VolumeId"] != deployment.first["DataVolumeId"]]
    assert [(v["Size"], v["VolumeType"], v["Encrypted"]) for v in root] == [(40, "gp3", True)]


def attach_data_volume(deployment: Deployment, instance_id: str, volume_id: str) -> subprocess.CompletedProcess[str]:
    """What the hub's bootstrap runs on `instance_id` (flarectl/hosts/hub/instance.py), against the emulator."""
    with imds({"instance-id": instance_id}) as endpoint:
        env = {**os.environ, "AWS_ENDPOINT_URL": deployment.endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint}  # fmt: skip
        command = [sys.executable, str(HOSTS_DIR / "hub" / "instance.py"), "attach", volume_id, "/dev/sdf", "--wait-minutes", "0.1"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def attachments(deployment: Deployment, volume_id: str) -> list[tuple[str, str]]:
    volume = deployment.client("ec2").describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    return [(a["InstanceId"], a["Device"]) for a in volume["Attachments"]]


def test_data_volume_is_named_in_the_bootstrap_which_attaches_it(deployment: Deployment) -> None:
    volume_id = deployment.first["DataVolumeId"]
    volume = deployment.client("ec2").describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    assert volume["Size"] == 20  # moto ignores VolumeType/Encrypted on AWS::EC2::Volume: asserted on the template
    assert bootstrap_settings(deployment, deployment.first["InstanceId"])["DATA_VOLUME_ID"] == volume_id
    assert attachments(deployment, volume_id) == []  # the template does not attach it
    result = attach_data_volume(deployment, deployment.first["InstanceId"], volume_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert attachments(deployment, volume_id) == [(deployment.first["InstanceId"], "/dev/sdf")]


def test_runtime_asset_was_published_where_the_bootstrap_fetches_it(deployment: Deployment) -> None:
    settings = bootstrap_settings(deployment, deployment.first["InstanceId"])
    bucket, key = settings["RUNTIME_BUCKET"], settings["RUNTIME_KEY"]
    archive = deployment.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert "hubctl.py" in names and "units/flare-dashboard.service" in names
    assert "bootstrap.sh" not in names


def test_elastic_ip_is_bound_to_the_instance(deployment: Deployment) -> None:
    addresses = deployment.client("ec2").describe_addresses()["Addresses"]
    assert [(a["PublicIp"], a["InstanceId"]) for a in addresses] == [(deployment.first["ElasticIp"], deployment.first["InstanceId"])]


def test_dns_records_hold_the_elastic_ip(deployment: Deployment) -> None:
    ip = deployment.first["ElasticIp"]
    assert a_records(deployment) == {"dashboard.flare.test.": [ip], "server.flare.test.": [ip]}


def test_kit_bucket_exists_and_is_kms_encrypted(deployment: Deployment) -> None:
    rules = deployment.client("s3").get_bucket_encryption(Bucket=deployment.first["KitBucket"])["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_admin_secret_holds_a_generated_password(deployment: Deployment, tmp_path: Path) -> None:
    value = json.loads(deployment.client("secretsmanager").get_secret_value(SecretId="motofl/dashboard-admin")["SecretString"])
    assert value["email"] == "admin@flare.test"
    assert len(value["password"]) == 24 and value["password"].isalnum()
    deployed_template = deployment.client("cloudformation").get_template(StackName="FlareServerStack")["TemplateBody"]
    assert value["password"] not in json.dumps(deployed_template)
    assert value["password"] not in json.dumps(deployment.first)


def test_host_role_can_read_kits_and_the_secret(deployment: Deployment) -> None:
    iam = deployment.client("iam")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("FlareServerStack-HubHostRole")]
    assert len(roles) == 1
    policies = iam.list_role_policies(RoleName=roles[0])["PolicyNames"]
    documents = json.dumps([iam.get_role_policy(RoleName=roles[0], PolicyName=p)["PolicyDocument"] for p in policies])
    assert f"{deployment.first['KitBucket']}/server/*" in documents
    assert "secretsmanager:GetSecretValue" in documents
    assert "_acme-challenge.dashboard.flare.test" in documents


def test_alarms_reach_the_admin_and_watch_what_the_health_check_publishes(deployment: Deployment) -> None:
    """The deployed topic, subscription, alarms and backup rule; then the hub's own metrics
    module publishes into the emulator, and every NVFlare alarm finds its metric there."""
    topic = deployment.first["AlertTopicArn"]
    subscriptions = deployment.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "admin@flare.test")]
    cloudwatch = deployment.client("cloudwatch")
    alarms = [a for a in cloudwatch.describe_alarms()["MetricAlarms"] if a["AlarmActions"] == [topic]]
    assert sorted(a["MetricName"] for a in alarms) == [
        "DashboardCertificateDaysLeft", "DataVolumeUsedPercent", "HealthCheckFailed", "RefusedFlHandshakes", "RefusedLogins",
        "StatusCheckFailed"]  # fmt: skip
    assert all(a["OKActions"] == [topic] for a in alarms)
    rules = deployment.client("events").list_rules()["Rules"]
    assert [json.loads(r["EventPattern"])["source"] for r in rules] == [["aws.backup"]]

    spec = importlib.util.spec_from_file_location("hub_metrics", HOSTS_DIR / "hub" / "hub_metrics.py")
    assert spec and spec.loader
    hub_metrics = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hub_metrics)
    env = {"AWS_ENDPOINT_URL": deployment.endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": REGION}  # fmt: skip
    problems: list[str] = []
    with mock.patch.dict(os.environ, env):
        values = hub_metrics.measurements(failed=True, certificate=Path("/nonexistent"), data=Path("/"))
        values[hub_metrics.CERTIFICATE_DAYS_LEFT] = (12.5, "None")
        hub_metrics.publish("motofl", values, problems.append)
    assert problems == []
    published = {
        (m["Namespace"], m["MetricName"], json.dumps(m["Dimensions"])) for m in cloudwatch.list_metrics(Namespace="NVFlare/Hub")["Metrics"]
    }
    watched = {(a["Namespace"], a["MetricName"], json.dumps(a["Dimensions"])) for a in alarms if a["Namespace"] == "NVFlare/Hub"}
    assert watched == published


def test_the_audit_trail_groups_exist_where_the_bootstrap_ships_them(deployment: Deployment) -> None:
    prefix = bootstrap_settings(deployment, deployment.first["InstanceId"])["LOG_GROUP_PREFIX"]
    assert re.fullmatch(r"/nvflare/motofl/[0-9a-f]{8}", prefix)
    groups = deployment.client("logs").describe_log_groups(logGroupNamePrefix="/nvflare/motofl/")["logGroups"]
    assert {g["logGroupName"] for g in groups} == {f"{prefix}/{name}" for name in
                                                   ("fl-server-audit", "fl-server", "dashboard", "proxy", "health", "certificates", "kits", "bootstrap")}  # fmt: skip
    assert {g["retentionInDays"] for g in groups} == {400}  # moto ignores KmsKeyId: asserted on the template
    # The alarms' counts come from metric filters on the groups the hub ships the lines to.
    filters = deployment.client("logs").describe_metric_filters()["metricFilters"]
    assert {(f["logGroupName"], f["filterPattern"], f["metricTransformations"][0]["metricName"]) for f in filters} == {
        (f"{prefix}/proxy", '"refused login from"', "RefusedLogins"),
        (f"{prefix}/fl-server", '"Handshake failed"', "RefusedFlHandshakes"),
    }


def test_a_deploy_that_forgets_the_config_flag_changes_nothing(deployment: Deployment, tmp_path: Path) -> None:
    """The README's deploy, then the same command without `-c config=`: the checkout remembers
    the file, so the deployed hub is untouched and the real federation's files stay in cdk.out."""
    env = {**deployment.env, "FLARECTL_REMEMBERED_FEDERATION": str(tmp_path / "remembered")}
    cloudformation = deployment.client("cloudformation")
    before = cloudformation.get_template(StackName="FlareServerStack")["TemplateBody"]
    out = str(deployment.workdir / "first.out")
    named = cdk("synth", "--quiet", "-c", f"config={deployment.workdir / 'first.yaml'}", "-o", out, env=env)
    assert named.returncode == 0, named.stderr
    forgot = cdk("deploy", "FlareServerStack", "-o", out, "--require-approval", "never", "--method=direct", env=env)
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert f"Federation file: {(deployment.workdir / 'first.yaml').resolve()} (remembered in" in forgot.stderr
    assert "(no changes)" in forgot.stdout + forgot.stderr
    assert cloudformation.get_template(StackName="FlareServerStack")["TemplateBody"] == before


def test_redeploy_with_another_instance_type_keeps_address_and_names(deployment: Deployment) -> None:
    second = deployment.deploy(federation_yaml(deployment.zone_id, "t3.large"), "second")
    assert second["ElasticIp"] == deployment.first["ElasticIp"]
    assert a_records(deployment) == {"dashboard.flare.test.": [second["ElasticIp"]], "server.flare.test.": [second["ElasticIp"]]}
    hub = instance(deployment, second["InstanceId"])
    assert hub["InstanceType"] == "t3.large"
    assert second["InstanceId"] == deployment.first["InstanceId"]  # resized in place, as on AWS
    assert user_data_parts(deployment, hub["InstanceId"])["text/x-shellscript"].startswith("#!/bin/bash\n")
    assert second["DataVolumeId"] == deployment.first["DataVolumeId"]
    addresses = deployment.client("ec2").describe_addresses()["Addresses"]
    assert [(a["PublicIp"], a["InstanceId"]) for a in addresses] == [(second["ElasticIp"], second["InstanceId"])]
    assert second["KitBucket"] == deployment.first["KitBucket"]


def test_a_replacing_update_hands_the_data_volume_to_the_new_instance(deployment: Deployment) -> None:
    """A new AMI parameter makes CloudFormation replace the hub instance. With instance
    termination protection the old one could not be terminated; with a template
    VolumeAttachment the new one could not get the volume. Neither is there: the update
    completes, the old instance is gone, and the new one's bootstrap attaches the volume."""
    before = deployment.client("cloudformation").describe_stacks(StackName="FlareServerStack")["Stacks"][0]["Outputs"]
    old_instance = {o["OutputKey"]: o["OutputValue"] for o in before}["InstanceId"]
    volume_id = deployment.first["DataVolumeId"]
    assert attach_data_volume(deployment, old_instance, volume_id).returncode == 0  # the running hub holds it
    images = deployment.client("ec2").describe_images(Owners=["amazon"])["Images"]
    other_image = next(i["ImageId"] for i in images if i["ImageId"] != deployment.image_id)
    deployment.client("ssm").put_parameter(Name="/test/ubuntu-24.04-next/ami-id", Value=other_image, Type="String")
    third = deployment.deploy(federation_yaml(deployment.zone_id, "t3.large", "/test/ubuntu-24.04-next/ami-id"), "third")
    assert third["InstanceId"] != old_instance
    assert instance(deployment, old_instance)["State"]["Name"] == "terminated"
    assert instance(deployment, third["InstanceId"])["ImageId"] == other_image
    assert (third["ElasticIp"], third["DataVolumeId"], third["KitBucket"]) == (
        deployment.first["ElasticIp"], volume_id, deployment.first["KitBucket"])  # fmt: skip
    addresses = deployment.client("ec2").describe_addresses()["Addresses"]
    assert [(a["PublicIp"], a["InstanceId"]) for a in addresses] == [(third["ElasticIp"], third["InstanceId"])]
    assert attachments(deployment, volume_id) == []  # released by the terminated instance
    result = attach_data_volume(deployment, third["InstanceId"], volume_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert attachments(deployment, volume_id) == [(third["InstanceId"], "/dev/sdf")]


SITE_AMI_PARAMETER = "/test/dlami/ami-id"


@pytest.fixture(scope="module")
def site(aws_emulator: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    from tests.harness.synth_fixtures import fake_client_kit

    deployment = Deployment(aws_emulator, tmp_path_factory.mktemp("site"))
    image_id = deployment.client("ec2").describe_images(Owners=["amazon"])["Images"][1]["ImageId"]
    deployment.client("ssm").put_parameter(Name=SITE_AMI_PARAMETER, Value=image_id, Type="String", Overwrite=True)
    deployment.image_id = image_id
    kit = fake_client_kit(deployment.workdir, "lab-1")
    bootstrap(deployment.env)
    config = f"""\
project: motofl
project_admin_email: admin@flare.test
sites:
  - name: lab-1
    kind: aws
    kit: {kit}
    gpus: 1
    gpu_memory_gib: 22
    ami_ssm_parameter: {SITE_AMI_PARAMETER}
"""
    deployment.outputs = deployment.deploy(config, "site", stack="FlareClient-lab-1")
    return deployment


def test_site_instance_runs_the_chosen_type_and_image(site: Deployment) -> None:
    outputs = site.outputs
    assert outputs["InstanceType"] == "g6.xlarge"  # 1 x L4 (22.49 GiB as nvidia-smi reports it): cheapest with 22
    assert outputs["InstanceTypeReason"].startswith("g6.xlarge (1 x L4 22.4 GiB, 4 vCPUs): cheapest of")
    hub = instance(site, outputs["InstanceId"])
    assert (hub["InstanceType"], hub["ImageId"], hub["State"]["Name"]) == ("g6.xlarge", site.image_id, "running")


def test_site_bundle_was_uploaded_and_is_what_the_bootstrap_fetches(site: Deployment) -> None:
    settings = bootstrap_settings(site, site.outputs["InstanceId"])
    assert settings["SITE_NAME"] == "lab-1" and settings["GPUS"] == "1" and settings["GPU_MEMORY_GIB"] == "22"
    archive = site.client("s3").get_object(Bucket=settings["BUNDLE_BUCKET"], Key=settings["BUNDLE_KEY"])["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert "kit/startup/fed_client.json" in names and "runtime/flare-client.sh" in names and "runtime/flare-client.service" in names


def test_site_role_reads_only_its_bundle_and_nothing_comes_in(site: Deployment) -> None:
    iam = site.client("iam")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("FlareClient-lab-1-SiteHostRole")]
    assert len(roles) == 1
    documents = [
        iam.get_role_policy(RoleName=roles[0], PolicyName=p)["PolicyDocument"]
        for p in iam.list_role_policies(RoleName=roles[0])["PolicyNames"]
    ]
    statements = [s for d in documents for s in d["Statement"]]
    settings = bootstrap_settings(site, site.outputs["InstanceId"])
    assert statements == [
        {"Action": "s3:GetObject", "Effect": "Allow", "Resource": f"arn:aws:s3:::{settings['BUNDLE_BUCKET']}/{settings['BUNDLE_KEY']}"}
    ]
    groups = site.client("ec2").describe_security_groups(
        Filters=[{"Name": "description", "Values": ["NVFlare client lab-1: outbound only"]}]
    )
    assert [g["IpPermissions"] for g in groups["SecurityGroups"]] == [[]]


@pytest.mark.parametrize(("size", "created"), [(16384, True), (16385, False)])
def test_the_emulator_refuses_user_data_ec2_would_refuse(aws_emulator: dict[str, str], size: int, created: bool) -> None:
    """The emulator is no kinder than EC2: 16 KiB of raw user data at most (moto_server_plus, 11)."""
    import base64

    import boto3

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    cloudformation = session.client("cloudformation", endpoint_url=aws_emulator["AWS_ENDPOINT_URL"])
    ami = session.client("ec2", endpoint_url=aws_emulator["AWS_ENDPOINT_URL"]).describe_images()["Images"][0]["ImageId"]
    template = {"Resources": {"Host": {"Type": "AWS::EC2::Instance", "Properties": {
        "ImageId": ami, "InstanceType": "t3.micro", "UserData": base64.b64encode(b"#" * size).decode()}}}}  # fmt: skip
    name = f"UserData{size}"
    try:
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
        status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except Exception as error:  # moto reports a resource's refusal on the call
        status = f"refused: {error}"
    assert (status == "CREATE_COMPLETE") is created, status
    if not created:
        assert "User data is limited to 16384 bytes" in status
