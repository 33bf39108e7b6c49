"""The CDK environment of a stack: explicit when the federation names an account and region,
otherwise environment-agnostic (offline synth, no credentials)."""

import aws_cdk as cdk

from flarectl.config.hub import AwsTarget


def cdk_environment(aws: AwsTarget) -> cdk.Environment | None:
    return cdk.Environment(account=aws.account, region=aws.region) if aws.account else None
