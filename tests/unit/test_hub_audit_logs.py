"""The hub's audit trail in CloudWatch Logs: the log groups on the template, the agent's
configuration the host renders for them (validated against the agent's own schema), the
key policy and the role's permission. The agent itself cannot run here (it needs EC2)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
from aws_cdk.assertions import Template

from flarectl.host_scripts import HOSTS_DIR
from tests.harness.config_cases import problems, with_
from tests.harness.synth_fixtures import federation, synth_hub
from tests.harness.templates import bootstrap_part, hub_policy

AGENT = HOSTS_DIR / "hub" / "cloudwatch_agent.py"
SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "cloudwatch-agent-schema.json").read_text())
PREFIX = {"Fn::Join": ["", ["/nvflare/cancer-fl/", {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]}]]}  # fmt: skip
NAMES = {"fl-server-audit", "fl-server", "dashboard", "proxy", "health", "certificates", "kits", "bootstrap"}


def agent_module():
    spec = importlib.util.spec_from_file_location("cloudwatch_agent", AGENT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def log_groups(template: Template) -> dict[str, dict]:
    return {r["Properties"]["LogGroupName"]["Fn::Join"][1][1]: r for r in template.find_resources("AWS::Logs::LogGroup").values()}


def test_one_encrypted_retained_group_per_log_kept_400_days(default_template: Template) -> None:
    key = next(iter(default_template.find_resources("AWS::KMS::Key")))
    groups = log_groups(default_template)
    assert set(groups) == NAMES == set(agent_module().LOGS)
    for group in groups.values():
        assert group["Properties"]["LogGroupName"] == {"Fn::Join": ["/", [PREFIX, group["Properties"]["LogGroupName"]["Fn::Join"][1][1]]]}
        assert group["Properties"]["RetentionInDays"] == 400
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
        assert group["DeletionPolicy"] == "Retain" and group["UpdateReplacePolicy"] == "Retain"


def test_retention_comes_from_the_federation_file() -> None:
    template = synth_hub(federation(audit={"log_retention_days": 731}))
    assert {g["Properties"]["RetentionInDays"] for g in log_groups(template).values()} == {731}


def test_a_retention_cloudwatch_does_not_offer_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, with_(audit={"log_retention_days": 100})) == [
        "federation.yaml: audit.log_retention_days: 100 is not a CloudWatch Logs retention; use one of 1, 3, 5, 7, 14, 30, 60, 90, "
        "120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (days)"
    ]


def test_the_bootstrap_gets_the_prefix_and_the_role_may_write_only_there(default_template: Template) -> None:
    stack_id = json.dumps(PREFIX["Fn::Join"][1][1])
    assert f"readonly LOG_GROUP_PREFIX='/nvflare/cancer-fl/<{stack_id}>'" in bootstrap_part(default_template)
    groups = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"},
                                 ":log-group:/nvflare/cancer-fl/*"]]}  # fmt: skip
    streams = {"Fn::Join": ["", [*groups["Fn::Join"][1][:-1], ":log-group:/nvflare/cancer-fl/*:log-stream:*"]]}
    assert [s for s in hub_policy(default_template) if "logs:" in json.dumps(s["Action"])] == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Effect": "Allow",
            "Resource": [groups, streams],
        }
    ]


def test_the_key_lets_cloudwatch_logs_use_it_only_for_the_projects_groups(default_template: Template) -> None:
    statements = next(iter(default_template.find_resources("AWS::KMS::Key").values()))["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if "logs." in json.dumps(s.get("Principal", {}))]
    assert logs["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":log-group:/nvflare/cancer-fl/*"]]}}}  # fmt: skip


def test_the_agent_configuration_is_valid_for_the_agent_and_names_every_group() -> None:
    printed = subprocess.run([sys.executable, str(AGENT), "/nvflare/cancer-fl/1a2b3c4d"], capture_output=True, text=True, check=True).stdout
    config = json.loads(printed)
    jsonschema.validate(config, SCHEMA)
    collected = config["logs"]["logs_collected"]
    files = {e["log_group_name"]: e["file_path"] for e in collected["files"]["collect_list"]}
    units = {e["log_group_name"]: e["units"] for e in collected["journald"]["collect_list"]}
    assert files == {
        "/nvflare/cancer-fl/1a2b3c4d/fl-server-audit": "/var/lib/nvflare/kits/current/audit.log",  # NVFlare's audit trail
        "/nvflare/cancer-fl/1a2b3c4d/bootstrap": "/var/log/cloud-init-output.log",
    }
    assert units == {
        "/nvflare/cancer-fl/1a2b3c4d/fl-server": ["flare-server.service"],
        "/nvflare/cancer-fl/1a2b3c4d/dashboard": ["flare-dashboard.service"],
        "/nvflare/cancer-fl/1a2b3c4d/proxy": ["flare-proxy.service"],
        "/nvflare/cancer-fl/1a2b3c4d/health": ["flare-health.service"],
        "/nvflare/cancer-fl/1a2b3c4d/certificates": ["flare-cert-renew.service"],
        "/nvflare/cancer-fl/1a2b3c4d/kits": ["flare-kit-sync.service", "flare-project.service"],
    }
    every_unit = {p.name for p in (HOSTS_DIR / "hub" / "units").glob("*.service")}
    assert {u for names in units.values() for u in names} == every_unit  # a new service is shipped too


def test_the_agent_configuration_refuses_a_relative_prefix() -> None:
    result = subprocess.run([sys.executable, str(AGENT), "nvflare"], capture_output=True, text=True)
    assert result.returncode == 1 and "usage: cloudwatch_agent.py /LOG/GROUP/PREFIX" in result.stderr


def test_the_account_trail_is_made_only_when_asked(default_template: Template) -> None:
    default_template.resource_count_is("AWS::CloudTrail::Trail", 0)
    template = synth_hub(federation(audit={"cloudtrail": "create"}))
    trail = next(iter(template.find_resources("AWS::CloudTrail::Trail").values()))["Properties"]
    key = next(iter(template.find_resources("AWS::KMS::Key")))
    group = next(
        k
        for k, g in template.find_resources("AWS::Logs::LogGroup").items()
        if g["Properties"]["LogGroupName"]["Fn::Join"][1][1] == "cloudtrail"
    )
    assert {k: trail[k] for k in ("IsMultiRegionTrail", "IncludeGlobalServiceEvents", "EnableLogFileValidation", "IsLogging", "KMSKeyId")} == {
        "IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": True, "EnableLogFileValidation": True, "IsLogging": True,
        "KMSKeyId": {"Fn::GetAtt": [key, "Arn"]},
    }  # fmt: skip
    # CloudTrail takes a log group ARN ending in exactly one ":*" (CreateTrail, CloudWatchLogsLogGroupArn).
    assert trail["CloudWatchLogsLogGroupArn"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":log-group:", {"Ref": group}, ":*"]]}  # fmt: skip
    assert trail["TrailName"] == "FlareServerStack-account-trail"
    bucket = template.to_json()["Resources"][trail["S3BucketName"]["Ref"]]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["Properties"]["LoggingConfiguration"]["LogFilePrefix"] == "cloudtrail/"
    this_trail = {"aws:SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":cloudtrail:", {"Ref": "AWS::Region"}, ":",
                                                      {"Ref": "AWS::AccountId"}, ":trail/FlareServerStack-account-trail"]]}}  # fmt: skip
    # AWS's CloudTrail KMS guide ("Configure AWS KMS key policies for CloudTrail"): encrypt for this
    # account's trails, describe, and decrypt where the bucket uses an S3 Bucket Key; each with aws:SourceArn.
    statements = template.to_json()["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    cloudtrail = [s for s in statements if s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}]
    assert [(s["Action"], s.get("Condition")) for s in cloudtrail] == [
        ("kms:GenerateDataKey*", {"StringEquals": this_trail, "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":cloudtrail:*:", {"Ref": "AWS::AccountId"}, ":trail/*"]]}}}),
        ("kms:DescribeKey", {"StringEquals": this_trail}),
        ("kms:Decrypt", {"StringEquals": this_trail}),
    ]  # fmt: skip
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["BucketKeyEnabled"] is True
    # AWS's bucket policy for CloudTrail ("Amazon S3 bucket policy for CloudTrail"): the ACL check and
    # the writes, each only for this trail.
    policy = next(
        p
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": trail["S3BucketName"]["Ref"]}
    )
    for_trail = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}
    ]
    assert [(s["Action"], s["Condition"]) for s in for_trail] == [
        ("s3:GetBucketAcl", {"StringEquals": this_trail}),
        ("s3:PutObject", {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **this_trail}}),
    ]
