"""On-prem Slurm GPU clusters (`kind: slurm`): the model, and what `cdk synth` emits for the
site (cdk.out/sites/<site>/): the Org Admin copies the folder to the site's workdir on the
cluster; nothing is deployed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import yaml
from pydantic import field_validator

from flarectl.config.fields import matching, within
from flarectl.config.sites import FolderSite
from flarectl.host_scripts import render_script
from flarectl.sites.folder import runtime_files
from flarectl.sites.kind import SiteKind, synth_files, write_files

if TYPE_CHECKING:
    from flarectl.config.federation import Federation

# One long option; `&` and `|` for constraint expressions (--constraint=a100&ib). #SBATCH lines
# are read by sbatch, not by a shell, and the value has no space, quote or ; to break out with.
SBATCH_DIRECTIVE = re.compile(r"--[a-z][a-z-]*(=[A-Za-z0-9_.,:@%+/=&|-]+)?")
# Options the emitted files set themselves (or that would change what the job is): an extra
# --job-name would make the watchdog and the successor look for the wrong job.
RESERVED_OPTIONS = {"job-name", "partition", "account", "qos", "time", "gres", "gpus", "gpus-per-node", "gpus-per-task", "cpus-per-task",
                    "mem", "mem-per-cpu", "mem-per-gpu", "signal", "output", "error", "open-mode", "array", "dependency", "wrap",
                    "uid", "gid", "chdir", "parsable", "hold", "test-only", "wait"}  # fmt: skip
LAUNCHER_SINCE = (2, 9)  # NVFlare's Slurm job launcher first ships in 2.9


def time_seconds(limit: str) -> int:
    """A Slurm time limit in seconds: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S."""
    days, _, clock = limit.rpartition("-") if "-" in limit else ("0", "", limit)
    parts = [int(part) for part in clock.split(":")]
    if "-" in limit:
        hours, minutes, seconds = (parts + [0, 0])[:3]
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:
        hours, minutes, seconds = 0, parts[0], (parts[1] if len(parts) == 2 else 0)
    return ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds


SlurmName = Annotated[
    str, matching(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", "{value!r} is not a Slurm name; use letters, digits, '_', '.' or '-'")
]
SlurmTime = Annotated[
    str,
    matching(
        r"(\d+-)?\d{1,2}:\d{2}(:\d{2})?|\d+",
        "{value!r} is not a Slurm time limit; use minutes, HH:MM:SS or D-HH:MM:SS (e.g. 1-00:00:00)",
    ),
]
GpuGres = Annotated[str, matching(r"gpu(:[A-Za-z0-9_.-]+)?:\d+", "{value!r} is not a GPU gres; write it like gpu:a40:1 or gpu:1")]
SlurmMemory = Annotated[str, matching(r"\d+[KMGT]?", "{value!r} is not a Slurm memory size; write it like 32G or 64000M")]


class SlurmSite(FolderSite):
    """An on-prem Slurm GPU cluster: emitted job scripts and helpers, nothing to deploy."""

    hardware: ClassVar[str] = "a Slurm site (one job on one node)"
    gpu_range: ClassVar[tuple[int, int]] = (0, 16)

    kind: Literal["slurm"]
    partition: SlurmName | None = None
    account: SlurmName | None = None
    qos: SlurmName | None = None
    time: SlurmTime = "1-00:00:00"
    gres: GpuGres | None = None
    cpus: Annotated[int, within(1, 1024, "{value} CPUs: ask for 1 to 1024 CPUs per task")] = 4
    memory: SlurmMemory = "32G"
    extra_directives: list[str] = []
    mode: Literal["allocation", "launcher"] = "allocation"
    handover_seconds: Annotated[int, within(30, 3600, "{value} s: hand over between 30 s and 3600 s before the wall-time limit")] = 300

    def place(self, federation: Federation) -> str:
        partition = f", partition {self.partition}" if self.partition else ""
        return f"Slurm cluster{partition} ({self.mode}): {self.workdir}"

    @field_validator("extra_directives")
    @classmethod
    def _directives(cls, value: list[str]) -> list[str]:
        for directive in value:
            if not SBATCH_DIRECTIVE.fullmatch(directive):
                raise ValueError(
                    f"{directive!r} is not a safe #SBATCH option; write one option like --constraint=a40 (no spaces, quotes or ;)"
                )
            option = directive[2:].split("=", 1)[0]
            if option in RESERVED_OPTIONS:
                raise ValueError(
                    f"{directive!r}: --{option} is set from the site's own fields (or would change what the job is); remove it"
                )
        return value

    @property
    def job_name(self) -> str:
        return f"flare-{self.name}"


SBATCH_MARKER = "# @SBATCH@"


def directives(site: SlurmSite) -> list[str]:
    chosen = [f"--job-name={site.job_name}"]
    chosen += [
        f"--{option}={value}" for option, value in (("partition", site.partition), ("account", site.account), ("qos", site.qos)) if value
    ]
    chosen += [
        f"--time={site.time}",
        *([f"--gres={site.gres}"] if site.gres else [f"--gpus={site.gpus}"] if site.gpus else []),
        f"--cpus-per-task={site.cpus}",
        f"--mem={site.memory}",
        f"--signal=B:USR1@{site.handover_seconds}",
        f"--output={site.workdir}/%x-%j.out",
        "--open-mode=append",
        *site.extra_directives,
    ]
    for directive in chosen:  # the config validated each part; this guards the assembled line
        if not SBATCH_DIRECTIVE.fullmatch(directive):
            raise ValueError(f"unsafe #SBATCH option {directive!r}")
    return chosen


def job_script(site: SlurmSite) -> str:
    text = render_script("slurm/flare-client.sbatch", {"SITE_DIR": site.workdir, "JOB_NAME": site.job_name})
    return text.replace(SBATCH_MARKER, "\n".join(f"#SBATCH {d}" for d in directives(site)), 1)


def launcher_config(site: SlurmSite) -> dict[str, object]:
    """`nvflare deploy prepare --config` for NVFlare's Slurm job launcher (runtime: slurm)."""
    directives = {key: value for key, value in (("partition", site.partition), ("account", site.account), ("qos", site.qos)) if value}
    return {
        "runtime": "slurm",
        # The client parent: a small CPU-only job the watchdog keeps submitted.
        "parent": {"sbatch_directives": {**directives, "time": site.time}},
        "job_launcher": {
            "sandbox": "none",
            "python_path": f"{site.venv or site.workdir + '/venv'}/bin/python",
            "sbatch_directives": {**directives, "time": site.time},
        },
    }


