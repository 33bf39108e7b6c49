"""The hub's logs in CloudWatch Logs: the FL server's audit trail and every hub service."""

import importlib.util
from types import ModuleType

from aws_cdk import Aws, Fn, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from flare_constructs.acknowledge import acknowledge
from flare_constructs.retained_names import stack_id_suffix
from flarectl.host_scripts import HOSTS_DIR


def agent_configuration() -> ModuleType:
    """flarectl/hosts/hub/cloudwatch_agent.py: it owns which log goes to which group, on the host."""
    spec = importlib.util.spec_from_file_location("cloudwatch_agent", HOSTS_DIR / "hub" / "cloudwatch_agent.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class HubAuditLogs(Construct):
    """One log group per entry of the agent's LOGS, under `/nvflare/<project>/<stack id>`,
    encrypted with the project key, kept `retention_days` and retained when the stack is
    deleted (an audit trail outlives the hub; the stack id keeps a rebuild's names apart)."""

    def __init__(self, scope: Construct, construct_id: str, *, project: str, retention_days: int, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.project = project
        stack_id = stack_id_suffix()
        self.prefix = Fn.join("", [f"/nvflare/{project}/", stack_id])
        self.retention_days, self.key = retention_days, key
        self.groups = {name: self.add_group(name) for name in agent_configuration().LOGS}
        groups = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/nvflare/{project}/*"
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": groups}},
            )
        )

    def add_group(self, name: str) -> logs.CfnLogGroup:
        """A log group `<prefix>/<name>` like the others (the account trail's goes here too)."""
        group = logs.CfnLogGroup(
            self, name, log_group_name=Fn.join("/", [self.prefix, name]), retention_in_days=self.retention_days, kms_key_id=self.key.key_arn
        )
        group.apply_removal_policy(RemovalPolicy.RETAIN)
        return group

    def grant_write(self, role: iam.IRole) -> None:
        """What the CloudWatch agent needs to ship into the project's log groups, nothing else."""
        groups = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/nvflare/{self.project}/*"
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[groups, f"{groups}:log-stream:*"],
            )
        )
        finding = (
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/nvflare/{self.project}/*"
        )
        reason = (
            "The project's own log groups (names carry the stack id, unknown until deploy) and the streams the agent names per instance."
        )
        acknowledge(role, {f"{finding}]": reason, f"{finding}:log-stream:*]": reason})
