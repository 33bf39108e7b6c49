#!/usr/bin/env python3
"""What a running study loses to a fault (issue 32), on this machine with real NVFlare: the hub's
FL server killed mid-job and started again as systemd does, a site's client killed mid-job
and started again, and a site's network link to the hub silent for CUT_SECONDS. Prints
figures; asserts nothing.

Run: sudo .venv/bin/python bench/faults.py   (~5 minutes; the hub sandbox; root for the site's network namespace)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flarectl.federation_status import collect  # noqa: E402
from flarectl.lead import workflow_round  # noqa: E402
from tests.harness.hub_harness import wait_for  # noqa: E402
from tests.harness.jobs import numpy_job  # noqa: E402
from tests.harness.provision import ADMIN  # noqa: E402
from tests.harness.study import SITES, Study, running_study  # noqa: E402

ROUNDS, SECONDS_PER_ROUND, CUT_AT_ROUND, SITE_LOST_AFTER, CUT_SECONDS = 20, 2.0, 4, 20, 90


def run_until_round(study: Study, folder: Path) -> tuple[str, float]:
    """A job submitted and followed to CUT_AT_ROUND: (its id, seconds it ran)."""
    session = study.session()
    try:
        job_id = session.submit_job(str(numpy_job(folder, clients=len(SITES), rounds=ROUNDS, seconds_per_round=SECONDS_PER_ROUND)))
        started = time.monotonic()
        wait_for(lambda: int((workflow_round(session, job_id) or f"0/{ROUNDS}").split("/")[0]) >= CUT_AT_ROUND, timeout=300, interval=0.2)
        return job_id, time.monotonic() - started
    finally:
        session.close()


def status(study: Study, job_id: str) -> str:
    session = study.session()
    try:
        return str(session.get_job_meta(job_id).get("status"))
    finally:
        session.close()


def site_b_connected(study: Study) -> bool:
    report = collect(study.prod / ADMIN, expected=SITES, dashboard="https://127.0.0.1:1")
    return next(site["connected"] for site in report["sites"] if site["name"] == "site-b")


def wait_finished(study: Study, job_id: str) -> None:
    session = study.session()
    try:
        wait_for(lambda: str(session.get_job_meta(job_id).get("status", "")).startswith("FINISHED"), timeout=900, interval=1)
    finally:
        session.close()


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="bench-faults-") as workdir,
        running_study(Path(workdir), site_lost_after_seconds=SITE_LOST_AFTER) as study,
    ):
        job_id, ran = run_until_round(study, Path(workdir) / "hub-restart")
        cut = time.monotonic()
        study.kill_the_fl_server()
        study.hub.systemctl("start", "flare-server.service")
        study.wait_connected()
        print(f"hub restart at round {CUT_AT_ROUND}/{ROUNDS} ({ran:.0f} s in): both sites connected again {time.monotonic() - cut:.1f} s "
              f"after the kill; the job is {status(study, job_id)}: about {CUT_AT_ROUND - 1} finished "
              f"rounds kept in its last model, {ROUNDS - CUT_AT_ROUND + 1} to run again")  # fmt: skip

        job_id, ran = run_until_round(study, Path(workdir) / "site-restart")
        study.kill_site(1)
        restarted = time.monotonic()
        study.start_site(1)
        wait_finished(study, job_id)
        print(f"site restart at round {CUT_AT_ROUND}/{ROUNDS}: the job ended "
              f"{status(study, job_id)} {time.monotonic() - restarted:.0f} s after the restart (hub.site_lost_after_seconds: {SITE_LOST_AFTER})")  # fmt: skip

        job_id, ran = run_until_round(study, Path(workdir) / "network-cut")
        study.link.cut()
        cut = time.monotonic()
        shown_gone = wait_for(lambda: not site_b_connected(study), timeout=CUT_SECONDS, interval=1)
        time.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - cut)))
        study.link.restore()
        back = time.monotonic()
        rejoined = wait_for(lambda: site_b_connected(study), timeout=600, interval=1)
        wait_finished(study, job_id)
        print(f"network cut of site-b for {CUT_SECONDS} s at round {CUT_AT_ROUND}/{ROUNDS}: shown not connected after "
              f"{shown_gone:.0f} s, connected again {rejoined:.0f} s after the link came back; the job ended {status(study, job_id)} "
              f"{time.monotonic() - back:.0f} s after it")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
