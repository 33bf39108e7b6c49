"""Issue 32: what a running study meets. A hub (the hub's own server unit, as systemd runs it)
and two sites through the shared client runtime, all real NVFlare 2.9.

The FL server killed mid-job (a reboot, a crash, a replaced host: the job's processes die
with it) and started again as systemd does: NVFlare cannot resume the job, so the hub marks it
FINISHED:ABANDONED before the server starts, keeps its last global model as its result, and
the Lead is told how to go on; the clients reconnect and the next job runs. A site restarted
mid-job is reported to the job, which ends naming it. A site whose network link goes silent
for a while is shown gone, comes back by itself, and the job finishes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from flarectl.cli import main as flarectl
from tests.harness.hub_harness import wait_for
from tests.harness.jobs import numpy_job
from tests.harness.local import emulator_client, fill_volume
from tests.harness.provision import ADMIN
from tests.harness.study import SITES, Study, running_study

INITIAL = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=float)  # NPModelPersistor's first model; each round adds 1


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory, aws_emulator: dict[str, str]) -> Iterator[Study]:
    # A 96 MiB data volume, which the last test fills; the health check publishes to the emulator's CloudWatch.
    with running_study(tmp_path_factory.mktemp("study"), site_lost_after_seconds=20, data_volume_mib=96, settings=aws_emulator) as study:
        yield study


def test_a_hub_restart_mid_job_abandons_it_keeps_its_last_model_and_the_next_job_runs(study: Study, tmp_path: Path, capsys) -> None:
    job_id = study.job_at_round(tmp_path / "long-study", rounds=20, at_round=3)
    study.kill_the_fl_server()
    study.hub.systemctl("start", "flare-server.service")  # systemd's Restart=always
    study.wait_connected()

    assert flarectl(["jobs", "--kit", str(study.prod / ADMIN)]) == 0
    listed = capsys.readouterr().out
    assert re.search(rf"{job_id}.*FINISHED:ABANDONED", listed), listed
    assert "marked FINISHED:ABANDONED, its last global model kept as its result" in study.hub.log("flare-server.service")

    assert flarectl(["download", job_id, "--kit", str(study.prod / ADMIN), "-o", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert f"job {job_id} ended FINISHED:ABANDONED: the hub's FL server stopped while the job ran (restarted " in out
    assert "NVFlare cannot resume a job after its server restarts" in out
    model_line = next(line for line in out.splitlines() if line.startswith("global model: "))
    model = np.load(model_line.removeprefix("global model: ").split(", ")[0])
    rounds_done = model - INITIAL
    assert np.all(rounds_done == rounds_done[0, 0]) and 2 <= rounds_done[0, 0] < 20, model  # the rounds finished before the cut

    short = numpy_job(tmp_path / "after-the-restart", clients=len(SITES), rounds=1)
    assert flarectl(["submit", str(short), "--kit", str(study.prod / ADMIN), "--timeout", "300"]) == 0, capsys.readouterr().out


def test_a_job_that_finished_before_the_restart_is_left_as_it_was(study: Study, tmp_path: Path, capsys) -> None:
    assert flarectl(["submit", str(numpy_job(tmp_path / "done", clients=len(SITES), rounds=1)), "--kit", str(study.prod / ADMIN)]) == 0
    job_id = capsys.readouterr().out.split(" as job ")[1].split()[0]
    study.kill_the_fl_server()
    study.hub.systemctl("start", "flare-server.service")
    study.wait_connected()
    session = study.session()
    try:
        assert session.get_job_meta(job_id)["status"] == "FINISHED:COMPLETED"
    finally:
        session.close()


def test_a_site_that_restarts_mid_job_is_reported_and_the_job_ends_naming_it(study: Study, tmp_path: Path, capsys) -> None:
    job_id = study.job_at_round(tmp_path / "needs-both", rounds=30, at_round=2)
    session = study.session()
    try:
        study.kill_site(1)
        study.start_site(1)  # systemd's Restart=always, or the host back from a reboot
        started = time.monotonic()
        wait_for(lambda: str(session.get_job_meta(job_id).get("status", "")).startswith("FINISHED"), timeout=300, interval=2)
        ended_after = time.monotonic() - started
        status = session.get_job_meta(job_id)["status"]
    finally:
        session.close()
    assert status != "FINISHED:COMPLETED", status
    server = Path(f"/proc/{study.hub.pid('flare-server.service')}/environ").read_bytes().split(b"\0")
    assert b"NVFLARE_DEAD_CLIENT_GRACE_PERIOD=20" in server  # the federation file's hub.site_lost_after_seconds
    assert b"NVFLARE_CLIENT_OUTCOME_WAIT_TIMEOUT=20" in server
    server_log = study.hub.log("flare-server.service")
    assert f"job {job_id}: site site-b restarted during the job (it logged in again) and lost its part of it" in server_log
    print(f"\nfaults: the job ended {status} {ended_after:.0f} s after site-b restarted")
    study.wait_connected()
    assert flarectl(["download", job_id, "--kit", str(study.prod / ADMIN), "-o", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert f"job {job_id} ended {status}; errors by site:" in out, out
    # Two ways NVFlare ends it, by timing: the killed client's job process reports its failure
    # first (the job fails at once, the hub's journal names the site), or it dies silently and the
    # watch above has the job drop the site after the grace period (the Lead's errors name it).
    reported = f"Failing job {job_id} due to reported failure from site-b" in study.hub.log("flare-server.service")
    assert reported or "Client site-b is deemed disconnected!" in out, out


def site_b_state(study: Study, capsys) -> str:
    """`flarectl federation status`'s word for site-b, as the Project Admin reads it."""
    flarectl(["federation", "status", "--kit", str(study.prod / ADMIN), "--expect", "site-a", "--expect", "site-b",
              "--dashboard", "https://127.0.0.1:1"])  # fmt: skip
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("site-b "))
    return "not connected" if "not connected" in row else "connected"


