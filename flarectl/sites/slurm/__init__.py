"""On-prem Slurm GPU clusters (`kind: slurm`): the model, and what `cdk synth` emits for the
site (cdk.out/sites/<site>/): the Org Admin copies the folder to the site's workdir on the
cluster; nothing is deployed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import yaml
from pydantic import field_validator, model_validator

from flarectl.client_runtime import folder_layout
from flarectl.config.fields import Model, matching, within
from flarectl.config.sites import FolderSite
from flarectl.host_scripts import render_script
from flarectl.sites.folder import needs_help, runtime_files
from flarectl.sites.kind import SiteKind, synth_files, write_files
from flarectl.sites.readme import render_readme

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

HOST = Path(__file__).parent / "host"  # this kind's own host files

# One long option; `&` and `|` for constraint expressions (--constraint=a100&ib). #SBATCH lines
# are read by sbatch, not by a shell, and the value has no space, quote or ; to break out with.
SBATCH_DIRECTIVE = re.compile(r"--[a-z][a-z-]*(=[A-Za-z0-9_.,:@%+/=&|-]+)?")
# Options the emitted files set themselves (or that would change what the job is): an extra
# --job-name would make the watchdog and the successor look for the wrong job.
RESERVED_OPTIONS = {"job-name", "partition", "account", "qos", "time", "gres", "gpus", "gpus-per-node", "gpus-per-task", "cpus-per-task",
                    "mem", "mem-per-cpu", "mem-per-gpu", "signal", "output", "error", "open-mode", "array", "dependency", "wrap",
                    "uid", "gid", "chdir", "parsable", "hold", "test-only", "wait"}  # fmt: skip
# Every long option of sbatch (Slurm 22.05's getopt table, read off its own answers to each
# one- and two-letter prefix). sbatch, like getopt_long, takes any unambiguous prefix of an
# option as the option (`--job=x` is --job-name), so an abbreviation could slip a reserved
# option past the list above: prefixes of these are refused, the full names are not.
SBATCH_OPTIONS = frozenset(
    """account acctg-freq array batch bb bbf begin chdir cluster cluster-constraint clusters comment constraint
    container context contiguous core-spec cores-per-socket cpu-freq cpus-per-gpu cpus-per-task deadline delay-boot
    dependency distribution error exclude exclusive export export-file extra-node-info get-user-env gid gpu-bind
    gpu-freq gpus gpus-per-node gpus-per-socket gpus-per-task gres gres-flags help hint hold ignore-pbs input job-name
    kill-on-invalid-dep licenses mail-type mail-user mcs-label mem mem-bind mem-per-cpu mem-per-gpu mincpus network
    nice no-kill no-requeue nodefile nodelist nodes ntasks ntasks-per-core ntasks-per-gpu ntasks-per-node
    ntasks-per-socket ntasks-per-tres open-mode output overcommit oversubscribe parsable partition power prefer
    priority profile propagate qos quiet reboot requeue reservation signal sockets-per-node spread-job switches
    tasks-per-node test-only thread-spec threads-per-core time time-min tmp uid usage use-min-nodes verbose version
    wait wait-all-nodes wckey wrap""".split()
)
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
SlurmCpus = Annotated[int, within(1, 1024, "{value} CPUs: ask for 1 to 1024 CPUs per task")]
LauncherPort = Annotated[
    int, within(1024, 65535, "{value} is out of range; use a port from 1024 to 65535 that is free on the parent's node")
]


class SlurmParent(Model):
    """Launcher mode's client parent: a small CPU-only job that stays connected to the hub for
    days and submits the FL jobs. Unset partition and qos mean the cluster's defaults; an unset
    account means the site's."""

    partition: SlurmName | None = None
    account: SlurmName | None = None
    qos: SlurmName | None = None
    time: SlurmTime = "1-00:00:00"
    cpus: SlurmCpus = 1
    memory: SlurmMemory = "4G"


class SlurmSite(FolderSite):
    """An on-prem Slurm GPU cluster: emitted job scripts and helpers, nothing to deploy.

    partition ... extra_directives are what the GPU work asks Slurm for: in allocation mode
    the one long client job, in launcher mode each FL job; `parent` is launcher mode's own."""

    hardware: ClassVar[str] = "a Slurm site (one job on one node)"
    gpu_range: ClassVar[tuple[int, int]] = (0, 16)

    kind: Literal["slurm"]
    partition: SlurmName | None = None
    account: SlurmName | None = None
    qos: SlurmName | None = None
    time: SlurmTime = "1-00:00:00"
    gres: GpuGres | None = None
    cpus: SlurmCpus = 4
    memory: SlurmMemory = "32G"
    extra_directives: list[str] = []
    mode: Literal["allocation", "launcher"] = "allocation"
    handover_seconds: Annotated[int, within(30, 3600, "{value} s: hand over between 30 s and 3600 s before the wall-time limit")] = 300
    parent: SlurmParent | None = None
    launcher_port: LauncherPort = 8102  # where the parent listens for its FL jobs (NVFlare's internal_port)

    def place(self, federation: FederationSettings) -> str:
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
            expansions = sorted(known for known in SBATCH_OPTIONS if known.startswith(option) and known != option)
            if option not in SBATCH_OPTIONS and expansions:
                reads_as = f"--{expansions[0]}" if len(expansions) == 1 else "one of " + ", ".join(f"--{e}" for e in expansions)
                raise ValueError(f"{directive!r}: sbatch reads --{option} as {reads_as}; write the option in full")
        return value

    @model_validator(mode="after")
    def _gres_count_is_the_gpus(self) -> SlurmSite:
        count = int(self.gres.rsplit(":", 1)[1]) if self.gres else None
        if count is not None and count != self.gpus:
            raise ValueError(f"gres {self.gres} asks Slurm for {count} GPU(s), but gpus is {self.gpus}; register what the job gets")
        return self

    @property
    def job_name(self) -> str:
        return f"flare-{self.name}"

    @property
    def parent_job(self) -> SlurmParent:
        return self.parent or SlurmParent()


