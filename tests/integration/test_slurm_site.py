"""A Slurm site on a real single-node Slurm cluster (Debian 12's Slurm 22.05, with slurmdbd)
on localhost, with the emitted files unchanged. Allocation mode: the job script runs a real
NVFlare client that connects to a real FL server, trains a numpy job, and hands over to its
successor before the wall-time limit. Launcher mode: NVFlare's parent job stays up and each
FL job runs as its own Slurm job with the site's GPU request."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flarectl import lead
from flarectl.sites.slurm import RESERVED_OPTIONS, SBATCH_OPTIONS
from tests.conftest import needs
from tests.harness import slurm_cluster
from tests.harness.hub_harness import Hub, wait_for
from tests.harness.jobs import numpy_job
from tests.harness.local import free_port
from tests.harness.provision import ADMIN, provision
from tests.harness.slurm_cluster import SlurmCluster
from tests.harness.slurm_site import FAKE_NVIDIA_SMI, REGISTERED, job_log, site_files, watchdog

FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    needs(slurm_cluster.installed(), slurm_cluster.PACKAGES)
    needs(os.geteuid() == 0, "root, to start munged and the Slurm daemons")
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    cluster.start()
    yield cluster
    cluster.stop()
    if FIGURES:
        print("\nslurm figures: " + ", ".join(f"{k} {v:.1f} s" for k, v in FIGURES.items()))


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fl_port = free_port()
    prod = provision(tmp_path_factory.mktemp("provision"), project="slurmfed", fl_port=fl_port, clients=["hpc-1", "hpc-2", "hpc-3"])
    hub = Hub(tmp_path_factory.mktemp("hub"), {"PROJECT": "slurmfed", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    hub.serve(prod / "localhost")
    yield {"prod": prod, "hub": hub}
    hub.stop_all()


@pytest.fixture(scope="module")
def submit_env(cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The login node's environment: Slurm's config, and an nvidia-smi for the fake GPUs."""
    fake = tmp_path_factory.mktemp("bin")
    (fake / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (fake / "nvidia-smi").chmod(0o755)
    return {**cluster.env, "PATH": f"{fake}:{os.environ['PATH']}"}


def test_job_runs_the_client_and_a_numpy_job_completes(cluster, federation, submit_env, tmp_path_factory) -> None:
    workdir = site_files(tmp_path_factory.mktemp("sites"), federation["prod"], "hpc-1")
    started = time.monotonic()
    result = watchdog(workdir, submit_env)
    assert result.returncode == 0, result.stdout + result.stderr
    job_id = re.search(r"submitted job (\d+)", result.stdout).group(1)
    wait_for(lambda: REGISTERED.format(site="hpc-1") in job_log(workdir, job_id), timeout=120, interval=0.5)
    FIGURES["submit to client registered"] = time.monotonic() - started
    log = job_log(workdir, job_id)
    assert "with CUDA_VISIBLE_DEVICES=0" in log or "with CUDA_VISIBLE_DEVICES=1" in log
    assert log.index("NVIDIA A40 (stand-in for tests)") < log.index("starting client hpc-1")
    doctor = log[log.index("Site doctor for hpc-1") : log.index("starting client hpc-1")]
    # No cgroup device limits on this cluster: nvidia-smi in the job shows the node's two A40s (46068 MiB each).
    assert (
        "  ok       gpus         2 GPU(s) (NVIDIA A40, NVIDIA A40), 46068 MiB or more each (the site may register up to 44.9 GiB; it registered 40)"
        in doctor
    )
    assert "Result: all checks passed." in doctor

    from nvflare.fuel.flare_api.flare_api import new_secure_session

    session = new_secure_session(ADMIN, str(federation["prod"] / ADMIN), timeout=60)
    try:
        job = session.submit_job(str(numpy_job(tmp_path_factory.mktemp("job") / "numpy-on-slurm", clients=1)))
        session.monitor_job(job, timeout=300)
        assert session.get_job_meta(job)["status"] == "FINISHED:COMPLETED"
    finally:
        session.close()
    assert list((workdir / "kit").glob(f"{job}*")), "the Slurm client ran no part of the job"
    federation["hpc-1"] = (workdir, job_id)


def test_watchdog_resubmits_exactly_one_job_and_then_waits(cluster, federation, submit_env) -> None:
    workdir, job_id = federation["hpc-1"]
    again = watchdog(workdir, submit_env)
    assert again.returncode == 0 and "already queued or running" in again.stdout
    assert [j for j, _ in cluster.jobs("flare-hpc-1")] == [job_id]
    subprocess.run(["scancel", job_id], env=cluster.env, check=True)
    wait_for(lambda: cluster.jobs("flare-hpc-1") == [], timeout=60)
    first = watchdog(workdir, submit_env)
    assert first.returncode == 0 and "no job was queued or running; submitted job" in first.stdout
    second = watchdog(workdir, submit_env)
    assert second.returncode == 0 and "already queued or running" in second.stdout
    assert len(cluster.jobs("flare-hpc-1")) == 1
    subprocess.run(["scancel", "--name", "flare-hpc-1"], env=cluster.env, check=True)


def test_job_hands_over_to_its_successor_before_the_wall_time_limit(cluster, federation, submit_env, tmp_path_factory) -> None:
    workdir = site_files(tmp_path_factory.mktemp("sites"), federation["prod"], "hpc-2", time="2", handover_seconds=60)
    result = watchdog(workdir, submit_env)
    first = re.search(r"submitted job (\d+)", result.stdout).group(1)
    wait_for(lambda: REGISTERED.format(site="hpc-2") in job_log(workdir, first), timeout=120, interval=0.5)
    # ~60 s before the 2-minute limit the job gets USR1, submits its successor and stops.
    wait_for(lambda: "successor job" in job_log(workdir, first), timeout=150, interval=1)
    successor = re.search(r"successor job (\d+) submitted", job_log(workdir, first)).group(1)
    wait_for(lambda: REGISTERED.format(site="hpc-2") in job_log(workdir, successor), timeout=120, interval=0.5)
    assert cluster.job_state(first) in ("COMPLETED", "CANCELLED", "GONE")  # ended by itself, not at the limit
    stopped = timestamp(job_log(workdir, first), "stopping the client")
    registered = timestamp(job_log(workdir, successor), REGISTERED.format(site="hpc-2"))
    FIGURES["wall-time hand-over gap (client stop to re-registered)"] = (registered - stopped).total_seconds()
    assert (registered - stopped).total_seconds() < 60
    subprocess.run(["scancel", "--name", "flare-hpc-2"], env=cluster.env, check=True)


def timestamp(log: str, marker: str) -> datetime:
    line = next(line for line in log.splitlines() if marker in line)
    if line[:4].isdigit() and line[10] == "T":  # our own log lines: 2026-11-30T03:20:08Z
        return datetime.strptime(line[:20], "%Y-%m-%dT%H:%M:%SZ")
    return datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")  # NVFlare's: 2026-11-30 03:20:08,643


def test_launcher_mode_runs_each_fl_job_as_its_own_gpu_job_while_the_parent_stays_up(
    cluster, federation, submit_env, tmp_path_factory
) -> None:
    """NVFlare 2.9's Slurm job launcher on Slurm 22.05 with slurmdbd: the watchdog submits the
    prepared parent; a Lead's 3-round job, then a second one, each run as their own Slurm job
    with the site's GPU request, and the parent is the same job throughout."""
    workdir = site_files(tmp_path_factory.mktemp("sites"), federation["prod"], "hpc-3", mode="launcher", partition="gpu", time="00:20:00",
                         launcher_port=free_port(), parent={"partition": "cpu", "time": "1-00:00:00", "cpus": 1, "memory": "300M"})  # fmt: skip
    prepared = subprocess.run(
        ["bash", str(workdir / "flare-launcher-prepare.sh")], env=submit_env, capture_output=True, text=True, timeout=180
    )
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    started = time.monotonic()
    result = watchdog(workdir, submit_env)
    assert result.returncode == 0, result.stdout + result.stderr
    parent = re.search(r"submitted job (\d+)", result.stdout).group(1)
    wait_for(lambda: REGISTERED.format(site="hpc-3") in job_log(workdir, parent), timeout=120, interval=0.5)
    FIGURES["launcher: submit to parent registered"] = time.monotonic() - started

    fl_jobs = []
    for rounds in (3, 1):
        lines: list[str] = []
        job_folder = numpy_job(tmp_path_factory.mktemp("job") / f"launcher-{rounds}-rounds", clients=1, rounds=rounds)
        code = lead.submit(job_folder, federation["prod"] / ADMIN, timeout=300, say=lines.append)
        assert code == 0, "\n".join(lines) + job_log(workdir, parent)
        fl_jobs.append(re.search(r"as job (\S+)", lines[0]).group(1))
        assert cluster.job_state(parent) == "RUNNING"  # the parent stays up between FL jobs

    names = {f"nvfl-hpc-3-{hashlib.sha256(job.encode()).hexdigest()[:8]}" for job in fl_jobs}
    records = [r for r in cluster.accounting() if r["JobName"].startswith("nvfl-hpc-3-")]
    assert {r["JobName"] for r in records} == names and len(records) == 2
    for record in records:
        assert record["Partition"] == "gpu" and record["State"] == "COMPLETED"
        assert "gres/gpu=1" in record["AllocTRES"].split(","), record
    (parent_record,) = cluster.accounting(parent)
    assert parent_record["Partition"] == "cpu" and parent_record["State"] == "RUNNING"
    assert "gres/gpu" not in parent_record["AllocTRES"] and "cpu=1" in parent_record["AllocTRES"].split(",")
    assert [j for j, _ in cluster.jobs("flare-hpc-3")] == [parent]
    subprocess.run(["scancel", "--name", "flare-hpc-3"], env=cluster.env, check=True)


# --- every accepted #SBATCH directive is the option it says, as the local sbatch reads it -----

# What a job's own fields decide, as scontrol reports them: an extra directive must change none.
OWN_FIELDS = ("JobName", "TimeLimit", "Partition", "Account", "QOS", "UserId", "GroupId", "WorkDir", "StdOut", "StdErr",
              "Dependency", "TresPerNode", "NumCPUs", "MinMemoryNode", "ArrayJobId")  # fmt: skip
HARMLESS = [
    "--comment=fl",
    "--nice=10",
    "--requeue",
    "--no-requeue",
    "--mail-type=END",
    "--begin=now",
    "--exclusive",
    "--hint=nomultithread",
]


def directives() -> st.SearchStrategy[str]:
    """Harmless options in full, every prefix of every sbatch option (reserved ones included),
    and made-up ones, with a value or without."""
    prefixes = st.sampled_from(sorted(SBATCH_OPTIONS)).flatmap(lambda option: st.integers(1, len(option)).map(lambda n: option[:n]))
    values = st.one_of(st.just(""), st.sampled_from(["=x", "=1", "=0", "=/tmp/x", "=afterok:1", "=B:USR1@5", "=evil-name"]))
    made_up = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(lambda t: t[0] != "-")
    return st.one_of(st.sampled_from(HARMLESS), st.sampled_from(HARMLESS), st.tuples(prefixes, values).map(lambda t: f"--{t[0]}{t[1]}"),
                     st.tuples(made_up, values).map(lambda t: f"--{t[0]}{t[1]}"))  # fmt: skip


def job_fields(cluster: SlurmCluster, job_id: str) -> dict[str, str]:
    shown = cluster.slurm("scontrol", "show", "job", "-o", job_id)
    fields = dict(word.split("=", 1) for word in shown.split() if "=" in word)
    return {name: fields.get(name, "") for name in OWN_FIELDS}


def submit_held(cluster: SlurmCluster, submit_env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sbatch", "--parsable", "--hold", str(workdir / "flare-client.sbatch")], env=submit_env,
                          capture_output=True, text=True, cwd=workdir, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def baseline_job(cluster: SlurmCluster, federation, submit_env, tmp_path_factory) -> dict[str, str]:
    workdir = site_files(tmp_path_factory.mktemp("baseline"), federation["prod"], "hpc-1")
    submitted = submit_held(cluster, submit_env, workdir)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    fields = job_fields(cluster, job_id)
    cluster.slurm("scancel", job_id)
    return {name: value.replace(str(workdir), "<workdir>").replace(f"-{job_id}.", "-<id>.") for name, value in fields.items()}


@settings(max_examples=60)
@given(directive=directives())
def test_sbatch_reads_each_accepted_directive_as_the_option_written(cluster, federation, submit_env, baseline_job, directive: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        try:
            workdir = site_files(Path(directory), federation["prod"], "hpc-1", extra_directives=[directive])
        except ValidationError as error:
            event("refused by the federation file")
            assert all(item["loc"][-1] == "extra_directives" for item in error.errors()), error
            return
        option = directive[2:].split("=", 1)[0]
        assert option not in RESERVED_OPTIONS
        submitted = submit_held(cluster, submit_env, workdir)
        if submitted.returncode != 0:  # sbatch's own refusal, said out loud: never a reserved option, never an abbreviation
            event("refused by sbatch")
            assert "ambiguous" not in submitted.stderr, submitted.stderr
            return
        event("submitted")
        job_id = submitted.stdout.strip()
        fields = job_fields(cluster, job_id)
        cluster.slurm("scancel", job_id)
        assert {
            name: value.replace(f"{directory}/hpc-1", "<workdir>").replace(f"-{job_id}.", "-<id>.") for name, value in fields.items()
        } == {name: value for name, value in baseline_job.items()}