def test_a_site_cut_off_from_the_hub_reconnects_by_itself_and_the_job_finishes(study: Study, tmp_path: Path, capsys) -> None:
    """site-b's link (a thin one: 8 Mbit/s) drops every packet for 45 s during round 2 or later,
    as a hospital's uplink or firewall would: no refusal, just silence. The site is shown gone,
    then back by itself, and the job finishes with every round."""
    study.link.bound("8mbit")
    job_id = study.job_at_round(tmp_path / "through-a-cut", rounds=6, at_round=2)
    session = study.session()
    try:
        study.link.cut()
        cut = time.monotonic()
        wait_for(lambda: site_b_state(study, capsys) == "not connected", timeout=90, interval=5)
        shown_gone = time.monotonic() - cut
        assert session.get_job_meta(job_id)["status"] == "RUNNING"
        time.sleep(max(0.0, 45 - (time.monotonic() - cut)))
        study.link.bound("8mbit")  # the link is back
        back = time.monotonic()
        wait_for(lambda: site_b_state(study, capsys) == "connected", timeout=300, interval=5)
        rejoined = time.monotonic() - back
        wait_for(lambda: str(session.get_job_meta(job_id).get("status", "")).startswith("FINISHED"), timeout=300, interval=2)
        status = session.get_job_meta(job_id)["status"]
    finally:
        study.link.restore()
        session.close()
    assert status == "FINISHED:COMPLETED", status
    print(f"\nfaults: site-b shown not connected {shown_gone:.0f} s into a 45 s cut, connected again {rejoined:.0f} s after it")
    assert flarectl(["download", job_id, "--kit", str(study.prod / ADMIN), "-o", str(tmp_path / "results")]) == 0
    model_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("global model: "))
    model = np.load(model_line.removeprefix("global model: ").split(", ")[0])
    assert np.array_equal(model, INITIAL + 6), model  # every round counted, with both sites


def test_a_data_volume_that_fills_during_a_job_leaves_nothing_to_repair_by_hand(
    study: Study, tmp_path: Path, capsys, aws_emulator: dict[str, str]
) -> None:
    """Runs last: the hub's data volume fills during round 2 or later. The health check
    publishes the figure the DataVolumeAlarm watches (over 80%); the job cannot go on. Once
    space is freed the FL server records the job's end by itself (NVFlare 2.9's JobRunner
    retries the status write), every job record still reads, the job's logs and its last
    global model download with the reason, and the next job completes: nothing to repair by
    hand."""
    job_id = study.job_at_round(tmp_path / "fills-the-disk", rounds=8, at_round=2)
    ballast = fill_volume(study.hub.data)
    try:
        time.sleep(20)  # the job meets the full volume
        health = study.hub.run("flare-health.service")
        cloudwatch = emulator_client(aws_emulator, "cloudwatch")
        published = cloudwatch.get_metric_statistics(
            Namespace="NVFlare/Hub", MetricName="DataVolumeUsedPercent", Dimensions=[{"Name": "Project", "Value": "faults"}],
            StartTime=time.time() - 600, EndTime=time.time() + 60, Period=60, Statistics=["Maximum"])  # fmt: skip
        assert max(point["Maximum"] for point in published["Datapoints"]) == 100.0, (published, health.stdout + health.stderr)
    finally:
        ballast.unlink()
    freed = time.monotonic()
    session = study.session()
    try:
        wait_for(lambda: str(session.get_job_meta(job_id).get("status", "")).startswith("FINISHED"), timeout=180, interval=2)
        recorded_after = time.monotonic() - freed
        for job in session.list_jobs():
            assert str(session.get_job_meta(job["job_id"])["status"]).startswith("FINISHED"), job  # every record reads
    finally:
        session.close()
    print(f"\nfaults: the job that met the full volume was recorded finished {recorded_after:.0f} s after space was freed")
    assert flarectl(["download", job_id, "--kit", str(study.prod / ADMIN), "-o", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert f"job {job_id} ended FINISHED:EXECUTION_EXCEPTION; errors by site:" in out and "No space left on device" in out, out
    assert sorted(p.name for p in (tmp_path / "results" / job_id / "logs").iterdir()) == ["server.log", "site-a.log", "site-b.log"]
    model_line = next(line for line in out.splitlines() if line.startswith("global model: "))
    rounds_done = np.load(model_line.removeprefix("global model: ").split(", ")[0]) - INITIAL
    assert np.all(rounds_done == rounds_done[0, 0]) and 2 <= rounds_done[0, 0] < 8, rounds_done  # the last model saved before
    after = numpy_job(tmp_path / "after-the-volume-filled", clients=len(SITES), rounds=1)
    assert flarectl(["submit", str(after), "--kit", str(study.prod / ADMIN), "--timeout", "300"]) == 0, capsys.readouterr().out