def srun_options(site: SlurmSite) -> str:
    """The job's own partition, account and GPU request, for running a command like the job."""
    options = [
        f"--{name}={value}" for name, value in (("partition", site.partition), ("account", site.account), ("gres", site.gres)) if value
    ]
    return "".join(f"{option} " for option in options)


def site_readme(site: SlurmSite) -> str:
    if site.mode == "launcher":
        return launcher_readme(site)
    return f"""# Slurm site `{site.name}`

Generated from the federation file; nothing here is a secret. Everything runs as your own
user on the cluster; no root, no daemon.

1. Download this site's startup kit from the NVFlare dashboard and unzip it to
   `{site.kit}` (on the shared filesystem).
2. Copy this folder's files to `{site.workdir}/` on the login node.
3. Start the client once: `bash {site.workdir}/flare-watchdog.sh`
   (it submits `flare-client.sbatch` unless a job named `{site.job_name}` is queued or running).
4. Keep it running: add the line in `crontab.txt` with `crontab -e`.

Check: `squeue --me -n {site.job_name}`; logs: `{site.workdir}/{site.job_name}-<jobid>.out`
(the first lines show `nvidia-smi` and the client's start). Shortly before the wall-time
limit ({site.time}) the job submits its own successor and stops; the successor starts as
soon as it ends.

Stop: remove the crontab line, then `scancel --me -n {site.job_name}`.

Does it connect? Each job runs the site doctor before the client (its report is at the top
of the job's log). On a GPU node by hand: `srun {srun_options(site)}bash {site.workdir}/flare-client.sh
{site.workdir}/client.env doctor` (exit 0 ok, 1 cannot connect, 2 connects but jobs would fail).

The first job creates `{site.venv or site.workdir + "/venv"}` with NVFlare and the site's
requirements (`client.env`) unless it already has them, using `{site.python}` (Python 3.10
or newer).
"""


