"""certificate.mode 'provided': a certificate the IT department issued, kept in Secrets Manager."""

from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


class ProvidedCertificate(Construct):
    """The secret {"certificate": PEM chain, "private_key": PEM} exists before the deploy;
    the hub installs it at every dashboard start, so replacing the secret's value and
    restarting the dashboard rolls the certificate."""

    def __init__(self, scope: Construct, construct_id: str, *, secret_name: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret.from_secret_name_v2(self, "Secret", secret_name)

    def grant_read(self, role: iam.IRole) -> None:
        self.secret.grant_read(role)  # the secret's ARN with its six-character suffix: no wildcard
