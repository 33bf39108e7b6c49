"""The pinned CDK CLI on the real app: `cdk synth` output, the summary, and bad-config behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flarectl.cli import main as flarectl
from flarectl.config import DEFAULT_FEDERATION
from flarectl.federation import load_federation
from flarectl.picture import render_svg
from flarectl.summary import summarize
from tests.harness.local import cdk, cli_env
from tests.harness.templates import ASSET_HASH


@pytest.fixture(scope="module")
def synth_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cdk") / "cdk.out"
    result = cdk("synth", "--quiet", "-o", str(out), env=cli_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FlareServerStack: new VPC, because offline synth" in result.stderr
    assert "FlareClient-gpu-site-1: g4dn.xlarge (1 x T4 15 GiB, 4 vCPUs): cheapest of" in result.stderr
    assert "FlareClient-gpu-site-1: no startup kit at kits/gpu-site-1: synthesized for review; deploy will refuse" in result.stderr
    return out


def test_cli_synth_matches_the_tested_template(synth_out: Path, default_template) -> None:
    """The template the tests assert on is exactly what `cdk synth` writes."""
    on_disk = json.loads((synth_out / "FlareServerStack.template.json").read_text())
    in_process = default_template.to_json()
    for resource in on_disk["Resources"].values():
        resource.get("Metadata", {}).pop("aws:cdk:path", None)  # the CLI adds construct paths for the console
        if resource.get("Metadata") == {}:
            del resource["Metadata"]
    assert ASSET_HASH.sub("#", json.dumps(on_disk, sort_keys=True)) == ASSET_HASH.sub("#", json.dumps(in_process, sort_keys=True))


def test_summary_lists_stack_resources_outputs_and_sites(synth_out: Path) -> None:
    text = summarize(synth_out)
    assert text.splitlines()[0].startswith("FlareServerStack  (")
    resources = next(line for line in text.splitlines() if line.startswith("  resources: "))
    for item in ("1 EC2 instance", "1 Elastic IP", "1 data volume", "1 backup plan", "1 VPC (new)", "1 secret"):
        assert item in resources
    assert "instance type: t3.medium" in text
    assert "DashboardUrl: https://<EndpointElasticIp" in text
    assert "AdminSecretName: cancer-fl/dashboard-admin" in text
    assert "Per-site artifacts under" in text
    governance = text.split("Governance (the governance section; NVFlare enforces it at each site and at the hub):\n")[1]
    site_stance = ("jobs from: project_admin, lead of any organization; custom code: yes; shell commands: org_admin (own organization); "
                   "privacy: no scopes: results leave unfiltered")  # fmt: skip
    assert governance.splitlines()[:6] == [
        "  hub (FL server): jobs from: project_admin, lead of any organization; custom code: yes; shell commands: project_admin (any "
        "organization), org_admin (own organization), lead (own organization); note: (NVFlare's defaults)",
        *(f"  {site}: {site_stance}" for site in ("gpu-site-1", "azure-site-1", "hpc-lab", "path-lab", "laptop-1")),
    ]
    assert f"Picture of the federation (hub, sites, who dials whom): {synth_out / 'federation.svg'}" in text
    assert (synth_out / "federation.svg").read_text() == render_svg(load_federation(DEFAULT_FEDERATION))
    assert "  azure-site-1: README.md, azure-template.json, cloud-init.yaml" in text
    assert (
        "  hpc-lab: README.md, client.env, crontab.txt, flare-client.sbatch, flare-client.sh, flare-doctor.py, flare-watchdog.sh, startup_kit.py, venv-install.sh\n"
        in text
    )
    assert (
        "  laptop-1: README.md, check-windows.ps1, client.env, flare-client.sh, flare-doctor.py, flare-site.sh, startup_kit.py, venv-install.sh\n"
        in text
    )
    assert "  path-lab: README.md, client.env, flare-client.sh, flare-doctor.py, flare-site.sh, startup_kit.py, venv-install.sh\n" in text
    assert (
        (synth_out / "sites" / "hpc-lab" / "flare-client.sbatch").read_text().startswith("#!/bin/bash\n#SBATCH --job-name=flare-hpc-lab\n")
    )
    hub = text[text.index("FlareServerStack  (") : text.index("FlareClient-gpu-site-1  (")]
    assert "  DEPLOY REFUSED until fixed: This template is the embedded default federation (federation.yaml), for review only." in hub
    client = text[text.index("FlareClient-gpu-site-1  (") :]
    assert "instance type: g4dn.xlarge" in client
    assert "InstanceTypeReason: g4dn.xlarge (1 x T4 15 GiB, 4 vCPUs): cheapest of" in client
    assert "DEPLOY REFUSED until fixed: Site gpu-site-1: no startup kit at kits/gpu-site-1." in client


BAD = """\
project: "cancer fl"
project_admin_email: admin@mydomain.edu
hub:
  fl_port: 99999
  ssh_cidr: 0.0.0.0/0
