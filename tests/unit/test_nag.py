"""cdk-nag really gates synthesis: the AwsSolutions, HIPAA.Security and NIST.800.53.R5 packs are
attached to the whole app, so a new resource without a reviewed acknowledgment fails the synth;
and no acknowledgment stands without a finding it answers."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

import flare_constructs.acknowledge as acknowledge_module
from app import build_app
from tests.harness.synth_fixtures import CDK_JSON_CONTEXT, DNS, federation


def test_an_unreviewed_resource_fails_the_synth(capfd: pytest.CaptureFixture[str]) -> None:
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="cdk-nag-"), context=CDK_JSON_CONTEXT)
    build_app(federation(), app=app)
    stack = app.node.find_child("FlareServerStack")
    s3.Bucket(stack, "Unreviewed")
    with pytest.raises(Exception) as caught:
        Template.from_stack(stack)
    captured = capfd.readouterr()
    report = str(caught.value) + captured.out + captured.err
    assert "FlareServerStack/Unreviewed/Resource" in report
    assert "AwsSolutions::AwsSolutions-S1'" in report
    assert "HIPAA.Security::HIPAA.Security-S3BucketLoggingEnabled'" in report
    assert "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled'" in report
    assert "FlareServerStack/Hub/" not in report  # the reviewed resources stay clean


class Recorder:
    """Stands in for aws_cdk.Validations inside flare_constructs.acknowledge: records each
    acknowledgment instead of applying it, so the synth reports every finding."""

    recorded: list[tuple[str, str]] = []

    def __init__(self, scope) -> None:
        self.scope = scope

    @classmethod
    def of(cls, scope) -> Recorder:
        return cls(scope)

    def acknowledge(self, *acknowledgments) -> None:
        Recorder.recorded += [(self.scope.node.path, a.id) for a in acknowledgments]


def generic(path: str) -> str:
    """A client stack's path without its site name: its acknowledgments are the same for every site."""
    return re.sub(r"^FlareClient-[^/]+", "FlareClient-*", path)


def findings_without_acknowledgments(fed) -> set[tuple[str, str]]:
    outdir = tempfile.mkdtemp(prefix="cdk-nag-")
    app = cdk.App(outdir=outdir, context=CDK_JSON_CONTEXT)
    build_app(fed, app=app)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((Path(outdir) / "validation-report.json").read_text())
    return {
        (generic(construct["constructPath"]), violation["ruleName"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


def test_every_acknowledgment_matches_a_finding(monkeypatch: pytest.MonkeyPatch, client_federation) -> None:
    """An acknowledgment that matches nothing is a false statement to a reviewer (or hides a
    later finding): each must match a finding of its construct (or below) in one of the
    federations that exercise every construct."""
    monkeypatch.setattr(acknowledge_module, "Validations", Recorder)
    Recorder.recorded = []
    feds = [
        client_federation,
        federation(dns=DNS, certificate={"mode": "letsencrypt"}, hub={"fl_cidrs": ["0.0.0.0/0"]}, audit={"cloudtrail": "create"}),
        federation(certificate={"mode": "provided", "secret_name": "it/flareboard-cert"}),
        federation(hub={"data_volume_id": "vol-0123456789abcdef0", "admin_secret": "existing", "kit_bucket": "cancer-fl-kits-old",
                        "elastic_ip": {"allocation_id": "eipalloc-0123456789abcdef0", "address": "52.10.20.30"}}),
    ]  # fmt: skip
    findings = set().union(*(findings_without_acknowledgments(fed) for fed in feds))
    acknowledged = {(generic(path), rule) for path, rule in Recorder.recorded}
    assert len(acknowledged) > 40  # the recorder saw the app's acknowledgments

    def matches(path: str, rule: str) -> bool:
        rule = rule.split("::", 1)[1] if rule.startswith("CloudFormation-Validate::") else rule
        return any((at == path or at.startswith(path + "/")) and found == rule for at, found in findings)

    assert sorted(a for a in acknowledged if not matches(*a)) == []
