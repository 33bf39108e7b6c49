"""What `cdk synth` writes for a Slurm site: shellcheck-clean scripts, safe rendering."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from flarectl.config import DEFAULT_FEDERATION
from flarectl.federation import Federation, load_federation
from flarectl.sites.slurm import emit
from tests.conftest import needs


def slurm_federation(**fields) -> Federation:
    site = {"name": "hpc-1", "kind": "slurm", "kit": "/shared/kits/hpc-1", "workdir": "/shared/nvflare/hpc-1", **fields}
    return Federation.model_validate({"project": "p", "project_admin_email": "it@hospital.test", "sites": [site]})


@pytest.fixture
def emitted(tmp_path: Path) -> Path:
    federation = slurm_federation(partition="gpu", account="onc", qos="normal", gres="gpu:a40:1", extra_directives=["--constraint=a40"],
                                  requirements=["torch>=2.4,<3"], gpu_memory_gib=44)  # fmt: skip
    emit(federation.sites[0], federation, tmp_path)
    return tmp_path


def test_files_for_the_login_node(emitted: Path) -> None:
    assert sorted(p.name for p in emitted.iterdir()) == [
        "README.md", "client.env", "crontab.txt", "flare-client.sbatch", "flare-client.sh", "flare-doctor.py", "flare-watchdog.sh",
        "startup_kit.py", "venv-install.sh"
    ]  # fmt: skip
    assert (emitted / "flare-client.sh").read_text() == (Path(__file__).parents[2] / "flarectl/hosts/client/flare-client.sh").read_text()


def test_job_script_directives_come_first_and_hand_over_before_the_limit(emitted: Path) -> None:
    lines = (emitted / "flare-client.sbatch").read_text().splitlines()
    directives = [line for line in lines if line.startswith("#SBATCH ")]
    assert directives == [
        "#SBATCH --job-name=flare-hpc-1", "#SBATCH --partition=gpu", "#SBATCH --account=onc", "#SBATCH --qos=normal",
        "#SBATCH --time=1-00:00:00", "#SBATCH --gres=gpu:a40:1", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=32G",
        "#SBATCH --signal=B:USR1@300", "#SBATCH --output=/shared/nvflare/hpc-1/%x-%j.out", "#SBATCH --open-mode=append",
        "#SBATCH --constraint=a40",
    ]  # fmt: skip
    first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    assert lines.index(directives[-1]) < first_command  # Slurm ignores #SBATCH after the first command
    text = "\n".join(lines)
    assert 'sbatch --parsable --dependency=singleton "${SITE_DIR}/flare-client.sbatch"' in text
    assert 'bash "${SITE_DIR}/flare-client.sh" "${SITE_DIR}/client.env" run &' in text


def test_gpus_instead_of_gres(tmp_path: Path) -> None:
    federation = slurm_federation(gpus=2)
    emit(federation.sites[0], federation, tmp_path)
    assert "#SBATCH --gpus=2" in (tmp_path / "flare-client.sbatch").read_text()


def test_a_cpu_only_site_asks_for_no_gpu(tmp_path: Path) -> None:
    federation = slurm_federation(gpus=0, gres=None)
    emit(federation.sites[0], federation, tmp_path)
    script = (tmp_path / "flare-client.sbatch").read_text()
    assert "--gpus" not in script and "--gres" not in script and "#SBATCH --cpus-per-task=4" in script


def test_settings_are_quoted_for_the_shared_runtime(emitted: Path) -> None:
    result = subprocess.run(["bash", "-c", f'. "{emitted}/client.env"; echo "$REQUIREMENTS|$KIT_SOURCE|$GPU_MEMORY_GIB"'],
                            capture_output=True, text=True)  # fmt: skip
    assert result.stdout == "torch>=2.4,<3|/shared/kits/hpc-1|44\n"


def test_crontab_line_runs_the_watchdog(emitted: Path) -> None:
    assert (emitted / "crontab.txt").read_text() == (
        "*/10 * * * * /bin/bash /shared/nvflare/hpc-1/flare-watchdog.sh >> /shared/nvflare/hpc-1/watchdog.log 2>&1\n"
    )


def test_readme_says_where_to_copy_how_to_start_check_and_stop(emitted: Path) -> None:
    readme = (emitted / "README.md").read_text()
    for text in ("/shared/kits/hpc-1", "Copy this folder's files to `/shared/nvflare/hpc-1/`", "bash /shared/nvflare/hpc-1/flare-watchdog.sh",
                 "squeue --me -n flare-hpc-1", "scancel --me -n flare-hpc-1", "crontab -e"):  # fmt: skip
        assert text in readme


@pytest.mark.parametrize("script", ["flare-client.sbatch", "flare-watchdog.sh", "flare-client.sh"])
def test_emitted_scripts_are_shellcheck_clean(emitted: Path, script: str) -> None:
    needs(shutil.which("shellcheck") is not None, "shellcheck (Debian package 'shellcheck')")
    result = subprocess.run(["shellcheck", "-s", "bash", "--severity=style", str(emitted / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"extra_directives": ["--comment=x\n#SBATCH --uid=0"]}, "is not a safe #SBATCH option"),
        ({"extra_directives": ["--wrap='rm -rf /'"]}, "is not a safe #SBATCH option"),
        ({"workdir": "/shared/$(id)"}, "is not an absolute workdir path"),
        ({"kit": "relative/kit"}, "is not an absolute kit path"),
        ({"partition": "gpu;reboot"}, "is not a Slurm name"),
        ({"gres": "gpu:a40:1 --uid=0"}, "is not a GPU gres"),
        ({"time": "1-00:00:00\n#SBATCH --uid=0"}, "is not a Slurm time limit"),
        ({"memory": "32G; id"}, "is not a Slurm memory size"),
        ({"python": "python3; id"}, "use python3 (from PATH) or an absolute path"),
        ({"python": "/usr/bin/python3;id"}, "is not an absolute python path"),
        ({"gpus": -3}, "-3 GPUs: a Slurm site (one job on one node) has 0 to 16 GPUs"),
        ({"cpus": -1}, "-1 CPUs: ask for 1 to 1024 CPUs per task"),
    ],
)
def test_hostile_values_never_reach_a_script(fields: dict, expected: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        slurm_federation(**fields)
    assert expected in str(caught.value)


def test_default_federation_has_a_slurm_site() -> None:
    federation = load_federation(DEFAULT_FEDERATION)
    assert [site.name for site in federation.sites if site.kind == "slurm"] == ["hpc-lab"]


LAUNCHER_FILES = ["README.md", "client.env", "crontab.txt", "flare-client.sh", "flare-doctor.py", "flare-launcher-prepare.sh",
                  "flare-sbatch.sh", "flare-watchdog.sh", "slurm.yaml", "startup_kit.py", "venv-install.sh"]  # fmt: skip


def launcher_site(tmp_path: Path, **fields) -> Path:
    site = {"mode": "launcher", "partition": "gpu", "account": "onc", "qos": "normal", "time": "08:00:00", "venv": "/shared/venvs/flare",
            "gres": "gpu:a40:1", "cpus": 8, "memory": "64G", "extra_directives": ["--constraint=a40"], **fields}  # fmt: skip
    federation = slurm_federation(**site)
    emit(federation.sites[0], federation, tmp_path)
    return tmp_path


def test_launcher_mode_emits_the_nvflare_slurm_config_with_separate_parent_and_fl_job_resources(tmp_path: Path) -> None:
    import yaml

    emitted = launcher_site(tmp_path, parent={"partition": "cpu", "qos": "long", "time": "7-00:00:00", "cpus": 2, "memory": "8G"})
    assert sorted(p.name for p in emitted.iterdir()) == LAUNCHER_FILES
    assert yaml.safe_load((emitted / "slurm.yaml").read_text()) == {
        "runtime": "slurm",
        "parent": {"sbatch_directives": {"partition": "cpu", "account": "onc", "qos": "long", "time": "7-00:00:00"},
                   "environment_setup": 'export PATH=/shared/venvs/flare/bin:"$PATH"\n'},
        "job_launcher": {"sandbox": "none", "python_path": "/shared/venvs/flare/bin/python", "internal_port": 8102,
                         "executables": {"sbatch": "/shared/nvflare/hpc-1/flare-sbatch.sh"},
                         "sbatch_directives": {"partition": "gpu", "account": "onc", "qos": "normal", "time": "08:00:00"}},
    }  # fmt: skip
    assert (
        "readonly FL_JOB_OPTIONS='--gres=gpu:a40:1 --cpus-per-task=8 --mem=64G --constraint=a40'"
        in (emitted / "flare-sbatch.sh").read_text()
    )
    watchdog = (emitted / "flare-watchdog.sh").read_text()
    assert "readonly JOB_SCRIPT=/shared/nvflare/hpc-1/prepared/startup/parent.slurm" in watchdog
    assert "readonly JOB_OPTIONS='--cpus-per-task=2 --mem=8G --output=/shared/nvflare/hpc-1/%x-%j.out --open-mode=append'" in watchdog
    readme = (emitted / "README.md").read_text()
    for text in ("nvflare deploy prepare", "partition cpu, account onc, qos long, time 7-00:00:00, 2 CPU(s), 8G memory, no GPU",
                 "partition gpu, account onc, qos normal, time 08:00:00, --gres=gpu:a40:1 --cpus-per-task=8 --mem=64G --constraint=a40",
                 "port 8102"):  # fmt: skip
        assert text in readme


def test_launcher_parent_defaults_to_a_small_cpu_job_on_the_sites_account(tmp_path: Path) -> None:
    import yaml

    emitted = launcher_site(tmp_path, gres=None, gpus=2, extra_directives=[], launcher_port=9102)
    config = yaml.safe_load((emitted / "slurm.yaml").read_text())
    assert config["parent"]["sbatch_directives"] == {"account": "onc", "time": "1-00:00:00"}
    assert config["job_launcher"]["internal_port"] == 9102
    assert "readonly FL_JOB_OPTIONS='--gpus=2 --cpus-per-task=8 --mem=64G'" in (emitted / "flare-sbatch.sh").read_text()
    assert "JOB_OPTIONS='--cpus-per-task=1 --mem=4G --output=" in (emitted / "flare-watchdog.sh").read_text()


def fake_slurm(tmp_path: Path) -> dict[str, str]:
    """A PATH whose sbatch and squeue record their arguments, one per line."""
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, answer in (("sbatch", "echo 42"), ("squeue", "true")):
        (bin_dir / tool).write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/{tool}.args\n{answer}\n')
        (bin_dir / tool).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_every_fl_job_is_submitted_with_the_sites_request_before_nvflares_options(tmp_path: Path) -> None:
    emitted = launcher_site(tmp_path / "site")
    env = fake_slurm(tmp_path)
    nvflare_argv = ["--parsable", "--no-requeue", "--gres=gpu:2", "--job-name=nvfl-x", "/ws/.nvflare_slurm/jobs/x/batch.sh"]
    result = subprocess.run(["bash", str(emitted / "flare-sbatch.sh"), *nvflare_argv], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "42\n", result.stderr
    assert (tmp_path / "sbatch.args").read_text().splitlines() == [
        "--gres=gpu:a40:1", "--cpus-per-task=8", "--mem=64G", "--constraint=a40", *nvflare_argv
    ]  # fmt: skip


@pytest.mark.parametrize("mode", ["allocation", "launcher"])
def test_the_watchdog_submits_the_modes_job_with_its_options(tmp_path: Path, mode: str) -> None:
    workdir = tmp_path / "site"
    fields = {"parent": {"cpus": 1, "memory": "2G"}} if mode == "launcher" else {"mode": "allocation", "handover_seconds": 300}
    launcher_site(workdir, workdir=str(workdir), **fields)
    env = fake_slurm(tmp_path)
    result = subprocess.run(["bash", str(workdir / "flare-watchdog.sh")], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and "submitted job 42" in result.stdout, result.stdout + result.stderr
    expected = {
        "launcher": ["--parsable", "--job-name=flare-hpc-1", "--cpus-per-task=1", "--mem=2G", f"--output={workdir}/%x-%j.out",
                     "--open-mode=append", f"{workdir}/prepared/startup/parent.slurm"],
        "allocation": ["--parsable", "--job-name=flare-hpc-1", f"{workdir}/flare-client.sbatch"],
    }  # fmt: skip
    assert (tmp_path / "sbatch.args").read_text().splitlines() == expected[mode]


def test_launcher_files_are_shellcheck_clean(tmp_path: Path) -> None:
    emitted = launcher_site(tmp_path)
    needs(shutil.which("shellcheck") is not None, "shellcheck (Debian package 'shellcheck')")
    scripts = [str(emitted / name) for name in ("flare-launcher-prepare.sh", "flare-watchdog.sh", "flare-sbatch.sh")]
    result = subprocess.run(["shellcheck", "-s", "bash", "--severity=style", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def load(tmp_path: Path, nvflare_version: str = "2.9.0", **fields) -> list[str]:
    """The problems load_federation reports for a Slurm site with `fields` (empty: it loads)."""
    import yaml

    from flarectl.config.errors import ConfigError

    site = {"name": "hpc-1", "kind": "slurm", "kit": "/shared/kits/hpc-1", "workdir": "/shared/nvflare/hpc-1", **fields}
    path = tmp_path / "federation.yaml"
    path.write_text(
        yaml.safe_dump({"project": "p", "project_admin_email": "it@hospital.test", "nvflare_version": nvflare_version, "sites": [site]})
    )
    try:
        load_federation(path)
    except ConfigError as error:
        return error.problems
    return []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"time": "10", "handover_seconds": 600}, "sites[0].handover_seconds: 600 s is more than half the wall-time limit 10 (600 s)"),
        ({"time": "1"}, "sites[0].time: 1 is shorter than 2 minutes"),
        ({"extra_directives": ["--job-name=other"]}, "--job-name is set from the site's own fields"),
        ({"extra_directives": ["--array=0-9"]}, "--array is set from the site's own fields"),
        ({"extra_directives": ["--gres=gpu:2"]}, "--gres is set from the site's own fields"),
        ({"gres": "gpu:1\n#SBATCH --uid=0"}, "sites[0].gres: has the character U+000A, a line break"),
        ({"mode": "launcher", "nvflare_version": "2.8.0"}, "sites[0].mode: launcher needs NVFlare 2.9 or newer (nvflare_version is 2.8.0)"),
        ({"parent": {"cpus": 1}}, "sites[0].parent: only launcher mode reads it; set mode: launcher or remove parent"),
        ({"launcher_port": 9000}, "sites[0].launcher_port: only launcher mode reads it; set mode: launcher or remove launcher_port"),
        ({"mode": "launcher", "handover_seconds": 300}, "sites[0].handover_seconds: launcher mode does not hand over"),
        ({"mode": "launcher", "time": "1"}, "sites[0].time: 1 is shorter than 2 minutes; an FL job needs time to start"),
        ({"mode": "launcher", "parent": {"time": "5"}}, "sites[0].parent.time: 5 is shorter than 10 minutes"),
        ({"mode": "launcher", "parent": {"time": "1-00:00:00;id"}}, "sites[0].parent.time: '1-00:00:00;id' is not a Slurm time limit"),
        ({"mode": "launcher", "parent": {"cpus": 0}}, "sites[0].parent.cpus: 0 CPUs: ask for 1 to 1024 CPUs per task"),
        ({"mode": "launcher", "parent": {"memory": "lots"}}, "sites[0].parent.memory: 'lots' is not a Slurm memory size"),
        (
            {"mode": "launcher", "parent": {"gres": "gpu:1"}},
            "sites[0].parent.gres: unknown key; allowed keys: partition, account, qos, time, cpus, memory",
        ),
        ({"mode": "launcher", "launcher_port": 80}, "sites[0].launcher_port: 80 is out of range; use a port from 1024 to 65535"),
    ],
)
def test_fields_that_interact_are_refused_when_loaded(tmp_path: Path, fields: dict, expected: str) -> None:
    site = {name: value for name, value in fields.items() if name != "nvflare_version"}  # the case stays as written for a rerun
    found = load(tmp_path, fields.get("nvflare_version", "2.9.0"), **site)
    assert any(expected in problem for problem in found), found
    assert all(problem.startswith("federation.yaml: sites[0]") for problem in found)


def test_a_constraint_expression_is_accepted_and_inert(tmp_path: Path) -> None:
    assert load(tmp_path, extra_directives=["--constraint=a100&ib|h100"]) == []
    federation = slurm_federation(extra_directives=["--constraint=a100&ib|h100"])
    emit(federation.sites[0], federation, tmp_path)
    script = tmp_path / "flare-client.sbatch"
    assert "#SBATCH --constraint=a100&ib|h100" in script.read_text().splitlines()
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0


def test_the_launcher_readme_says_the_default_partition_when_none_is_named(tmp_path: Path) -> None:
    emitted = launcher_site(tmp_path, partition=None, account=None, qos=None)
    rows = [line for line in (emitted / "README.md").read_text().splitlines() if line.startswith(("| The parent", "| Each FL job"))]
    assert [row.split(" | ")[1].split(",")[0] for row in rows] == ["the cluster's default partition"] * 2


def test_the_readme_gives_the_by_hand_check_and_the_offline_install_with_the_sites_own_options(emitted: Path) -> None:
    readme = (emitted / "README.md").read_text()
    assert (
        "`srun --partition=gpu --account=onc --gres=gpu:a40:1 bash /shared/nvflare/hpc-1/flare-client.sh\n"
        "/shared/nvflare/hpc-1/client.env doctor`"
    ) in readme
    assert ("with `bash /shared/nvflare/hpc-1/flare-client.sh /shared/nvflare/hpc-1/client.env install`; the job then finds") in readme
