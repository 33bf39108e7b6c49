"""The project's own KMS key for what holds federation secrets."""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct


class FederationKey(Construct):
    """A customer-managed key, rotated yearly, for the dashboard admin secret, the kit store
    (startup kits carry private keys), the data volume (the project's CA key) and its backups,
    the alert topic and the audit trail's log groups. Reading through it needs a grant
    on this key besides the service's own permission: in this app only the hub role has one,
    scoped to the service that asks (kms:ViaService). Retained: the secret and the kits that
    `cdk destroy` keeps stay readable for a rebuild."""

    def __init__(self, scope: Construct, construct_id: str, *, project: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"NVFlare federation {project}: admin secret, startup kits, data volume and backups, alerts, audit logs",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
