"""Tiny helper so each construct states its cdk-nag acknowledgments beside its own code."""

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

# The compliance packs in the nag gate (app.py) that share rule names; one reason covers both.
COMPLIANCE_PACKS = ("HIPAA.Security", "NIST.800.53.R5")


def acknowledge(scope: IConstruct, reasons: dict[str, str]) -> None:
    """Acknowledge cdk-nag findings on `scope`: {rule id (with [finding] if any): reason}."""
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule, reason in reasons.items()))


def in_compliance_packs(rule: str, reason: str) -> dict[str, str]:
    """The same rule (e.g. "IAMNoInlinePolicy") acknowledged in every compliance pack."""
    return {f"{pack}-{rule}": reason for pack in COMPLIANCE_PACKS}
