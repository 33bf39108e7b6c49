"""Reading a synthesized template: one resource of a type, user data as text, the hub's
policies. Shared by the template tests of the hub, the AWS site, alarms and audit logs."""

from __future__ import annotations

import base64
import gzip
import json
import re

import yaml
from aws_cdk.assertions import Match, Template

# An asset's content hash in a template (snapshots replace it: it changes with every host file).
ASSET_HASH = re.compile(r"[0-9a-f]{64}")

INSTANCE = "AWS::EC2::Instance"


def only(template: Template, kind: str) -> dict:
    resources = template.find_resources(kind)
    assert len(resources) == 1, f"expected one {kind}, found {list(resources)}"
    return next(iter(resources.values()))


def logical_id(template: Template, kind: str) -> str:
    resources = template.find_resources(kind)
    assert len(resources) == 1
    return next(iter(resources))


def render(value: object) -> str:
    """CloudFormation intrinsics as readable text: joins joined, nested Base64 shown decoded,
    references as <{"Ref": ...}>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if isinstance(value, dict) and "Fn::Base64" in value:
        return render(value["Fn::Base64"])
    return f"<{json.dumps(value)}>"


def user_data_text(template: Template) -> str:
    return render(only(template, INSTANCE)["Properties"]["UserData"])


def cloud_config(template: Template) -> dict:
    text = user_data_text(template)
    part = text.split('Content-Type: text/cloud-config; charset="utf-8"')[1].split("--+AWS+CDK+User+Data+Separator==")[0]
    body = part.split("\n\n", 1)[1]
    assert body.startswith("#cloud-config\n")
    return yaml.safe_load(body)


def bootstrap_part(template: Template, *, unpack: bool = False) -> str:
    """The shell-script part of the multipart user data, as EC2 gets it (`unpack`: with a packed
    body, flarectl/host_scripts.py's pack, decoded in its place)."""
    text = user_data_text(template)
    part = text.split('Content-Type: text/x-shellscript; charset="utf-8"\n\n')[1].split("--+AWS+CDK+User+Data+Separator==")[0]
    script = part.strip("\n")
    if unpack and "<<'PACKED'" in script:
        head, rest = script.split("base64 -d <<'PACKED' | gunzip >", 1)
        encoded = rest.split("\n", 1)[1].split("PACKED\n", 1)[0]
        script = head + gzip.decompress(base64.b64decode(encoded)).decode()
    return script


def hub_role(template: Template) -> str:
    roles = template.find_resources("AWS::IAM::Role", {"Properties": {"Description": "NVFlare hub host"}})
    assert len(roles) == 1
    return next(iter(roles))


SESSION_MANAGER_STATEMENTS = [
    {
        "Action": ["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                   "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"],
        "Effect": "Allow",
        "Resource": "*",
    }
]  # fmt: skip


def session_manager_statements(template: Template, role: dict) -> list[dict]:
    """The statements of the role's managed policies (only the Session Manager one)."""
    (policy_ref,) = role["ManagedPolicyArns"]
    policy = template.to_json()["Resources"][policy_ref["Ref"]]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    return policy["Properties"]["PolicyDocument"]["Statement"]


def hub_policy(template: Template) -> list[dict]:
    policies = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"PolicyName": Match.string_like_regexp("HubHostRoleDefaultPolicy")}}
    )
    assert len(policies) == 1
    return next(iter(policies.values()))["Properties"]["PolicyDocument"]["Statement"]