"""


def test_bad_config_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "federation.yaml"
    config.write_text(BAD)
    out = tmp_path / "cdk.out"
    out.mkdir()
    (out / "previous.template.json").write_text("{}")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir())
    result = cdk("synth", "-c", f"config={config}", "-o", str(out), env=cli_env())
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "federation.yaml: project: 'cancer fl' has a space; use letters, digits, '-' or '_'" in result.stderr
    assert "federation.yaml: hub.fl_port: 99999 is out of range" in result.stderr
    assert "federation.yaml: hub.ssh_cidr: '0.0.0.0/0' opens SSH to the internet" in result.stderr
    assert sorted((p.name, p.stat().st_mtime_ns) for p in out.iterdir()) == before


def test_flarectl_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert flarectl(["validate"]) == 0
    assert "OK (project cancer-fl, NVFlare 2.9.0, 5 site(s))" in capsys.readouterr().out
    config = tmp_path / "federation.yaml"
    config.write_text(BAD)
    assert flarectl(["validate", str(config)]) == 2
    assert "hub.fl_port: 99999 is out of range" in capsys.readouterr().err


WITH_ACCOUNT = """\
project: cancer-fl
project_admin_email: admin@mydomain.edu
aws: {account: "123456789012", region: us-west-2}
network: {vpc: new}
sites:
  - {name: lab-1, kind: aws, gpus: 1, gpu_memory_gib: 15}
  - {name: hpc-1, kind: slurm, kit: /shared/kits/hpc-1, workdir: /shared/hpc-1}
"""


def test_synth_with_an_account_and_no_credentials_works_and_says_what_it_assumed(tmp_path: Path) -> None:
    config = tmp_path / "federation.yaml"
    config.write_text(WITH_ACCOUNT)
    out = tmp_path / "cdk.out"
    result = cdk("synth", "--quiet", "-c", f"config={config}", "-o", str(out), env=cli_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FlareServerStack: new VPC, because network.vpc is 'new'; no AWS credentials on this machine" in result.stderr
    assert "FlareClient-lab-1: g4dn.xlarge" in result.stderr and "nothing in account 123456789012 was looked up" in result.stderr
    assert "feature flags" not in result.stdout + result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["artifacts"]["FlareServerStack"]["environment"] == "aws://unknown-account/unknown-region"


def test_an_explicit_vpc_without_credentials_or_cache_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    config = tmp_path / "federation.yaml"
    config.write_text(WITH_ACCOUNT.replace("network: {vpc: new}", "network: {vpc: vpc-0abc12345def67890}"))
    out = tmp_path / "cdk.out"
    result = cdk("synth", "--quiet", "-c", f"config={config}", "-o", str(out), env=cli_env())
    assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr
    assert "federation.yaml: network.vpc: vpc-0abc12345def67890 must be looked up in account 123456789012" in result.stderr
    assert not (out / "sites").exists()
