"""The Project Admin's alarms on the hub template: what is watched, against which figure,
and that each reaches the email subscription (and says when it is OK again)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from aws_cdk.assertions import Template

from flare_constructs import hub_alerts
from flarectl.host_scripts import HOSTS_DIR
from tests.harness.synth_fixtures import federation, synth_hub
from tests.harness.templates import hub_policy, logical_id, only


def test_each_alarm_watches_its_figure_and_reaches_the_topic(default_template: Template) -> None:
    topic = {"Ref": logical_id(default_template, "AWS::SNS::Topic")}
    instance = {"Ref": logical_id(default_template, "AWS::EC2::Instance")}
    project = [{"Name": "Project", "Value": "cancer-fl"}]
    watched = {
        (p["Namespace"], p["MetricName"], json.dumps(p.get("Dimensions")), p["Statistic"], p["Period"], p["ComparisonOperator"], p["Threshold"],
         p["EvaluationPeriods"], p.get("DatapointsToAlarm"))
        for p in (r["Properties"] for r in default_template.find_resources("AWS::CloudWatch::Alarm").values())
        if p.get("AlarmActions") == [topic]
    }  # fmt: skip
    assert watched == {
        ("AWS/EC2", "StatusCheckFailed", json.dumps([{"Name": "InstanceId", "Value": instance}]), "Maximum", 60,
         "GreaterThanOrEqualToThreshold", 1, 2, 2),
        ("NVFlare/Hub", "HealthCheckFailed", json.dumps(project), "Maximum", 300, "GreaterThanOrEqualToThreshold", 1, 2, 2),
        ("NVFlare/Hub", "DashboardCertificateDaysLeft", json.dumps(project), "Minimum", 3600, "LessThanThreshold", 14, 1, 1),
        ("NVFlare/Hub", "DataVolumeUsedPercent", json.dumps(project), "Maximum", 300, "GreaterThanThreshold", 80, 2, 2),
        ("NVFlare/Hub/cancer-fl", "RefusedLogins", "null", "Sum", 300, "GreaterThanThreshold", 30, 1, None),
        ("NVFlare/Hub/cancer-fl", "RefusedFlHandshakes", "null", "Sum", 300, "GreaterThanThreshold", 50, 1, None),
    }  # fmt: skip
    for properties in (r["Properties"] for r in default_template.find_resources("AWS::CloudWatch::Alarm").values()):
        if properties.get("AlarmActions") == [topic] and properties["MetricName"] not in ("RefusedLogins", "RefusedFlHandshakes"):
            assert properties["OKActions"] == [topic]
            # A metric that stops arriving is news: INSUFFICIENT_DATA mails too (with MISSING data
            # treated as missing, the alarm goes there, and nothing is sent without this action).
            assert (properties["InsufficientDataActions"], properties["TreatMissingData"]) == ([topic], "missing")
            assert properties["AlarmDescription"].startswith("NVFlare cancer-fl: ")
            assert properties["AlarmDescription"].endswith(
                "INSUFFICIENT_DATA: the figure stopped arriving (hub stopped, or its health check is not running)"
            )


@pytest.mark.parametrize(
    "metric, group, line",
    [("RefusedLogins", "proxy", "refused login from"), ("RefusedFlHandshakes", "fl-server", "Handshake failed")],
)
def test_refused_logins_and_handshakes_are_counted_from_their_log_groups(
    default_template: Template, metric: str, group: str, line: str
) -> None:
    """Each metric filter counts the line its source writes (nginx.conf's refused_login format;
    gRPC's refused TLS handshake, seen in the booted hub); no line is the good case."""
    filters = [f["Properties"] for f in default_template.find_resources("AWS::Logs::MetricFilter").values()]
    (found,) = [f for f in filters if f["MetricTransformations"][0]["MetricName"] == metric]
    groups = default_template.find_resources("AWS::Logs::LogGroup")
    assert found["LogGroupName"] == {
        "Ref": next(k for k, g in groups.items() if g["Properties"]["LogGroupName"]["Fn::Join"][1][-1] == group)
    }
    assert found["FilterPattern"] == f'"{line}"'
    assert found["MetricTransformations"] == [
        {"MetricNamespace": "NVFlare/Hub/cancer-fl", "MetricName": metric, "MetricValue": "1", "Unit": "Count"}
    ]
    (alarm,) = [a["Properties"] for a in default_template.find_resources("AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("MetricName") == metric]  # fmt: skip
    assert alarm["TreatMissingData"] == "notBreaching" and "InsufficientDataActions" not in alarm
    assert len(filters) == 2


def test_the_refused_login_line_is_the_one_nginx_writes() -> None:
    from flarectl.host_scripts import HOSTS_DIR

    nginx = (HOSTS_DIR / "hub" / "nginx.conf").read_text()
    assert "log_format refused_login 'refused login from $remote_addr: HTTP $status';" in nginx
    assert "access_log @ACCESS_LOG@ refused_login if=$login_refused;" in nginx


def test_the_topic_is_encrypted_with_the_project_key_ssl_only_and_mails_the_admin(default_template: Template) -> None:
    key = logical_id(default_template, "AWS::KMS::Key")
    topic = only(default_template, "AWS::SNS::Topic")["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    default_template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": "flare-admin@example.org", "TopicArn": {"Ref": logical_id(default_template, "AWS::SNS::Topic")}},
    )
    policy = only(default_template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Condition"] for s in policy if s["Effect"] == "Deny"] == [{"Bool": {"aws:SecureTransport": "false"}}]
    statements = only(default_template, "AWS::KMS::Key")["Properties"]["KeyPolicy"]["Statement"]
    services = {json.dumps(s["Principal"]["Service"]) for s in statements if "Service" in s.get("Principal", {})}
    logs = json.dumps({"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]})  # the audit trail's groups
    assert services == {'"cloudwatch.amazonaws.com"', '"events.amazonaws.com"', logs}


def test_alerts_email_overrides_the_project_admin() -> None:
    template = synth_hub(federation(alerts={"email": "oncall@hospital.test"}))
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@hospital.test"})


def test_a_failed_backup_job_of_the_hubs_vault_is_mailed(default_template: Template) -> None:
    rule = only(default_template, "AWS::Events::Rule")["Properties"]
    vault_name = only(default_template, "AWS::Backup::BackupVault")["Properties"]["BackupVaultName"]
    assert rule["EventPattern"] == {
        "source": ["aws.backup"],
        "detail-type": ["Backup Job State Change"],
        "detail": {"state": ["FAILED", "ABORTED", "EXPIRED"], "backupVaultName": [vault_name]},
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": logical_id(default_template, "AWS::SNS::Topic")}
    assert "backup job <detail-backupJobId>" in json.dumps(target["InputTransformer"])


def test_the_hub_may_publish_its_figures_only_in_its_namespace(default_template: Template) -> None:
    assert [s for s in hub_policy(default_template) if "cloudwatch" in json.dumps(s)] == [
        {"Action": "cloudwatch:PutMetricData", "Condition": {"StringEquals": {"cloudwatch:namespace": "NVFlare/Hub"}},
         "Effect": "Allow", "Resource": "*"}
    ]  # fmt: skip


def test_alarm_names_and_what_the_health_check_publishes_are_in_step() -> None:
    spec = importlib.util.spec_from_file_location("hub_metrics", HOSTS_DIR / "hub" / "hub_metrics.py")
    assert spec and spec.loader
    published = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(published)
    names = ("NAMESPACE", "HEALTH_CHECK_FAILED", "CERTIFICATE_DAYS_LEFT", "DATA_VOLUME_USED")
    assert {n: getattr(hub_alerts, n) for n in names} == {n: getattr(published, n) for n in names}


def test_cloudwatch_and_eventbridge_may_only_encrypt_for_the_topic_with_the_project_key(default_template: Template) -> None:
    """What each service needs to publish to an encrypted topic (SNS's documentation): Decrypt and
    GenerateDataKey*, nothing else."""
    statements = only(default_template, "AWS::KMS::Key")["Properties"]["KeyPolicy"]["Statement"]
    for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
        (statement,) = [s for s in statements if s.get("Principal", {}).get("Service") == service]
        assert {key: statement[key] for key in ("Effect", "Action", "Resource")} == {
            "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"
        }  # fmt: skip
        assert "Condition" not in statement


def test_a_quiet_log_is_no_alarm_for_the_counted_lines(default_template: Template) -> None:
    """No refused logins or handshakes means no datapoints: that is OK, not INSUFFICIENT_DATA."""
    topic = {"Ref": logical_id(default_template, "AWS::SNS::Topic")}
    counted = {
        p["MetricName"]: (p["TreatMissingData"], p["OKActions"], p.get("InsufficientDataActions"))
        for p in (r["Properties"] for r in default_template.find_resources("AWS::CloudWatch::Alarm").values())
        if p.get("MetricName") in ("RefusedLogins", "RefusedFlHandshakes")
    }
    assert counted == {"RefusedLogins": ("notBreaching", [topic], None), "RefusedFlHandshakes": ("notBreaching", [topic], None)}
