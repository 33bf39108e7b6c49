#!/usr/bin/env python3
"""CDK entry point: load the federation config, build the stacks, check them with cdk-nag.

`cdk synth` uses the embedded default federation.yaml; `cdk synth -c config=PATH` another.
"""

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks

from flarectl.config import DEFAULT_FEDERATION, ConfigError, Federation, load_federation
from flarectl.vpc_choice import choose_vpc
from stacks.server_stack import FlareServerStack


def build_app(federation: Federation, *, app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    choice = choose_vpc(federation)
    print(f"network: {choice.kind} VPC, because {choice.reason}", file=sys.stderr)
    env = cdk.Environment(account=federation.aws.account, region=federation.aws.region) if federation.aws.account else None
    FlareServerStack(
        app,
        "FlareServerStack",
        federation=federation,
        vpc_choice=choice,
        env=env,
        description=f"NVFlare hub (dashboard + FL server) for project {federation.project}",
        analytics_reporting=False,
    )
    validations = cdk.Validations.of(app)
    validations.add_plugins(AwsSolutionsChecks(app))
    validations.add_plugins(HIPAASecurityChecks(app))
    return app


def main() -> int:
    app = cdk.App()
    config_path = app.node.try_get_context("config") or DEFAULT_FEDERATION
    try:
        federation = load_federation(config_path)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("Nothing was synthesized. Fix the federation file and run again.", file=sys.stderr)
        return 2
    build_app(federation, app=app).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
