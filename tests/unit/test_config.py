"""The federation file: valid defaults, and one clear message per problem for bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flarectl.config import DEFAULT_FEDERATION
from flarectl.config.errors import ConfigError
from flarectl.federation import load_federation
from tests.harness.config_cases import DNS, MINIMAL_SITES, VALID, problems, with_, write


def test_embedded_default_is_valid_and_offline() -> None:
    federation = load_federation(DEFAULT_FEDERATION)
    assert federation.nvflare_version == "2.9.0"
    assert federation.aws.account is None and federation.aws.region is None
    assert federation.network.vpc == "auto"
    assert federation.hub.fl_port == 8002
    assert federation.hub.root_volume_gib >= 30
    assert federation.hub.ssh_cidr is None
    assert federation.certificate_mode == "self-signed"


def test_minimal_file_gets_documented_defaults(tmp_path: Path) -> None:
    federation = load_federation(write(tmp_path, VALID))
    assert federation.hub.instance_type == "t3.medium"
    assert federation.hub.dashboard_cidrs == ["0.0.0.0/0"] and federation.hub.fl_cidrs == ["0.0.0.0/0"]
    assert federation.sites == []


def test_dns_makes_letsencrypt_the_default(tmp_path: Path) -> None:
    federation = load_federation(write(tmp_path, with_(dns=DNS)))
    assert federation.certificate_mode == "letsencrypt"


def test_names_are_normalized(tmp_path: Path) -> None:
    federation = load_federation(
        write(tmp_path, with_(dns={**DNS, "zone_name": "MyDomain.edu.", "hosted_zone_id": "/hostedzone/Z0123456789ABCDEFGHIJ"}))
    )
    assert federation.dns is not None
    assert (federation.dns.zone_name, federation.dns.hosted_zone_id) == ("mydomain.edu", "Z0123456789ABCDEFGHIJ")


INVALID = [
    ("unknown top-level key", with_(projcet="x"), "federation.yaml: projcet: unknown key; allowed keys: project, nvflare_version"),
    ("unknown nested key", with_(hub={"instance": "t3.small"}), "federation.yaml: hub.instance: unknown key; allowed keys: instance_type,"),
    ("missing project", {"project_admin_email": "a@b.org"}, "federation.yaml: project: is required"),
    (
        "project with a space",
        with_(project="cancer fl"),
        "federation.yaml: project: 'cancer fl' has a space; use letters, digits, '-' or '_'",
    ),
    ("bad email", with_(project_admin_email="admin"), "federation.yaml: project_admin_email: 'admin' is not an email address"),
    (
        "bad kit bucket",
        with_(hub={"kit_bucket": "Kits_Old"}),
        "federation.yaml: hub.kit_bucket: 'Kits_Old' is not an S3 bucket name; use the "
        "KitBucket output of the old stack (3-63 lowercase letters, digits, . and -)",
    ),
    (
        "kit bucket with ..",
        with_(hub={"kit_bucket": "kits..old"}),
        "federation.yaml: hub.kit_bucket: 'kits..old' is not an S3 bucket name; use "
        "the KitBucket output of the old stack (3-63 lowercase letters, digits, . and -)",
    ),
    ("bad alerts email", with_(alerts={"email": "oncall"}), "federation.yaml: alerts.email: 'oncall' is not an email address"),
    ("unknown alerts field", with_(alerts={"sms": "+15550100"}), "federation.yaml: alerts.sms: unknown key; allowed keys: email"),
    ("port as text", with_(hub={"fl_port": "8002"}), "federation.yaml: hub.fl_port: '8002': input should be a valid integer"),
    (
        "port out of range",
        with_(hub={"fl_port": 70000}),
        "federation.yaml: hub.fl_port: 70000 is out of range; use a port from 1024 to 65535",
    ),
    ("privileged port", with_(hub={"fl_port": 80}), "federation.yaml: hub.fl_port: 80 is out of range"),
    (
        "lost site too soon",
        with_(hub={"site_lost_after_seconds": 9}),
        "federation.yaml: hub.site_lost_after_seconds: 9 seconds: use 10 to 86400 (NVFlare waits this long for a lost site before a job gives up on it)",
    ),
    (
        "lost site too late",
        with_(hub={"site_lost_after_seconds": 86401}),
        "federation.yaml: hub.site_lost_after_seconds: 86401 seconds: use 10 to 86400",
    ),
    ("highest port", with_(hub={"fl_port": 65536}), "federation.yaml: hub.fl_port: 65536 is out of range; use a port from 1024 to 65535"),
    (
        "just below the bound",
        with_(hub={"fl_port": 1023}),
        "federation.yaml: hub.fl_port: 1023 is out of range; use a port from 1024 to 65535",
    ),
    (
        "disk too small",
        with_(hub={"root_volume_gib": 8}),
        "federation.yaml: hub.root_volume_gib: 8 GiB is too small for Ubuntu, NVFlare and server-side requirements; use at least 30",
    ),
    ("disk as list", with_(hub={"root_volume_gib": [40]}), "federation.yaml: hub.root_volume_gib: [40]: input should be a valid integer"),
    (
        "bad cidr",
        with_(hub={"dashboard_cidrs": ["10.0.0.0/33"]}),
        "federation.yaml: hub.dashboard_cidrs: '10.0.0.0/33' is not a CIDR block; write it like 203.0.113.0/24",
    ),
    ("cidr with host bits", with_(hub={"fl_cidrs": ["10.0.0.1/24"]}), "federation.yaml: hub.fl_cidrs: '10.0.0.1/24' is not a CIDR block"),
    (
        "cidr list as string",
        with_(hub={"fl_cidrs": "0.0.0.0/0"}),
        "federation.yaml: hub.fl_cidrs: '0.0.0.0/0': input should be a valid list",
    ),
    ("empty cidr list", with_(hub={"fl_cidrs": []}), "federation.yaml: hub.fl_cidrs: the list is empty; nobody could connect"),
    (
        "ssh open to the world",
        with_(hub={"ssh_cidr": "0.0.0.0/0"}),
        "federation.yaml: hub.ssh_cidr: '0.0.0.0/0' opens SSH to the internet; use your admin network",
    ),
    (
        "ipv6 cidr",
        with_(hub={"ssh_cidr": "2001:db8::/32"}),
        "federation.yaml: hub.ssh_cidr: '2001:db8::/32' is IPv6; only IPv4 CIDR blocks are supported",
    ),
    (
        "bad data volume id",
        with_(hub={"data_volume_id": "volume-1"}),
        "federation.yaml: hub.data_volume_id: 'volume-1' is not an EBS volume id",
    ),
    (
        "data volume too large",
        with_(hub={"data_volume_gib": 20000}),
        "federation.yaml: hub.data_volume_gib: 20000 GiB is not a gp3 volume size",
    ),
    (
        "bad elastic ip allocation",
        with_(hub={"elastic_ip": {"allocation_id": "eip-1", "address": "52.10.20.30"}}),
        "federation.yaml: hub.elastic_ip.allocation_id: 'eip-1' is not an Elastic IP allocation id",
    ),
    (
        "private elastic ip address",
        with_(hub={"elastic_ip": {"allocation_id": "eipalloc-0123456789abcdef0", "address": "10.0.0.7"}}),
        "federation.yaml: hub.elastic_ip.address: '10.0.0.7' is not a public IPv4 address",
    ),
    (
        "bad instance type",
        with_(hub={"instance_type": "large"}),
        "federation.yaml: hub.instance_type: 'large' is not an EC2 instance type; use a name like t3.medium",
    ),
    (
        "bad requirement",
        with_(hub={"server_requirements": ["torch; rm -rf /"]}),
        "federation.yaml: hub.server_requirements: 'torch; rm -rf /' is not a pip requirement",
    ),
    (
        "nvflare version unpinned",
        with_(nvflare_version=">=2.4"),
        "federation.yaml: nvflare_version: '>=2.4' is not an exact NVFlare release; pin one like \"2.9.0\"",
    ),
    (
        "nvflare version as float",
        with_(nvflare_version=2.9),
        'federation.yaml: nvflare_version: 2.9 is a number in YAML, not a release; quote the exact release, like nvflare_version: "2.9.0"',
    ),
    ("nvflare too old", with_(nvflare_version="2.4.0"), "federation.yaml: nvflare_version: '2.4.0' is too old; use NVFlare 2.7 or newer"),
    ("bad vpc", with_(network={"vpc": "default"}), "federation.yaml: network.vpc: 'default' is not allowed; use 'auto', 'new' or a VPC id"),
    (
        "subnets without vpc",
        with_(network={"subnet_ids": ["subnet-0aaa1111bbbb2222c"]}),
        "federation.yaml: network: subnet_ids only work with an explicit vpc id",
    ),
    (
        "bad subnet id",
        with_(aws={"account": "123456789012", "region": "us-west-2"}, network={"vpc": "vpc-0abc12345def67890", "subnet_ids": ["sub-1"]}),
        "federation.yaml: network.subnet_ids: 'sub-1' is not a subnet id",
    ),
    (
        "explicit vpc without account",
        with_(network={"vpc": "vpc-0abc12345def67890"}),
        "federation.yaml: network.vpc: an explicit VPC id needs aws.account and aws.region",
    ),
    ("account without region", with_(aws={"account": "123456789012"}), "federation.yaml: aws: set both account and region, or neither"),
    (
        "account as number",
        with_(aws={"account": 123456789012, "region": "us-west-2"}),
        "federation.yaml: aws.account: 123456789012: input should be a valid string",
    ),
    (
        "bad region",
        with_(aws={"account": "123456789012", "region": "oregon"}),
        "federation.yaml: aws.region: 'oregon' is not an AWS region",
    ),
    (
        "letsencrypt without dns",
        with_(certificate={"mode": "letsencrypt"}),
        "federation.yaml: certificate.mode: 'letsencrypt' needs a dns section",
    ),
    (
        "unknown certificate mode",
        with_(certificate={"mode": "acme"}),
        "federation.yaml: certificate.mode: 'acme' is not allowed; use 'letsencrypt', 'provided' or 'self-signed'",
    ),
    ("provided without secret", with_(certificate={"mode": "provided"}), "federation.yaml: certificate: mode 'provided' needs secret_name"),
    (
        "dashboard name outside the zone",
        with_(dns={**DNS, "dashboard_name": "flareboard.otherdomain.org"}),
        "federation.yaml: dns: dashboard_name 'flareboard.otherdomain.org' is not inside the hosted zone 'mydomain.edu'; use a name ending in .mydomain.edu",
    ),
    (
        "zone apex is not inside",
        with_(dns={**DNS, "server_name": "mydomain.edu"}),
        "dns: server_name 'mydomain.edu' is not inside the hosted zone",
    ),
    (
        "suffix trick is not inside",
        with_(dns={**DNS, "server_name": "flare.notmydomain.edu"}),
        "dns: server_name 'flare.notmydomain.edu' is not inside the hosted zone",
    ),
    (
        "bad dns name",
        with_(dns={**DNS, "dashboard_name": "flare_board.mydomain.edu"}),
        "federation.yaml: dns.dashboard_name: 'flare_board.mydomain.edu' is not a DNS name",
    ),
    (
        "bad zone id",
        with_(dns={**DNS, "hosted_zone_id": "zone-1"}),
        "federation.yaml: dns.hosted_zone_id: 'zone-1' is not a Route53 hosted zone id",
    ),
    (
        "dns missing a field",
        with_(dns={k: v for k, v in DNS.items() if k != "server_name"}),
        "federation.yaml: dns.server_name: is required",
    ),
    (
        "site name with a space",
        with_(sites=[{"name": "AWS T4", "kind": "aws"}]),
        "federation.yaml: sites[0].name: 'AWS T4' has a space; use letters, digits or '-'",
    ),
    (
        "duplicate site names",
        with_(sites=[{"name": "site-1", "kind": "aws"}, {"name": "Site-1", "kind": "aws"}]),
        "federation.yaml: sites[1].name: 'Site-1' is used twice; site names must be unique",
    ),
    (
        "unknown site kind",
        with_(sites=[{"name": "site-1", "kind": "gcp"}]),
        "federation.yaml: sites[0].kind: 'gcp' is not a known site kind",
    ),
    (
        "site gpus zero",
        with_(sites=[{"name": "lab", "kind": "aws", "gpus": 0, "gpu_memory_gib": 16}]),
        "federation.yaml: sites[0].gpus: 0 GPUs: an AWS GPU site has 1 to 16 GPUs",
    ),
    (
        "site gpu memory above any gpu",
        with_(sites=[{"name": "lab", "kind": "aws", "gpu_memory_gib": 512}]),
        "federation.yaml: sites[0].gpu_memory_gib: 512 GiB per GPU is more than any AWS GPU has",
    ),
    ("site gpu memory missing", with_(sites=[{"name": "lab", "kind": "aws"}]), "federation.yaml: sites[0].gpu_memory_gib: is required"),
    (
        "site root too small",
        with_(sites=[{"name": "lab", "kind": "aws", "gpu_memory_gib": 16, "root_volume_gib": 30}]),
        "federation.yaml: sites[0].root_volume_gib: 30 GiB is smaller than the Deep Learning AMI itself",
    ),
    (
        "site unknown key",
        with_(sites=[{"name": "lab", "kind": "aws", "gpu_memory_gib": 16, "gpu": 1}]),
        "federation.yaml: sites[0].gpu: unknown key; allowed keys: name, kind, kit, gpus",
    ),
    (
        "site bad arch",
        with_(sites=[{"name": "lab", "kind": "aws", "gpu_memory_gib": 16, "arch": "amd64"}]),
        "federation.yaml: sites[0].arch: 'amd64' is not allowed; use 'x86_64' or 'arm64'",
    ),
    (
        "site kit is not a kit",
        with_(sites=[{"name": "lab", "kind": "aws", "gpu_memory_gib": 16, "kit": "flarectl"}]),
        "federation.yaml: sites[0].kit: 'flarectl' is not an unzipped client startup kit",
    ),
    (
        "site explicit vpc without account",
        with_(sites=[{"name": "lab", "kind": "aws", "gpu_memory_gib": 16, "network": {"vpc": "vpc-0abc12345def67890"}}]),
        "federation.yaml: sites[0].network.vpc: an explicit VPC id needs aws.account and aws.region",
    ),
    ("sites not a list", with_(sites={"name": "site-1"}), "federation.yaml: sites: {'name': 'site-1'}: input should be a valid list"),
]


@pytest.mark.parametrize(("case", "data", "expected"), INVALID, ids=[case for case, _, _ in INVALID])
def test_invalid_config_names_file_field_and_fix(tmp_path: Path, case: str, data: dict[str, Any], expected: str) -> None:
    found = problems(tmp_path, data)
    assert any(expected in problem for problem in found), f"{case}: {found}"
    assert all(problem.startswith("federation.yaml: ") for problem in found)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, with_(hub={"fl_port": 1, "root_volume_gib": 1, "ssh_cidr": "0.0.0.0/0"}, projcet="x"))
    assert len(found) == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("project: [unclosed\n", "federation.yaml: line 2: not valid YAML"),
        ("- just\n- a list\n", "federation.yaml: the file must be a YAML mapping"),
        ("", "federation.yaml: the file must be a YAML mapping"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert found[0].startswith(expected), found


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_federation(tmp_path / "nope.yaml")
    assert "cannot read the federation file" in caught.value.problems[0]


def test_no_instance_type_for_the_gpus_is_refused_when_the_file_is_loaded(tmp_path: Path) -> None:
    """`flarectl validate` runs the fitting synth runs offline: a file that validates synthesizes."""
    found = problems(tmp_path, with_(sites=[{"name": "lab", "kind": "aws", "gpus": 3, "gpu_memory_gib": 16}]))
    assert found == [
        "federation.yaml: sites[0].gpu_memory_gib: no x86_64 NVIDIA instance type in the built-in table has exactly 3 GPU(s) with 16 GiB each; "
        "nearest: g4dn.12xlarge (4 x T4 15 GiB, 48 vCPUs), g5.12xlarge (4 x A10G 22.4 GiB, 48 vCPUs), g6.12xlarge (4 x L4 22.4 GiB, 48 vCPUs). "
        "Set instance_type explicitly or adjust gpus/gpu_memory_gib"
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"instance_type": "g5g.2xlarge"}, "sites[0].arch: g5g.2xlarge is arm64 (Graviton: arm64), but arch is x86_64; set arch: arm64"),
        ({"instance_type": "g4dn.xlarge", "arch": "arm64"}, "sites[0].arch: g4dn.xlarge is x86_64 (Graviton: arm64), but arch is arm64"),
        ({"instance_type": "m5.large"}, "sites[0].instance_type: m5.large is not an NVIDIA GPU type the Deep Learning Base AMI supports"),
        (
            {"instance_type": "p3.2xlarge"},
            "sites[0].instance_type: p3.2xlarge is not an NVIDIA GPU type the Deep Learning Base AMI supports",
        ),
        ({"instance_type": "g4dn.xlarge", "gpus": 4}, "sites[0].gpus: g4dn.xlarge has 1 GPU(s), not 4"),
        (
            {"instance_type": "g4dn.xlarge", "gpu_memory_gib": 40},
            "sites[0].gpu_memory_gib: g4dn.xlarge has Tesla T4 GPUs, which nvidia-smi reports as 15360 MiB (15.00 GiB); "
            "NVFlare refuses more than that: register gpu_memory_gib: 15",
        ),
        ({"aws": {"account": "123456789012", "region": "us-gov-west-1"}}, "sites[0].instance_type: us-gov-west-1 offers fewer GPU types"),
        ({"name": "onc_lab"}, "sites[0].name: 'onc_lab' is not a valid site name; use 1-40 letters, digits or '-', starting with a letter"),
        ({"name": "lab-"}, "sites[0].name: 'lab-' is not a valid site name"),
        ({"name": "1lab"}, "sites[0].name: '1lab' is not a valid site name"),
    ],
)
def test_aws_fields_that_interact(tmp_path: Path, fields: dict[str, Any], expected: str) -> None:
    found = problems(tmp_path, with_(sites=[{"name": "lab", "kind": "aws", "gpus": 1, "gpu_memory_gib": 15, **fields}]))
    assert any(problem.startswith(f"federation.yaml: {expected}") for problem in found), found


@pytest.mark.parametrize(
    ("fields", "instance_type"),
    [
        ({"instance_type": "g5g.2xlarge", "arch": "arm64"}, "g5g.2xlarge"),
        ({"instance_type": "p6-b200.48xlarge", "gpus": 8, "gpu_memory_gib": 179}, "p6-b200.48xlarge"),
        ({"instance_type": "g6e.xlarge", "gpu_memory_gib": 44}, "g6e.xlarge"),
        ({"instance_type": "g4dn.xlarge"}, "g4dn.xlarge"),
    ],
)
def test_aws_instance_types_the_ami_runs_are_accepted(tmp_path: Path, fields: dict[str, Any], instance_type: str) -> None:
    federation = load_federation(write(tmp_path, with_(sites=[{"name": "lab", "kind": "aws", "gpus": 1, "gpu_memory_gib": 15, **fields}])))
    assert federation.sites[0].instance_type == instance_type


@pytest.mark.parametrize("kind", sorted(MINIMAL_SITES))
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"gpus": -3}, "sites[0].gpus: -3 GPUs: "),
        ({"gpus": 99}, "sites[0].gpus: 99 GPUs: "),
        ({"gpus": True}, "sites[0].gpus: True: input should be a valid integer"),
        ({"gpu_memory_gib": -5}, "sites[0].gpu_memory_gib: -5 GiB per GPU: use the memory of one GPU"),
        ({"gpu_memory_gib": float("nan")}, "sites[0].gpu_memory_gib: nan is not a number of GiB"),
        ({"gpu_memory_gib": float("inf")}, "sites[0].gpu_memory_gib: inf is not a number of GiB"),
        ({"gpu_memory_gib": 500}, "sites[0].gpu_memory_gib: 500 GiB per GPU is more than any"),
        ({"requirements": ["torch; rm -rf /"]}, "sites[0].requirements: 'torch; rm -rf /' is not a pip requirement"),
        ({"name": "onc lab"}, "sites[0].name: 'onc lab' has a space"),
    ],
)
def test_shared_site_fields_are_checked_the_same_in_every_kind(tmp_path: Path, kind: str, fields: dict[str, Any], expected: str) -> None:
    site = {"name": "lab", "kind": kind, **MINIMAL_SITES[kind], **fields}
    found = problems(tmp_path, with_(sites=[site]))
    assert any(problem.startswith(f"federation.yaml: {expected}") for problem in found), found


@pytest.mark.parametrize("kind", sorted(MINIMAL_SITES))
def test_a_minimal_site_of_every_kind_is_valid(tmp_path: Path, kind: str) -> None:
    federation = load_federation(write(tmp_path, with_(sites=[{"name": "lab", "kind": kind, **MINIMAL_SITES[kind]}])))
    assert [site.kind for site in federation.sites] == [kind]


BOMB = (Path(__file__).parent / "alias-bomb.yaml").read_bytes()  # 302 bytes, 9^9 (~387 million) values once expanded


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (BOMB, "federation.yaml: line 3: the YAML stands for more than 100000 values once its aliases are expanded"),
        (
            b"project: p\nproject_admin_email: a@b.org\nsites: &a [*a]\n",
            "federation.yaml: line 3: a YAML alias refers to the value that contains it",
        ),
        (
            b"project: p\nproject_admin_email: a@b.org\nsites: []\nsites: []\n",
            "federation.yaml: line 4: the key 'sites' appears twice in one mapping",
        ),
        (
            b"project: p\nproject_admin_email: a@b.org\nhub:\n  fl_port: 8002\n  fl_port: 9000\n",
            "federation.yaml: line 5: the key 'fl_port' appears twice",
        ),
        (b"project: p\xff\nproject_admin_email: a@b.org\n", "federation.yaml: byte 10 is not UTF-8 (b'\\xff'); save the file as UTF-8"),
        (
            b"project: p\nproject_admin_email: " + b"a" * 5000 + b"@b.org\n",
            "federation.yaml: project_admin_email: 5006 characters is longer than any field needs",
        ),
        (
            b"project: p\nproject_admin_email: " + b"a" * 250 + b"@b.org\n",
            "federation.yaml: project_admin_email: '" + "a" * 250 + "@b.org' is not an email address",
        ),
        (b"# padding\n" * 120_000, "federation.yaml: 1200000 bytes; a federation file is at most 1048576 bytes"),
    ],
    ids=["alias-bomb", "recursive-alias", "duplicate-key", "duplicate-nested-key", "not-utf8", "long-text", "long-email", "too-large"],
)
def test_files_that_cannot_be_read_safely_are_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "federation.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_federation(path)
    assert caught.value.problems[0].startswith(expected), caught.value.problems


def test_a_bom_and_crlf_line_ends_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "federation.yaml"
    path.write_bytes(
        b"\xef\xbb\xbfproject: cancer-fl\r\nproject_admin_email: it@hospital.test\r\nsites:\r\n  - {name: lab, kind: aws, gpu_memory_gib: 16}\r\n"
    )
    assert load_federation(path).sites[0].name == "lab"


def test_anchors_for_shared_site_settings_still_work(tmp_path: Path) -> None:
    text = "project: p\nproject_admin_email: a@b.org\ncapacity: {model_mb: 10}\nsites:\n" + "".join(
        f"  - {{name: lab-{i}, kind: aws, gpu_memory_gib: 16, requirements: *reqs}}\n" if i else
        "  - {name: lab-0, kind: aws, gpu_memory_gib: 16, requirements: &reqs [torch==2.5.1, numpy]}\n"
        for i in range(30)
    )  # fmt: skip
    federation = load_federation(write(tmp_path, text))
    assert [site.requirements for site in federation.sites] == [["torch==2.5.1", "numpy"]] * 30


@pytest.mark.parametrize(
    ("requirement", "ok"),
    [("numpy >=1.26", True), ("scipy>=1.11, <2", True), ('pandas; python_version >= "3.10"', True), ("torch[cuda]==2.5.1", True),
     ("torch @ https://example.org/torch.whl", False), ("numpy\nscipy", False), ("-r other.txt", False), ("numpy numpy", False)],
)  # fmt: skip
def test_requirements_are_pep_508_from_the_index(tmp_path: Path, requirement: str, ok: bool) -> None:
    data = with_(hub={"server_requirements": [requirement]})
    if ok:
        assert load_federation(write(tmp_path, data)).hub.server_requirements == [requirement]
    else:
        assert any(problem.startswith("federation.yaml: hub.server_requirements") for problem in problems(tmp_path, data))


def test_a_package_listed_twice_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, with_(hub={"server_requirements": ["torch==2.5.1", "Torch>=2"]}))
    assert found == ["federation.yaml: hub.server_requirements: 'Torch' is listed twice; keep one entry per package"]


def test_the_dashboard_project_defaults_to_frozen_with_a_title(tmp_path: Path) -> None:
    federation = load_federation(write(tmp_path, VALID))
    assert (federation.dashboard.freeze, federation.dashboard_title, federation.dashboard.description) == (
        True, "NVFlare federation cancer-fl", "")  # fmt: skip
    custom = load_federation(
        write(tmp_path, with_(dashboard={"freeze": False, "title": "Onco FL (3 sites)", "description": "A & B: 2026"}))
    )
    assert (custom.dashboard.freeze, custom.dashboard_title, custom.dashboard.description) == (False, "Onco FL (3 sites)", "A & B: 2026")


@pytest.mark.parametrize("value", ['Onco "FL"', "O'Brien lab", "a\\b", "$(reboot)", "#1", " lead", "trail ", "x" * 121, "`id`"])
@pytest.mark.parametrize("field", ["title", "description"])
def test_dashboard_text_is_one_plain_line(tmp_path: Path, field: str, value: str) -> None:
    assert problems(tmp_path, with_(dashboard={field: value})) == [
        f"federation.yaml: dashboard.{field}: {value!r}: use up to 120 letters, digits, spaces and . , : ; ( ) _ + / @ & - "
        "(no quotes, backslashes, $ or #)"
    ]


def test_a_restore_adopts_the_kept_admin_secret(tmp_path: Path) -> None:
    assert problems(tmp_path, with_(hub={"data_volume_id": "vol-0123456789abcdef0"})) == [
        "federation.yaml: hub: data_volume_id restores an earlier hub, whose dashboard database matches the admin secret that hub "
        "kept (cdk destroy retains <project>/dashboard-admin, so creating it again would fail): set admin_secret: existing"
    ]
    restored = load_federation(write(tmp_path, with_(hub={"data_volume_id": "vol-0123456789abcdef0", "admin_secret": "existing"})))
    assert restored.hub.admin_secret == "existing"
