"""cdk-nag really gates synthesis: the AwsSolutions and HIPAA.Security packs are attached to
the whole app, so a new resource without a reviewed acknowledgment fails the synth."""

from __future__ import annotations

import tempfile

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from app import build_app
from tests.synth_fixtures import CDK_JSON_CONTEXT, federation


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
    assert "FlareServerStack/Hub/" not in report  # the reviewed resources stay clean
