"""Cross-field rules at their edges, each over its whole set, with the expected values written
here and not computed by the product (issue 34): the GPU families the Deep Learning AMI runs,
regions the built-in table does not stock, GPU memory on cloud kinds, Azure's tag limit, DNS
names, Slurm time limits and the #SBATCH options the job script owns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flarectl.federation import Federation
from flarectl.sites.aws.instance_types import dlami_supports
from flarectl.sites.slurm import time_seconds
from tests.harness.config_cases import DNS, problems, with_

# The families AWS documents for the Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04):
# x86_64 G4dn, G5, G6, Gr6, G6e, G7e, P4d, P4de, P5, P5e, P5en, P6 (and P6's -b200 / -b300 kinds);
# arm64 G5g.
DLAMI_X86 = ["g4dn", "g5", "g6", "gr6", "g6e", "g7e", "p4d", "p4de", "p5", "p5e", "p5en", "p6"]
NOT_DLAMI_X86 = ["g6f", "g5g", "g4ad", "g3", "g3s", "p3", "p3dn", "p2", "inf2", "trn1", "gr6f", "g6ex", "p6e", "p5f", "t3", "c7i"]


@pytest.mark.parametrize("family", DLAMI_X86)
def test_every_family_the_dlami_runs_is_accepted_on_x86(family: str) -> None:
    assert dlami_supports(f"{family}.xlarge", "x86_64")
    assert not dlami_supports(f"{family}.xlarge", "arm64")


@pytest.mark.parametrize("family", NOT_DLAMI_X86)
def test_a_family_that_only_starts_like_one_the_dlami_runs_is_refused(family: str) -> None:
    """g6f (fractional L4), gr6f and g6ex start with g6/gr6/g6e but are other families."""
    assert not dlami_supports(f"{family}.xlarge", "x86_64")


def test_a_dash_kind_of_a_family_is_that_family_and_arm_is_g5g_only() -> None:
    assert dlami_supports("p6-b200.48xlarge", "x86_64") and dlami_supports("p6-b300.48xlarge", "x86_64")
    assert dlami_supports("g5g.2xlarge", "arm64") and not dlami_supports("g5.2xlarge", "arm64")


@pytest.mark.parametrize("region", ["cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1"])
def test_regions_the_built_in_table_does_not_stock_need_an_explicit_instance_type(tmp_path: Path, region: str) -> None:
    aws = {"account": "123456789012", "region": region}
    site = {"name": "lab", "kind": "aws", "gpus": 1, "gpu_memory_gib": 22, "aws": aws}
    assert problems(tmp_path, with_(sites=[site])) == [
        f"federation.yaml: sites[0].instance_type: {region} offers fewer GPU types than the built-in table knows; set instance_type to one it offers"
    ]
    federation = Federation.model_validate(with_(sites=[{**site, "instance_type": "g5.xlarge"}]))
    assert federation.sites[0].instance_type == "g5.xlarge"


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "ap-northeast-1", "ca-central-1"])
def test_commercial_regions_choose_from_the_table(region: str) -> None:
    site = {"name": "lab", "kind": "aws", "gpus": 1, "gpu_memory_gib": 22, "aws": {"account": "123456789012", "region": region}}
    assert Federation.model_validate(with_(sites=[site])).sites[0].instance_type is None


@pytest.mark.parametrize(("kind", "fields"), [("aws", {}), ("azure", {"location": "eastus"})])
def test_a_cloud_kind_needs_gpu_memory_above_zero(tmp_path: Path, kind: str, fields: dict[str, Any]) -> None:
    """Cloud kinds choose hardware by the GPU memory: 0 (the default) is refused, not a wildcard."""
    site = {"name": "lab", "kind": kind, **fields, "gpu_memory_gib": 0}
    assert problems(tmp_path, with_(sites=[site])) == [
        "federation.yaml: sites[0].gpu_memory_gib: 0 GiB per GPU: use the memory of one GPU as nvidia-smi reports it, in GiB (more than 0)"
    ]
    assert problems(tmp_path, with_(sites=[{**site, "gpu_memory_gib": -1}]))[0].startswith(
        "federation.yaml: sites[0].gpu_memory_gib: -1 GiB"
    )


@pytest.mark.parametrize(("kind", "fields"), [("slurm", {"kit": "/s/k", "workdir": "/s/w"}), ("linux", {"kit": "/k", "workdir": "/w"}),
                                              ("wsl", {"kit": "/home/a/k", "workdir": "/home/a/w"})])  # fmt: skip
def test_a_folder_kind_may_register_no_gpu_memory(kind: str, fields: dict[str, Any]) -> None:
    site = {"name": "lab", "kind": kind, **fields, "gpus": 0, "gpu_memory_gib": 0}
    assert Federation.model_validate(with_(sites=[site])).sites[0].gpu_memory_gib == 0


def azure_site(tags: int) -> dict[str, Any]:
    return {"name": "onc-az", "kind": "azure", "location": "eastus", "gpu_memory_gib": 15, "tags": {f"t{i}": "v" for i in range(tags)}}


def test_azure_allows_50_tags_a_resource_and_the_vm_carries_four_of_flarectls() -> None:
    """The VM has the site's tags, flare-project, flare-site, flare-managed-by and the custom
    data's hash: 46 of the site's own make exactly 50 there, 47 are refused."""
    from flarectl.sites.azure.plan import plan_site

    federation = Federation.model_validate(with_(sites=[azure_site(46)]))
    plan = plan_site(federation.sites[0], federation, subscription_id="0", custom_data="", custom_data_sha256="h", ssh_public_key="")
    counts = {resource.type: len(resource.model.tags) for resource in plan.resources}
    assert counts["Microsoft.Compute/virtualMachines"] == 50 and max(counts.values()) == 50 and len(plan.resource_group_tags) == 49


def test_47_azure_tags_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, with_(sites=[azure_site(47)])) == [
        "federation.yaml: sites[0].tags: 47 tags: Azure allows 50 per resource and flarectl adds 4 to the VM; use at most 46"
    ]


def test_the_dashboard_and_the_fl_server_need_names_of_their_own(tmp_path: Path) -> None:
    same = {**DNS, "server_name": DNS["dashboard_name"]}
    assert problems(tmp_path, with_(dns=same)) == [
        "federation.yaml: dns: dashboard_name and server_name are the same; give each its own name"
    ]
    assert problems(tmp_path, with_(dns={**same, "server_name": same["server_name"].upper()})) == [
        "federation.yaml: dns: dashboard_name and server_name are the same; give each its own name"
    ]


@pytest.mark.parametrize(
    ("limit", "seconds"),
    [
        ("45", 45 * 60),  # minutes
        ("5:30", 5 * 60 + 30),  # minutes:seconds, not hours:minutes
        ("59:59", 59 * 60 + 59),
        ("2:00:00", 2 * 3600),  # hours:minutes:seconds
        ("1-00:00:00", 86400),  # days-hours:minutes:seconds
        ("1-02:30", 26 * 3600 + 30 * 60),  # days-hours:minutes
        ("7-00:00:00", 7 * 86400),
    ],
)
def test_slurm_time_limits_read_as_slurm_reads_them(limit: str, seconds: int) -> None:
    assert time_seconds(limit) == seconds


# What the job script sets itself, or what would change what the job is: an extra directive
# may not name any of them (sbatch takes the last one given, so it would win).
OWNED_BY_THE_JOB_SCRIPT = ["job-name", "partition", "account", "qos", "time", "gres", "gpus", "gpus-per-node", "gpus-per-task",
                           "cpus-per-task", "mem", "mem-per-cpu", "mem-per-gpu", "signal", "output", "error", "open-mode", "array",
                           "dependency", "wrap", "uid", "gid", "chdir", "parsable", "hold", "test-only", "wait"]  # fmt: skip


@pytest.mark.parametrize("option", OWNED_BY_THE_JOB_SCRIPT)
def test_an_extra_directive_cannot_set_what_the_job_script_owns(tmp_path: Path, option: str) -> None:
    site = {"name": "hpc", "kind": "slurm", "kit": "/s/k", "workdir": "/s/w", "extra_directives": [f"--{option}=1"]}
    assert problems(tmp_path, with_(sites=[site])) == [
        f"federation.yaml: sites[0].extra_directives: '--{option}=1': --{option} is set from the site's own fields (or would change "
        "what the job is); remove it"
    ]


# An explicit AWS instance_type, each branch of its check with the message written out. The
# sizes are EC2's (the instance-type pages of the G5 and G5g families); T4G, A10G and H100
# figures are nvidia-smi's, as tests/unit/test_gpu_memory.py cites them.
AWS = {"account": "123456789012", "region": "us-east-1"}
EXPLICIT_TYPES = [
    ("g5.3xlarge", {}, "instance_type: g5.3xlarge is not an EC2 instance type (g5 comes in xlarge, 2xlarge, 4xlarge, 8xlarge, 12xlarge, "
                       "16xlarge, 24xlarge, 48xlarge)"),
    ("g5g.3xlarge", {"arch": "arm64"}, "instance_type: g5g.3xlarge is not an EC2 instance type (g5g comes in xlarge, 2xlarge, 4xlarge, "
                                       "8xlarge, 16xlarge, metal)"),
    ("g6f.xlarge", {}, "instance_type: g6f.xlarge is not an NVIDIA GPU type the Deep Learning Base AMI supports (x86_64: g4dn, g5, g6, "
                       "gr6, g6e, g7e, p4d, p4de, p5, p5e, p5en, p6)"),
    ("c7g.xlarge", {"arch": "arm64"}, "instance_type: c7g.xlarge is not an NVIDIA GPU type the Deep Learning Base AMI supports (arm64: g5g)"),
    ("g5.xlarge", {"arch": "arm64"}, "arch: g5.xlarge is x86_64 (Graviton: arm64), but arch is arm64; set arch: x86_64"),
    ("g5g.xlarge", {}, "arch: g5g.xlarge is arm64 (Graviton: arm64), but arch is x86_64; set arch: arm64"),
    ("g4dn.12xlarge", {}, "gpus: g4dn.12xlarge has 4 GPU(s), not 1; register what the instance has"),
    ("g5.xlarge", {"gpu_memory_gib": 23}, "gpu_memory_gib: g5.xlarge has NVIDIA A10G GPUs, which nvidia-smi reports as 23028 MiB "
                                          "(22.49 GiB); NVFlare refuses more than that: register gpu_memory_gib: 22.4"),
    ("g5g.xlarge", {"arch": "arm64"}, "gpu_memory_gib: g5g.xlarge has NVIDIA T4G GPUs, which nvidia-smi reports as 15360 MiB (15.00 GiB); "
                                      "NVFlare refuses more than that: register gpu_memory_gib: 15"),
]  # fmt: skip


@pytest.mark.parametrize(("instance_type", "fields", "message"), EXPLICIT_TYPES)
def test_an_explicit_aws_instance_type_is_checked_against_what_it_is(
    tmp_path: Path, instance_type: str, fields: dict[str, Any], message: str
) -> None:
    site = {"name": "lab", "kind": "aws", "gpus": 1, "gpu_memory_gib": 22, "aws": AWS, "instance_type": instance_type, **fields}
    assert problems(tmp_path, with_(sites=[site])) == [f"federation.yaml: sites[0].{message}"]


@pytest.mark.parametrize(("instance_type", "fields"), [("g5.xlarge", {}), ("g5g.xlarge", {"arch": "arm64", "gpu_memory_gib": 15}),
                                                       ("g7e.2xlarge", {"gpu_memory_gib": 90}), ("p6-b200.48xlarge", {"gpus": 8})])  # fmt: skip
def test_an_explicit_aws_instance_type_that_holds_the_registration_is_taken(instance_type: str, fields: dict[str, Any]) -> None:
    """g7e is not in the built-in table yet: synth checks it against EC2's catalogue, with credentials."""
    site = {"name": "lab", "kind": "aws", "gpus": 1, "gpu_memory_gib": 22, "aws": AWS, "instance_type": instance_type, **fields}
    assert Federation.model_validate(with_(sites=[site])).sites[0].instance_type == instance_type


