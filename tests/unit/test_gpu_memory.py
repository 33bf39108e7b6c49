"""GPU memory as NVFlare checks it: one table (flarectl/gpu_models.py) of what nvidia-smi reports
per model; every kind's emitted registration is run through NVFlare's own GPUResourceManager on a
stand-in nvidia-smi of that model, and a registration above the model's figure is refused at load
for the cloud kinds, whose hardware the file names."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flarectl.client_runtime import client_settings, cloud_layout, folder_layout
from flarectl.config.governance import Stance
from flarectl.config.sites import FolderSite
from flarectl.federation import Federation
from flarectl.gpu_models import GPU_MODELS
from flarectl.sites.aws.instance_types import BUILTIN, CATALOGUE
from flarectl.sites.azure.sizes import GPU_SIZES
from tests.harness.fake_nvidia_smi import nvflare_accepts
from tests.harness.values import bash_reads, load_or_problems, write_federation

FOLDER = {"slurm": {"kit": "/s/k", "workdir": "/s/w"}, "linux": {"kit": "/srv/k", "workdir": "/srv/w"},
          "wsl": {"kit": "/home/a/k", "workdir": "/home/a/w"}}  # fmt: skip
# (kind, fields, model, GPUs): every AWS type and Azure size in the tables, every model on a folder kind.
CASES = (
    [("aws", {"instance_type": name, "arch": t.arch}, t.gpu_model, t.gpus) for name, t in sorted(CATALOGUE.items())]
    + [("azure", {"location": "eastus", "vm_size": name}, size.gpu_model, size.gpus) for name, size in sorted(GPU_SIZES.items())]
    + [(kind, fields, model, 1) for kind, fields in FOLDER.items() for model in GPU_MODELS]
)


def registered(kind: str, fields: dict[str, Any], gpus: int, memory: float) -> dict[str, Any]:
    return {"project": "p", "project_admin_email": "a@b.org",
            "sites": [{"name": "site-1", "kind": kind, "gpus": gpus, "gpu_memory_gib": memory, **fields}]}  # fmt: skip


def emitted_registration(federation: Federation, directory: Path) -> tuple[int, float]:
    """GPUS and GPU_MEMORY_GIB as the host's runtime reads them from client.env (bash), then as
    it writes them into resources.json (int, float)."""
    from flarectl.host_scripts import render_settings_file

    site = federation.sites[0]
    layout = folder_layout(site) if isinstance(site, FolderSite) else cloud_layout("kit")
    settings = bash_reads(
        render_settings_file(client_settings(site, "2.9.0", layout, Stance.of()), about="t"), ["GPUS", "GPU_MEMORY_GIB"], directory
    )
    return int(settings["GPUS"]), float(settings["GPU_MEMORY_GIB"])


@pytest.mark.parametrize(("kind", "fields", "model", "gpus"), CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_the_tables_figure_starts_nvflare_and_one_step_more_does_not(kind: str, fields: dict, model: str, gpus: int) -> None:
    figure = GPU_MODELS[model].register_gib
    with tempfile.TemporaryDirectory() as directory:
        federation = load_or_problems(write_federation(Path(directory), registered(kind, fields, gpus, figure)))
        assert isinstance(federation, Federation), federation
        assert nvflare_accepts(model, gpus, *emitted_registration(federation, Path(directory)))
        above = round(GPU_MODELS[model].usable_gib + 0.01, 2)
        assert not nvflare_accepts(model, gpus, gpus, above)
        refused = load_or_problems(write_federation(Path(directory), registered(kind, fields, gpus, above)))
        if kind in ("aws", "azure"):  # the file names the hardware: refused before any host
            assert isinstance(refused, list) and refused[0].startswith("federation.yaml: sites[0].gpu_memory_gib: "), refused
            assert f"register gpu_memory_gib: {figure:g}" in refused[0]


@settings(max_examples=60)
@given(model=st.sampled_from(sorted(GPU_MODELS)), fraction=st.floats(0.5, 1.0))
def test_any_registration_the_file_accepts_for_a_model_starts_nvflare(model: str, fraction: float) -> None:
    """Numbers travel through client.env without rounding up (22.48828125 stays itself)."""
    figure = GPU_MODELS[model].usable_gib * fraction
    with tempfile.TemporaryDirectory() as directory:
        federation = load_or_problems(write_federation(Path(directory), registered("linux", FOLDER["linux"], 1, figure)))
        assert isinstance(federation, Federation)
        gpus, memory = emitted_registration(federation, Path(directory))
        assert memory == figure and memory * 1024 <= GPU_MODELS[model].memory_mib


def test_the_embedded_default_and_every_priced_type_fit_their_gpus() -> None:
    from flarectl.config import DEFAULT_FEDERATION
    from flarectl.federation import load_federation

    default = load_federation(DEFAULT_FEDERATION)
    aws = next(site for site in default.sites if site.kind == "aws")
    assert aws.gpu_memory_gib * 1024 <= GPU_MODELS["T4"].memory_mib  # the chooser's g4dn.xlarge
    assert all(t.gpu_memory_gib == GPU_MODELS[t.gpu_model].usable_gib for t in BUILTIN)


def test_the_type_table_is_ec2s_own_catalogue() -> None:
    """Every size, GPU count and vCPU count in the table is what EC2's DescribeInstanceTypes says
    (moto ships a copy of it), and the table lists every size of each family it covers."""
    import gzip
    import json
    import os

    import moto

    ec2 = json.load(gzip.open(Path(os.path.dirname(moto.__file__)) / "ec2" / "resources" / "instance_types.json.gz"))
    ours = {name: (t.gpus, t.vcpus, t.arch) for name, t in CATALOGUE.items()}
    theirs = {name: (sum(g["Count"] for g in ec2[name]["GpuInfo"]["Gpus"]), ec2[name]["VCpuInfo"]["DefaultVCpus"],
                     "arm64" if "arm64" in ec2[name]["ProcessorInfo"]["SupportedArchitectures"] else "x86_64")
              for name in ec2 if name.split(".")[0] in {n.split(".")[0] for n in CATALOGUE}}  # fmt: skip
    assert ours == theirs
