"""The whole restore path, as the README's restore steps say, against the emulator with the
pinned CDK CLI: deploy a hub, publish two server kits, `cdk destroy`, `flarectl hub
restore-plan`, deploy again with the block it printed. The rebuilt hub adopts the kept admin
secret (same value), kit store (same kits, and rollback still works), data volume and Elastic
IP. (The hub's runtime on a replacement host with that volume and kit store is booted for real
in test_hub_booted.py.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flarectl.server_kit import read_pointer
from tests.conftest import ROOT
from tests.harness.emulated_deploy import ACCOUNT, AMI_PARAMETER, REGION, Deployment, user_data_parts
from tests.harness.local import cdk, start_emulator
from tests.harness.provision import provision


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Its own emulator: the cycle creates and deletes FlareServerStack. CDK caches the emulator's
    VPC lookups in the checkout's cdk.context.json: it is put back as it was afterwards."""
    workdir = tmp_path_factory.mktemp("restore-cycle")
    process, emulator = start_emulator(workdir)
    context = ROOT / "cdk.context.json"
    saved = context.read_bytes()
    try:
        yield Deployment(emulator, workdir)
    finally:
        context.write_bytes(saved)
        process.terminate()
        process.wait(timeout=10)


def flarectl(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "flarectl", *args], env=deployment.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_destroyed_hub_is_rebuilt_with_everything_it_kept(deployment: Deployment, tmp_path: Path) -> None:
    ec2, secrets, s3 = (deployment.client(service) for service in ("ec2", "secretsmanager", "s3"))
    # An existing VPC (the account's default one): a VPC the stack made could not be deleted in
    # the emulator (it keeps a terminated instance's network interface in use).
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    federation: dict[str, Any] = {"project": "restorefl", "project_admin_email": "it@flare.test", "aws": {"account": ACCOUNT, "region": REGION},
                                  "network": {"vpc": vpc}, "hub": {"ami_ssm_parameter": AMI_PARAMETER}}  # fmt: skip
    first = deployment.deploy(yaml.safe_dump(federation), "first")
    secret = secrets.get_secret_value(SecretId=first["AdminSecretName"])["SecretString"]
    kit = provision(tmp_path, project="restorefl", fl_port=8002, clients=[]) / "localhost"  # the federation's port
    renewed = shutil.copytree(kit, tmp_path / "localhost-renewed")  # another archive: a second kit in the history
    for path in (kit, renewed):
        flarectl(
            deployment, "server-kit", "install", str(path), "--stack", "FlareServerStack", "-c", str(deployment.workdir / "first.yaml")
        )
    published = read_pointer(s3, first["KitBucket"])
    kits = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=first["KitBucket"])["Contents"])

    destroyed = cdk("destroy", "FlareServerStack", "-c", f"config={deployment.workdir / 'first.yaml'}", "-o",
                    str(deployment.workdir / "destroy.out"), "--force", env=deployment.env)  # fmt: skip
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    (old_host,) = ec2.describe_instances(InstanceIds=[first["InstanceId"]])["Reservations"][0]["Instances"]
    assert old_host["State"]["Name"] == "terminated"
    (address,) = ec2.describe_addresses(PublicIps=[first["ElasticIp"]])["Addresses"]
    assert "AssociationId" not in address  # kept, and free to adopt
    plan = yaml.safe_load(flarectl(deployment, "hub", "restore-plan", "--region", REGION).stdout)
    allocation = address["AllocationId"]
    assert plan == {"hub": {"data_volume_id": first["DataVolumeId"], "admin_secret": "existing", "kit_bucket": first["KitBucket"],
                            "elastic_ip": {"allocation_id": allocation, "address": first["ElasticIp"]}}}  # fmt: skip
    # The plan merged into the federation file as the README says (--merge), deployed from there.
    merged = flarectl(deployment, "hub", "restore-plan", "--region", REGION, "--merge", str(deployment.workdir / "first.yaml"))
    target = deployment.workdir / "first-restore.yaml"
    assert f"wrote {target}: review it, then cdk deploy FlareServerStack -c config={target}" in merged.stdout
    assert f"data volume {first['DataVolumeId']} is in us-east-1a" in merged.stderr
    assert yaml.safe_load(target.read_text()) == {**federation, "hub": {**federation["hub"], **plan["hub"]}}
    second = deployment.deploy(target.read_text(), "second")

    assert {key: second[key] for key in ("DataVolumeId", "AdminSecretName", "KitBucket")} == {
        key: first[key] for key in ("DataVolumeId", "AdminSecretName", "KitBucket")
    }
    assert second["InstanceId"] != first["InstanceId"] and second["ElasticIp"] == first["ElasticIp"]
    assert secrets.get_secret_value(SecretId=second["AdminSecretName"])["SecretString"] == secret
    assert ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]["InstanceId"] == second["InstanceId"]
    assert f"readonly DATA_VOLUME_ID={first['DataVolumeId']}\n" in user_data_parts(deployment, second["InstanceId"])["text/x-shellscript"]
    assert read_pointer(s3, second["KitBucket"]) == published
    assert sorted(item["Key"] for item in s3.list_objects_v2(Bucket=second["KitBucket"])["Contents"]) == kits
    rolled_back = flarectl(deployment, "server-kit", "rollback", "--stack", "FlareServerStack")
    assert read_pointer(s3, second["KitBucket"]) == {
        **published["previous"],
        "previous": {k: v for k, v in published.items() if k != "previous"},
    }
    assert rolled_back.stdout
    # An address that is not the allocation's would point DNS and kits at another host: refused at synth.
    wrong = {
        **federation,
        "hub": {**federation["hub"], **plan["hub"], "elastic_ip": {"allocation_id": allocation, "address": "52.10.20.30"}},
    }
    (deployment.workdir / "wrong.yaml").write_text(yaml.safe_dump(wrong))
    refused = cdk(
        "synth", "-c", f"config={deployment.workdir / 'wrong.yaml'}", "-o", str(deployment.workdir / "wrong.out"), env=deployment.env
    )
    assert refused.returncode != 0
    assert (f"wrong.yaml: hub.elastic_ip.address: 52.10.20.30 is not the address of {allocation} ({first['ElasticIp']}); "
            f"DNS and kits would point at the wrong host: set address: {first['ElasticIp']}") in refused.stderr  # fmt: skip