SBATCH_MARKER = "# @SBATCH@"


def named(**options: str | None) -> dict[str, str]:
    return {option: value for option, value in options.items() if value}


def gpu_request(site: SlurmSite) -> list[str]:
    """What the GPU work asks for beyond where it runs: its GPUs, CPUs and memory."""
    gpus = [f"--gres={site.gres}"] if site.gres else [f"--gpus={site.gpus}"] if site.gpus else []
    return [*gpus, f"--cpus-per-task={site.cpus}", f"--mem={site.memory}"]


def safe(options: list[str]) -> list[str]:
    for option in options:  # the config validated each part; this guards the assembled line
        if not SBATCH_DIRECTIVE.fullmatch(option):
            raise ValueError(f"unsafe #SBATCH option {option!r}")
    return options


def directives(site: SlurmSite) -> list[str]:
    """Allocation mode's job script: the one client job holds the site's GPU request."""
    placement = named(partition=site.partition, account=site.account, qos=site.qos)
    return safe([
        f"--job-name={site.job_name}", *(f"--{option}={value}" for option, value in placement.items()), f"--time={site.time}",
        *gpu_request(site), f"--signal=B:USR1@{site.handover_seconds}",
        f"--output={site.workdir}/%x-%j.out", "--open-mode=append", *site.extra_directives,
    ])  # fmt: skip


def job_script(site: SlurmSite) -> str:
    text = render_script(HOST / "flare-client.sbatch", {"SITE_DIR": site.workdir, "JOB_NAME": site.job_name})
    return text.replace(SBATCH_MARKER, "\n".join(f"#SBATCH {d}" for d in directives(site)), 1)


def fl_job_options(site: SlurmSite) -> list[str]:
    """Launcher mode: what flare-sbatch.sh puts before NVFlare's own options for every FL job."""
    return safe([*gpu_request(site), *site.extra_directives])


def parent_options(site: SlurmSite) -> list[str]:
    """Launcher mode: what the watchdog adds when it submits NVFlare's parent.slurm (whose
    directives NVFlare limits to where and how long)."""
    parent = site.parent_job
    return safe([f"--cpus-per-task={parent.cpus}", f"--mem={parent.memory}", f"--output={site.workdir}/%x-%j.out", "--open-mode=append"])


def launcher_config(site: SlurmSite) -> dict[str, object]:
    """`nvflare deploy prepare --config` for NVFlare's Slurm job launcher (runtime: slurm)."""
    parent = site.parent_job
    bin_dir = f"{folder_layout(site).venv}/bin"
    return {
        "runtime": "slurm",
        "parent": {
            "sbatch_directives": {
                **named(partition=parent.partition, account=parent.account or site.account, qos=parent.qos),
                "time": parent.time,
            },
            # The kit's start script runs `python3`: the site's venv comes first.
            "environment_setup": f'export PATH={shlex.quote(bin_dir)}:"$PATH"\n',
        },
        "job_launcher": {
            "sandbox": "none",
            "python_path": f"{bin_dir}/python",
            "internal_port": site.launcher_port,
            # The GPU request NVFlare's sbatch_directives cannot carry goes in through this wrapper.
            "executables": {"sbatch": f"{site.workdir}/flare-sbatch.sh"},
            "sbatch_directives": {**named(partition=site.partition, account=site.account, qos=site.qos), "time": site.time},
        },
    }


def srun_options(site: SlurmSite) -> str:
    """The job's own partition, account and GPU request, for running a command like the job."""
    return "".join(
        f"--{option}={value} " for option, value in named(partition=site.partition, account=site.account, gres=site.gres).items()
    )


OFFLINE_NODES = """
Compute nodes without internet access: install once on the login node, into the shared
workdir, with `bash {workdir}/flare-client.sh {workdir}/client.env install`; the job then finds
NVFlare and the requirements installed and installs nothing (run it again after an upgrade).
They still need the outbound TCP connection to the FL server.
"""


