"""A hub that adopts what an earlier one kept (hub.kit_bucket, hub.admin_secret: existing,
hub.data_volume_id; what `flarectl hub restore-plan` writes): the host may use each adopted
resource's key only through its own service and for that resource (issue 34)."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from tests.harness.templates import hub_policy


def join(*parts: Any) -> dict:
    return {"Fn::Join": ["", list(parts)]}


PARTITION, REGION, ACCOUNT = {"Ref": "AWS::Partition"}, {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}
SECRET_ARN = join("arn:", PARTITION, ":secretsmanager:", REGION, ":", ACCOUNT, ":secret:cancer-fl/dashboard-admin-??????")


def kms_statements(template: Template) -> list[dict]:
    return [s for s in hub_policy(template) if str(s["Action"]).startswith("kms:") or s["Action"] == ["kms:Decrypt"]]


def test_each_adopted_key_only_through_its_service_and_for_its_resource(restore_template: Template) -> None:
    assert kms_statements(restore_template) == [
        # The data volume's key: grants for EC2 to attach it, nothing else.
        {"Action": "kms:CreateGrant", "Effect": "Allow", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": join("ec2.", REGION, ".amazonaws.com")}, "Bool": {"kms:GrantIsForAWSResource": "true"}}},
        # The adopted kit store's key: decrypt through S3, for objects of that bucket only.
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": join("s3.", REGION, ".amazonaws.com")},
                       "StringLike": {"kms:EncryptionContext:aws:s3:arn": join("arn:", PARTITION, ":s3:::cancer-fl-kits-old*")}}},
        # The adopted admin secret's key: decrypt through Secrets Manager, for that secret only.
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": join("secretsmanager.", REGION, ".amazonaws.com")},
                       "StringLike": {"kms:EncryptionContext:SecretARN": SECRET_ARN}}},
    ]  # fmt: skip


def test_the_adopted_volume_bucket_and_secret_are_named_not_wildcards(restore_template: Template) -> None:
    statements = hub_policy(restore_template)
    attach = [s["Resource"] for s in statements if s["Action"] == "ec2:AttachVolume"]
    assert join("arn:", PARTITION, ":ec2:", REGION, ":", ACCOUNT, ":volume/vol-0123456789abcdef0") in attach
    assert {"Action": ["s3:GetObject", "s3:GetObjectVersion"], "Effect": "Allow",
            "Resource": join("arn:", PARTITION, ":s3:::cancer-fl-kits-old/server/*")} in statements  # fmt: skip
    assert {"Action": "s3:ListBucket", "Effect": "Allow", "Condition": {"StringLike": {"s3:prefix": ["server/*"]}},
            "Resource": join("arn:", PARTITION, ":s3:::cancer-fl-kits-old")} in statements  # fmt: skip
    assert {
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Effect": "Allow",
        "Resource": SECRET_ARN,
    } in statements


def test_a_new_hub_has_no_adopted_keys_statements(default_template: Template) -> None:
    """Its bucket and secret use the project key, granted on the key itself: no Resource '*' decrypt."""
    assert [s for s in kms_statements(default_template) if s["Action"] == "kms:Decrypt" and s["Resource"] == "*"] == []
