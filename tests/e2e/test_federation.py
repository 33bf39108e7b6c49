"""The whole federation end to end (see federation_demo.py), as a test: every site trains,
the job completes, nothing is left running; NVFlare's poc runs the same job for comparison."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil

from tests.conftest import needs
from tests.e2e.federation_demo import run
from tests.harness import slurm_cluster


def nvflare_processes() -> list[str]:
    return [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
            if any(marker in " ".join(p.info["cmdline"] or []) for marker in ("server_train", "client_train", "slurmctld", "slurmd -D", "slurmdbd", "mariadbd"))]  # fmt: skip


def test_every_site_kind_trains_one_job_and_everything_stops(capsys) -> None:
    needs(slurm_cluster.installed(), slurm_cluster.PACKAGES)
    needs(os.geteuid() == 0, "root, to start munged and the Slurm daemons")
    before = nvflare_processes()
    report = run(compare_with_poc=False)  # the comparison with `nvflare poc` is a figure: `make demo`
    assert report.status == "FINISHED:COMPLETED"
    assert report.trained == {"aws-site": True, "azure-site": True, "slurm-site": True, "linux-site": True, "wsl-site": True}
    assert report.peak_mib > 0
    assert nvflare_processes() == before  # nothing left running
    assert not Path(f"{sys.prefix}-2.9.0").exists()  # the sites used this venv in place: never moved aside
    out = capsys.readouterr().out
    assert "this project: FINISHED:COMPLETED in" in out and "nvflare poc" not in out
    print(out.splitlines()[-1])
