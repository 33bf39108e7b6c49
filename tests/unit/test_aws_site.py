"""FlareClient-<site>: an AWS GPU client site, asserted on its synthesized template."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template

from tests.harness.governance import without_default_policy
from tests.harness.templates import (
    SESSION_MANAGER_STATEMENTS,
    bootstrap_part,
    cloud_config,
    logical_id,
    only,
    render,
    session_manager_statements,
)

INSTANCE = "AWS::EC2::Instance"


def test_instance_type_is_chosen_for_the_gpus_and_explained(client_template: Template, client_template_without_kit: Template) -> None:
    client_template.has_resource_properties(INSTANCE, {"InstanceType": "g6.12xlarge"})  # 4 x L4: cheapest 4-GPU type with 22 GiB
    reason = client_template.to_json()["Outputs"]["InstanceTypeReason"]["Value"]
    assert reason.startswith("g6.12xlarge (4 x L4 22.4 GiB, 48 vCPUs): cheapest of")
    client_template_without_kit.has_resource_properties(INSTANCE, {"InstanceType": "g4dn.xlarge"})


def test_deep_learning_ami_resolved_at_launch(client_template: Template) -> None:
    image = only(client_template, INSTANCE)["Properties"]["ImageId"]
    assert image == "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"


def test_no_inbound_rules_at_all(client_template: Template) -> None:
    group = only(client_template, "AWS::EC2::SecurityGroup")["Properties"]
    assert "SecurityGroupIngress" not in group
    assert client_template.find_resources("AWS::EC2::SecurityGroupIngress") == {}
    assert [rule["CidrIp"] for rule in group["SecurityGroupEgress"]] == ["0.0.0.0/0"]  # dials out to the hub, PyPI, apt


def test_imdsv2_encrypted_root_monitoring_and_session_manager(client_template: Template) -> None:
    client_template.has_resource_properties(
        INSTANCE,
        {
            "BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 150, "VolumeType": "gp3", "Encrypted": True}}],
            "Monitoring": True,
        },
    )
    assert "KeyName" not in only(client_template, INSTANCE)["Properties"]
    client_template.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {"LaunchTemplateData": Match.object_like({"MetadataOptions": {"HttpTokens": "required"}})},
    )
    role = only(client_template, "AWS::IAM::Role")["Properties"]
    assert session_manager_statements(client_template, role) == SESSION_MANAGER_STATEMENTS


def test_spot_is_persistent_and_stops_on_interruption(client_template: Template, client_template_without_kit: Template) -> None:
    client_template.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {
            "LaunchTemplateData": Match.object_like(
                {
                    "InstanceMarketOptions": {
                        "MarketType": "spot",
                        "SpotOptions": {"SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "stop"},
                    }
                }
            )
        },
    )
    template = only(client_template_without_kit, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]
    assert "InstanceMarketOptions" not in template


def test_the_kit_is_an_asset_only_this_instance_may_read(client_template: Template) -> None:
    statements = only(client_template, "AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]
    assert len(statements) == 1 and statements[0]["Action"] == "s3:GetObject"
    resource = render(statements[0]["Resource"])
    assert resource.endswith(".zip") and "*" not in resource
    script = bootstrap_part(client_template)
    assert f"readonly BUNDLE_KEY={resource.rsplit('/', 1)[1]}" in script


def test_bootstrap_runs_the_shared_runtime_with_the_site_settings(client_template: Template) -> None:
    script = bootstrap_part(client_template)
    assert script.startswith("#!/bin/bash\n")
    # client.env is rendered at synth (flarectl/client_runtime.py) and written as it is.
    header = script.split("readonly ROOT=")[0]
    result = subprocess.run(["bash", "-c", header + '\nprintf %s "$CLIENT_SETTINGS"'], capture_output=True, text=True, check=True)
    settings = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    assert without_default_policy(settings) == ["SITE_NAME=onc-lab", "NVFLARE_VERSION=2.9.0", "REQUIREMENTS=torch==2.5.1", "GPUS=4", "GPU_MEMORY_GIB=22",
                        "SITE_ROOT=/var/lib/nvflare-client", "KIT_SOURCE=/opt/nvflare-client/bundle/kit", "VENV=/opt/nvflare-client/venv",
                        "VENV_MANAGED=true", "PYTHON=python3", "UV_VERSION=0.13.8"]  # fmt: skip
    assert 'bash "${BUNDLE}/runtime/install-service.sh" "${SETTINGS_FILE}"' in script
    assert ["scripts-user", "always"] in cloud_config(client_template)["cloud_final_modules"]


def test_missing_kit_synthesizes_but_deploy_is_refused(client_template_without_kit: Template) -> None:
    rules = client_template_without_kit.to_json()["Rules"]
    rule = next(rule for name, rule in rules.items() if name.startswith("SiteStartupKitRequired"))
    assertion = rule["Assertions"][0]
    parameter = assertion["Assert"]["Fn::Equals"][0]["Ref"]
    assert client_template_without_kit.to_json()["Parameters"][parameter]["Default"] == "missing"
    assert assertion["Assert"]["Fn::Equals"][1] == "present"
    assert assertion["AssertDescription"].startswith("Site gpu-site-1: no startup kit at kits/gpu-site-1. Download the site's kit")
    assert client_template_without_kit.find_resources("AWS::IAM::Policy") == {}


def test_outputs_say_which_instance_why_and_how_to_see_the_log(client_template: Template) -> None:
    outputs = client_template.to_json()["Outputs"]
    assert set(outputs) == {"InstanceId", "InstanceType", "InstanceTypeReason", "SsmSessionCommand", "ClientLogCommand"}
    assert "journalctl -u flare-client -f" in render(outputs["ClientLogCommand"]["Value"])
    assert outputs["InstanceId"]["Value"] == {"Ref": logical_id(client_template, INSTANCE)}


def test_the_kit_bundle_is_built_inside_cdk_out_only(client_federation, tmp_path) -> None:
    """The bundle holds client.key: it may exist under cdk.out and nowhere else (not /tmp)."""
    import glob
    import tempfile

    import aws_cdk as cdk

    from app import build_app
    from tests.harness.synth_fixtures import CDK_JSON_CONTEXT

    before = set(glob.glob(f"{tempfile.gettempdir()}/*"))
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=CDK_JSON_CONTEXT)
    build_app(client_federation, app=app)
    app.synth()
    bundle = tmp_path / "cdk.out" / "site-bundles" / "onc-lab"
    assert (bundle / "kit" / "startup" / "fed_client.json").exists() and (bundle / "runtime" / "flare-client.sh").exists()
    assert oct(bundle.stat().st_mode & 0o777) == "0o700"
    created = set(glob.glob(f"{tempfile.gettempdir()}/*")) - before
    assert not [path for path in created if list(Path(path).rglob("fed_client.json"))]


def test_offline_synth_says_what_credentials_would_decide_differently(client_federation, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """aws.account set, no way to reach AWS: the built-in table's type and a new VPC are what the
    review shows; the summary says a synth with credentials may choose another type and the
    account's default VPC (issue 28)."""
    import aws_cdk as cdk

    from app import build_app
    from flarectl.sites.aws.instance_types import choose_instance_type
    from flarectl.summary import summarize
    from tests.harness.synth_fixtures import ACCOUNT, CDK_JSON_CONTEXT, REGION

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: like being offline
    choose_instance_type.cache_clear()
    federation = client_federation.model_copy(
        update={"aws": client_federation.aws.model_copy(update={"account": ACCOUNT, "region": REGION})}
    )
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=CDK_JSON_CONTEXT)
    build_app(federation, app=app)
    app.synth()
    decisions = (tmp_path / "cdk.out" / "synth-decisions.txt").read_text().splitlines()
    vpc_note = f"with credentials for account {ACCOUNT}, synth looks up its default VPC in {REGION} and uses it if there is one, instead of a new VPC"
    type_note = (f"with credentials for account {ACCOUNT}, synth chooses from EC2's catalogue for {REGION} (what that region offers) "
                 "and may pick another type")  # fmt: skip
    assert [line.split(":", 1)[0] for line in decisions] == ["FlareServerStack", "FlareClient-onc-lab"]
    assert vpc_note in decisions[0] and type_note not in decisions[0]
    assert vpc_note in decisions[1] and type_note in decisions[1] and "the built-in table" in decisions[1]
    summary = summarize(tmp_path / "cdk.out")
    assert "Decided at synth (and what a synth with credentials would decide differently):" in summary
    assert f"  {decisions[1]}" in summary.splitlines()
    choose_instance_type.cache_clear()