@pytest.mark.parametrize(
    ("gpus", "gib", "nearest"),
    [
        (
            3,
            16,
            "g4dn.12xlarge (4 x T4 15 GiB, 48 vCPUs), g5.12xlarge (4 x A10G 22.4 GiB, 48 vCPUs), g6.12xlarge (4 x L4 22.4 GiB, 48 vCPUs)",
        ),
        (1, 100, "g6e.xlarge (1 x L40S 44.9 GiB, 4 vCPUs), g6.xlarge (1 x L4 22.4 GiB, 4 vCPUs), g5.xlarge (1 x A10G 22.4 GiB, 4 vCPUs)"),
    ],
)
def test_no_type_in_the_table_names_the_nearest_by_gpus_then_memory_then_size(gpus: int, gib: float, nearest: str) -> None:
    """The same GPU count first, then the GPU memory closest to the registration, then the fewest vCPUs."""
    from flarectl.sites.aws.instance_types import BUILTIN, NoInstanceType, choose

    with pytest.raises(NoInstanceType) as caught:
        choose(list(BUILTIN), gpus=gpus, gpu_memory_gib=gib, arch="x86_64", source="the built-in table", by_price=True)
    assert str(caught.value) == (
        f"no x86_64 NVIDIA instance type in the built-in table has exactly {gpus} GPU(s) with {gib:g} GiB each; nearest: {nearest}. "
        "Set instance_type explicitly or adjust gpus/gpu_memory_gib"
    )


@pytest.mark.parametrize("option", ["--partition=gpu;id", "--comment=a b", "--time=1:00:00\n#SBATCH --uid=0", "partition=gpu"])
def test_the_assembled_sbatch_line_is_guarded_once_more(option: str) -> None:
    """The federation file's checks refuse these first; the guard holds if a later change lets one through."""
    from flarectl.sites.slurm import safe

    assert safe(["--partition=gpu", "--gres=gpu:2"]) == ["--partition=gpu", "--gres=gpu:2"]
    with pytest.raises(ValueError) as caught:
        safe(["--partition=gpu", option])
    assert str(caught.value) == f"unsafe #SBATCH option {option!r}"
