"""A short human summary of a cloud assembly: stacks, main resources, outputs, site artifacts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

DECISIONS_FILE = "synth-decisions.txt"  # written by app.py: what synth chose and why
CAPACITY_FILE = "capacity.txt"  # written by app.py: the hub's predicted peak and headroom (flarectl/config/capacity.py)
GOVERNANCE_FILE = "governance.txt"  # written by app.py: each site's stance (flarectl/governance.py, review)

# Resource types worth naming in a summary, in the order a reader cares about them.
MAIN_TYPES = {
    "AWS::EC2::Instance": "EC2 instance",
    "AWS::EC2::EIP": "Elastic IP",
    "AWS::EC2::Volume": "data volume",
    "AWS::Backup::BackupPlan": "backup plan",
    "AWS::Route53::RecordSet": "DNS record",
    "AWS::EC2::VPC": "VPC (new)",
    "AWS::EC2::SecurityGroup": "security group",
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::SecretsManager::Secret": "secret",
    "AWS::CloudWatch::Alarm": "alarm",
    "AWS::IAM::Role": "IAM role",
}


def _show(value: Any) -> str:
    """Outputs often join literals with references; show references as <LogicalId>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{'.'.join(value['Fn::GetAtt'])}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(_show(part) for part in parts)
    return json.dumps(value)


def _instance_type(template: dict[str, Any]) -> str | None:
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::EC2::Instance":
            return resource["Properties"].get("InstanceType")
    return None


def summarize(cdk_out: Path) -> str:
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    lines = []
    # The hub first, then the sites.
    for name, artifact in sorted(manifest["artifacts"].items(), key=lambda item: (item[0] != "FlareServerStack", item[0])):
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        template_file = cdk_out / artifact["properties"]["templateFile"]
        template = json.loads(template_file.read_text())
        counts = Counter(resource["Type"] for resource in template["Resources"].values())
        lines.append(f"{name}  ({template_file}, {sum(counts.values())} resources)")
        main = [f"{counts[kind]} {label}" for kind, label in MAIN_TYPES.items() if counts[kind]]
        lines.append("  resources: " + ", ".join(main))
        instance_type = _instance_type(template)
        if instance_type:
            lines.append(f"  instance type: {instance_type}")
        for output_id, output in template.get("Outputs", {}).items():
            lines.append(f"  {output_id}: {_show(output['Value'])}")
        for rule in template.get("Rules", {}).values():  # every rule here refuses a deploy (review_only.py)
            lines.append(f"  DEPLOY REFUSED until fixed: {rule['Assertions'][0]['AssertDescription']}")
    decisions = cdk_out / DECISIONS_FILE
    if decisions.exists():
        lines.append("Decided at synth (and what a synth with credentials would decide differently):")
        lines.extend(f"  {line}" for line in decisions.read_text(encoding="utf-8").splitlines() if line)
    capacity = cdk_out / CAPACITY_FILE
    if capacity.exists():
        lines.append("Hub capacity (the capacity section and the sizing rule measured with NVFlare 2.9, docs/project-admin.md):")
        lines.extend(f"  {line}" for line in capacity.read_text(encoding="utf-8").splitlines() if line)
    governance = cdk_out / GOVERNANCE_FILE
    if governance.exists():
        lines.append("Governance (the governance section; NVFlare enforces it at each site and at the hub):")
        lines.extend(f"  {line}" for line in governance.read_text(encoding="utf-8").splitlines() if line)
    sites = cdk_out / "sites"
    site_dirs = sorted(path for path in sites.iterdir() if path.is_dir()) if sites.is_dir() else []
    if site_dirs:
        lines.append(f"Per-site artifacts under {sites}:")
        lines.extend(f"  {path.name}: {', '.join(sorted(p.name for p in path.iterdir()))}" for path in site_dirs)
    else:
        lines.append("Per-site artifacts: none (the federation has no sites that need files)")
    lead = cdk_out / "lead"
    if lead.is_dir():
        lead_files = ", ".join(sorted(path.name for path in lead.iterdir()))
        lines.append(f"For researchers (Leads), share {lead}: {lead_files} (see its README.md)")
    if (cdk_out / "federation.svg").exists():
        lines.append(f"Picture of the federation (hub, sites, who dials whom): {cdk_out / 'federation.svg'}")
    lines.append("Values in <...> are resolved by CloudFormation at deploy time.")
    return "\n".join(lines)
