"""What `cdk synth` (and `flarectl site-files`) writes for an on-prem Linux GPU machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from flarectl.cli import main as flarectl
from flarectl.federation import Federation
from flarectl.host_scripts import HOSTS_DIR
from flarectl.sites.linux import emit
from flarectl.sites.registry import KINDS

SITE = {
    "name": "path-lab",
    "kind": "linux",
    "kit": "/srv/nvflare/kits/path-lab",
    "workdir": "/srv/nvflare/path-lab",
    "gpus": 2,
    "gpu_memory_gib": 22,
}


def linux_federation(**fields) -> Federation:
    return Federation.model_validate({"project": "p", "project_admin_email": "it@hospital.test", "sites": [{**SITE, **fields}]})


@pytest.fixture
def emitted(tmp_path: Path) -> Path:
    federation = linux_federation(requirements=["torch==2.5.1"])
    emit(federation.sites[0], federation, tmp_path)
    return tmp_path


def test_every_kind_in_flarectl_sites_is_registered_once() -> None:
    """A kind is a package under flarectl/sites/ that defines KIND (the other modules there are
    shared); each is in the registry once, under its own name."""
    import importlib

    from flarectl.host_scripts import PACKAGE_DIR
    from flarectl.sites.registry import KIND_MODULES

    packages = sorted(f"flarectl.sites.{p.parent.name}" for p in (PACKAGE_DIR / "sites").glob("*/__init__.py"))
    assert sorted(KIND_MODULES) == [m for m in packages if hasattr(importlib.import_module(m), "KIND")] == packages
    assert len(set(KIND_MODULES)) == len(KIND_MODULES)
    assert all(kind.name == name for name, kind in KINDS.items())


def test_files_for_the_machine(emitted: Path) -> None:
    assert sorted(p.name for p in emitted.iterdir()) == [
        "README.md",
        "client.env",
        "flare-client.sh",
        "flare-doctor.py",
        "flare-site.sh",
        "startup_kit.py",
        "venv-install.sh",
    ]
    assert (emitted / "flare-client.sh").read_text() == (HOSTS_DIR / "client" / "flare-client.sh").read_text()
    settings = (emitted / "client.env").read_text().splitlines()
    for line in ("SITE_NAME=path-lab", "KIT_SOURCE=/srv/nvflare/kits/path-lab", "SITE_ROOT=/srv/nvflare/path-lab",
                 "VENV=/srv/nvflare/path-lab/venv", "GPUS=2", "GPU_MEMORY_GIB=22", "REQUIREMENTS=torch==2.5.1", "PYTHON=python3"):  # fmt: skip
        assert line in settings


def test_the_unit_starts_at_boot_restarts_always_and_runs_the_shared_runtime(emitted: Path) -> None:
    script = (emitted / "flare-site.sh").read_text()
    assert "readonly PLATFORM=linux" in script and "readonly SITE_DIR=/srv/nvflare/path-lab" in script
    unit = script.split("<<UNIT\n", 1)[1].split("\nUNIT\n", 1)[0]
    assert {"Restart=always", "RestartPreventExitStatus=3", "WantedBy=multi-user.target"} <= set(unit.splitlines())
    assert "ExecStart=/bin/bash ${SITE_DIR}/flare-client.sh ${SITE_DIR}/client.env run" in unit.splitlines()


def test_the_runtime_waits_for_nvidia_smi_before_the_client_starts() -> None:
    runtime = (HOSTS_DIR / "client" / "flare-client.sh").read_text()
    run_client = runtime.split("run_client() {", 1)[1].split("\n}\n", 1)[0]
    assert run_client.index("wait_for_gpus") < run_client.index("client_train")
    assert "until nvidia-smi -L" in runtime


def test_readme_walks_the_org_admin_through(emitted: Path) -> None:
    readme = (emitted / "README.md").read_text()
    for text in ("/srv/nvflare/kits/path-lab", "bash flare-site.sh setup", "bash flare-site.sh start", "bash flare-site.sh status",
                 "bash flare-site.sh stop", "journalctl -u flare-client-path-lab", "NVFlare\n   2.9.0"):  # fmt: skip
        assert text in readme


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"workdir": "srv/nvflare"}, "is not an absolute workdir path"),
        ({"kit": "/srv/$(reboot)"}, "is not an absolute kit path"),
        ({"gpus": 17}, "17 GPUs: a Linux GPU server has 0 to 16 GPUs"),
        ({"gpus": -3}, "-3 GPUs: a Linux GPU server has 0 to 16 GPUs"),
        ({"gpu_memory_gib": -5}, "-5 GiB per GPU: use the memory of one GPU"),
        ({"gpu_memory_gib": float("nan")}, "nan is not a number of GiB"),
        ({"python": "python3.11"}, "use python3 (from PATH) or an absolute path"),
        ({"requirements": ["torch; rm -rf /"]}, "is not a pip requirement"),
        ({"partition": "gpu"}, "linux.partition\n  Extra inputs are not permitted"),
    ],
)
def test_wrong_values_are_refused(fields: dict, expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        linux_federation(**fields)
    assert expected in str(caught.value)


def test_site_files_writes_what_synth_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "federation.yaml"
    config.write_text(f"project: p\nproject_admin_email: it@hospital.test\nsites:\n  - {SITE}\n".replace("'", '"'))
    assert flarectl(["site-files", "path-lab", "-c", str(config), "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "README.md",
        "client.env",
        "flare-client.sh",
        "flare-doctor.py",
        "flare-site.sh",
        "startup_kit.py",
        "venv-install.sh",
    ]
    assert "README.md" in capsys.readouterr().out


def test_site_files_refuses_a_stack_kind_and_an_unknown_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "federation.yaml"
    config.write_text("project: p\nproject_admin_email: it@hospital.test\nsites:\n  - {name: lab, kind: aws, gpu_memory_gib: 16}\n")
    assert flarectl(["site-files", "lab", "-c", str(config)]) == 2
    assert "aws sites are CloudFormation stacks, not files; `make synth` builds them" in capsys.readouterr().err
    assert flarectl(["site-files", "nope", "-c", str(config)]) == 2
    assert "no site 'nope'" in capsys.readouterr().err


def test_synth_removes_the_files_of_sites_no_longer_in_the_file(tmp_path: Path) -> None:
    import aws_cdk as cdk

    from app import build_app

    outdir = tmp_path / "cdk.out"
    (outdir / "sites" / "old-lab").mkdir(parents=True)
    (outdir / "sites" / "old-lab" / "client.env").write_text("SITE_NAME=old-lab\n")
    (outdir / "site-bundles" / "old-lab" / "kit").mkdir(parents=True)
    build_app(linux_federation(), app=cdk.App(outdir=str(outdir)))
    assert sorted(p.name for p in (outdir / "sites").iterdir()) == ["path-lab"]
    assert list((outdir / "site-bundles").iterdir()) == []


@pytest.mark.parametrize(("fields", "venv"), [({}, "/srv/w/venv"), ({"venv": "/opt/venvs/flare"}, "/opt/venvs/flare")])
def test_the_readme_says_where_each_thing_goes(fields: dict, venv: str) -> None:
    from flarectl.federation import Federation
    from flarectl.sites.linux import site_readme
    from tests.harness.config_cases import with_

    federation = Federation.model_validate(
        with_(sites=[{"name": "path-lab", "kind": "linux", "kit": "/srv/k", "workdir": "/srv/w", **fields}])
    )
    lines = site_readme(federation.sites[0], federation).splitlines()  # type: ignore[arg-type]
    assert lines[6:11] == [
        "1. Download this site's startup kit from the NVFlare dashboard and unzip it at `/srv/k`.",
        "2. Copy this folder to `/srv/w/` on the machine.",
        "3. `cd /srv/w && bash flare-site.sh setup` (checks `nvidia-smi`, installs NVFlare",
        f"   2.9.0 and the site's requirements into `{venv}`, installs the kit and the",
        "   unit `flare-client-path-lab.service`).",
    ]
