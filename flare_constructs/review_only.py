"""A stack synthesized from the embedded default federation is for review: a CloudFormation
rule refuses to deploy it (as a site without its startup kit is refused), so a `cdk deploy`
that forgot `-c config=FILE` never replaces a real hub with the example one."""

from aws_cdk import CfnParameter, CfnRule, CfnRuleAssertion, Fn
from constructs import Construct


class ReviewOnly(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, default_file: str) -> None:
        super().__init__(scope, construct_id)
        federation = CfnParameter(
            self, "FederationFile", type="String", default="embedded-default", description="Which federation file this template is from"
        )
        CfnRule(
            self,
            "RealFederationRequired",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_equals(federation.value_as_string, "yours"),
                    assert_description=(
                        f"This template is the embedded default federation ({default_file}), for review only. Deploy your own: "
                        "cdk deploy ... -c config=my-federation.yaml (the checkout then remembers it)."
                    ),
                )
            ],
        )