def launcher_readme(site: SlurmSite) -> str:
    return f"""# Slurm site `{site.name}` (launcher mode)

NVFlare's own Slurm job launcher (NVFlare 2.9; needs Slurm 23.02.3 or newer with `sacct`
and a shared filesystem): the client parent runs as a small CPU-only job, and each FL job
becomes its own GPU job, so a GPU is held only while an FL job runs.

1. Download this site's startup kit from the NVFlare dashboard and unzip it to `{site.kit}`.
2. Copy this folder's files to `{site.workdir}/` on the login node.
3. Prepare once (and after every new kit): `bash {site.workdir}/flare-launcher-prepare.sh`
   (installs NVFlare into `{site.venv or site.workdir + "/venv"}`, then runs
   `nvflare deploy prepare` with `slurm.yaml` into `{site.workdir}/prepared`).
4. Start: `bash {site.workdir}/flare-watchdog.sh` (submits `prepared/startup/parent.slurm`
   as job `{site.job_name}` unless it is queued or running); keep it running with the line
   in `crontab.txt` (`crontab -e`).

Check: `squeue --me` (the parent `{site.job_name}` and, during training, one job per FL job).
Does it connect? `bash {site.workdir}/flare-client.sh {site.workdir}/client.env doctor` on the
login node (exit 0 ok, 1 cannot connect, 2 connects but jobs would fail).
Stop: remove the crontab line, then `scancel --me -n {site.job_name}`.
"""


def emit(site: SlurmSite, federation: Federation, directory: Path) -> list[Path]:
    if site.mode == "launcher":
        job = f"{site.workdir}/prepared/startup/parent.slurm"
        mode_files = {
            "slurm.yaml": yaml.safe_dump(launcher_config(site), sort_keys=False),
            "flare-launcher-prepare.sh": render_script("slurm/flare-launcher-prepare.sh", {"SITE_DIR": site.workdir}),
        }
    else:
        job = f"{site.workdir}/flare-client.sbatch"
        mode_files = {"flare-client.sbatch": job_script(site)}
    files = {
        **mode_files,
        "flare-watchdog.sh": render_script(
            "slurm/flare-watchdog.sh", {"SITE_DIR": site.workdir, "JOB_NAME": site.job_name, "JOB_SCRIPT": job}
        ),
        **runtime_files(site, federation),
        "crontab.txt": f"*/10 * * * * /bin/bash {site.workdir}/flare-watchdog.sh >> {site.workdir}/watchdog.log 2>&1\n",
        "README.md": site_readme(site),
    }
    return write_files(directory, files)


def check(site: SlurmSite, federation: Federation) -> list[str]:
    problems = []
    limit = time_seconds(site.time)
    if limit < 120:
        problems.append(f"time: {site.time} is shorter than 2 minutes; the client needs time to start and hand over")
    elif site.handover_seconds > limit // 2:
        problems.append(
            f"handover_seconds: {site.handover_seconds} s is more than half the wall-time limit {site.time} ({limit} s); "
            "hand over shortly before the limit (default 300) or ask for more time"
        )
    version = tuple(int(part) for part in federation.nvflare_version.split(".")[:2])
    if site.mode == "launcher" and version < LAUNCHER_SINCE:
        problems.append(
            f"mode: launcher needs NVFlare {'.'.join(map(str, LAUNCHER_SINCE))} or newer (nvflare_version is {federation.nvflare_version})"
        )
    return problems


KIND = SiteKind(name="slurm", model=SlurmSite, synth=synth_files(emit, "the Slurm login node"), emit=emit, check=check)