def site_readme(site: SlurmSite) -> str:
    if site.mode == "launcher":
        return launcher_readme(site)
    values = {"name": site.name, "kit": site.kit, "workdir": site.workdir, "job_name": site.job_name, "time": site.time,
              "srun_options": srun_options(site), "venv": folder_layout(site).venv, "python": site.python}  # fmt: skip
    return render_readme(Path(__file__).parent / "README.md", **values)


def launcher_readme(site: SlurmSite) -> str:
    parent = site.parent_job
    where = ", ".join(f"{k} {v}" for k, v in named(partition=site.partition, account=site.account, qos=site.qos).items())
    parent_where = ", ".join(
        f"{k} {v}" for k, v in named(partition=parent.partition, account=parent.account or site.account, qos=parent.qos).items()
    )
    values = {"name": site.name, "kit": site.kit, "workdir": site.workdir, "job_name": site.job_name, "time": site.time,
              "venv": folder_layout(site).venv, "parent_time": parent.time, "parent_cpus": parent.cpus, "parent_memory": parent.memory,
              "parent_where": parent_where or "the cluster's default partition", "where": where or "the cluster's default partition",
              "fl_job_options": " ".join(fl_job_options(site)), "launcher_port": site.launcher_port}  # fmt: skip
    return render_readme(Path(__file__).parent / "README-launcher.md", **values)


def emit(site: SlurmSite, federation: FederationSettings, directory: Path) -> list[Path]:
    if site.mode == "launcher":
        job, job_options = f"{site.workdir}/prepared/startup/parent.slurm", parent_options(site)
        mode_files = {
            "slurm.yaml": yaml.safe_dump(launcher_config(site), sort_keys=False),
            "flare-launcher-prepare.sh": render_script(HOST / "flare-launcher-prepare.sh", {"SITE_DIR": site.workdir}),
            "flare-sbatch.sh": render_script(HOST / "flare-sbatch.sh", {"FL_JOB_OPTIONS": " ".join(fl_job_options(site))}),
        }
    else:
        job, job_options = f"{site.workdir}/flare-client.sbatch", []
        mode_files = {"flare-client.sbatch": job_script(site)}
    watchdog_settings = {"SITE_DIR": site.workdir, "JOB_NAME": site.job_name, "JOB_SCRIPT": job, "JOB_OPTIONS": " ".join(job_options)}
    files = {
        **mode_files,
        "flare-watchdog.sh": render_script(HOST / "flare-watchdog.sh", watchdog_settings),
        **runtime_files(site, federation),
        "crontab.txt": f"*/10 * * * * /bin/bash {site.workdir}/flare-watchdog.sh >> {site.workdir}/watchdog.log 2>&1\n",
        "README.md": site_readme(site)
        + needs_help(
            site,
            federation,
            runs_on="every compute node the job may run on",
            user="the cluster user who submits the jobs (the watchdog's crontab is theirs)",
        )
        + OFFLINE_NODES.format(workdir=site.workdir),
    }
    return write_files(directory, files)


def check(site: SlurmSite, federation: FederationSettings) -> list[str]:
    """Fields that interact: the time limits with the hand-over, the mode with the fields only
    one mode reads, and launcher mode with the NVFlare version."""
    problems = []
    limit = time_seconds(site.time)
    launcher = site.mode == "launcher"
    if limit < 120:
        needs = "an FL job needs time to start" if launcher else "the client needs time to start and hand over"
        problems.append(f"time: {site.time} is shorter than 2 minutes; {needs}")
    elif not launcher and site.handover_seconds > limit // 2:
        problems.append(
            f"handover_seconds: {site.handover_seconds} s is more than half the wall-time limit {site.time} ({limit} s); "
            "hand over shortly before the limit (default 300) or ask for more time"
        )
    if launcher and time_seconds(site.parent_job.time) < 600:
        problems.append(f"parent.time: {site.parent_job.time} is shorter than 10 minutes; the parent stays up for days (e.g. 7-00:00:00)")
    only_launcher = sorted({"parent", "launcher_port"} & site.model_fields_set)
    if not launcher and only_launcher:
        problems.extend(f"{field}: only launcher mode reads it; set mode: launcher or remove {field}" for field in only_launcher)
    if launcher and "handover_seconds" in site.model_fields_set:
        problems.append("handover_seconds: launcher mode does not hand over (each FL job is its own Slurm job); remove it")
    version = tuple(int(part) for part in federation.nvflare_version.split(".")[:2])
    if launcher and version < LAUNCHER_SINCE:
        problems.append(
            f"mode: launcher needs NVFlare {'.'.join(map(str, LAUNCHER_SINCE))} or newer (nvflare_version is {federation.nvflare_version})"
        )
    return problems


KIND = SiteKind(
    name="slurm",
    model=SlurmSite,
    minimal={"kit": "/shared/kits/lab", "workdir": "/shared/lab"},
    synth=synth_files(emit, "the Slurm login node"),
    emit=emit,
    check=check,
)
