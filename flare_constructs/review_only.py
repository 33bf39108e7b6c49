"""Templates synthesized for review but not to be deployed: a CloudFormation rule refuses the
deploy (a parameter whose default fails it), so `cdk synth` still works and `cdk deploy` says why.

- a site without its startup kit (flare_constructs/aws_client_site.py);
- every stack of the embedded default federation, so a `cdk deploy` that forgot `-c config=FILE`
  never replaces a real hub with the example one (ReviewOnly).
"""

from aws_cdk import CfnParameter, CfnRule, CfnRuleAssertion, Fn
from constructs import Construct


def refuse_deploy(scope: Construct, name: str, *, default: str, required: str, description: str, message: str) -> None:
    """A parameter `name` (default `default`) and a rule `name`Required that holds only when it
    is `required`: the deploy is refused with `message` unless someone deliberately overrides it."""
    parameter = CfnParameter(scope, name, type="String", default=default, description=description)
    CfnRule(
        scope,
        f"{name}Required",
        assertions=[CfnRuleAssertion(assert_=Fn.condition_equals(parameter.value_as_string, required), assert_description=message)],
    )


class ReviewOnly(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, default_file: str) -> None:
        super().__init__(scope, construct_id)
        refuse_deploy(
            self,
            "FederationFile",
            default="embedded-default",
            required="yours",
            description="Which federation file this template is from",
            message=(
                f"This template is the embedded default federation ({default_file}), for review only. Deploy your own: "
                "cdk deploy ... -c config=my-federation.yaml (the checkout then remembers it)."
            ),
        )
