"""The Lead's job tool: `flarectl submit JOB_FOLDER` and `flarectl status`, through NVFlare's
Flare API with the Lead's own admin startup kit (what the guide's pasted
submit-nvflare-job.py did, with checks and a real exit code)."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

POC_KIT = Path("/tmp/nvflare/poc")
DONE_OK = "FINISHED:COMPLETED"


class LeadError(Exception):
    pass


def find_kit(kit: str | None, poc: bool) -> Path:
    """The admin startup kit: --kit, the POC admin kit, or the only one under ~/.nvflare/<project>/<user>."""
    if kit:
        candidates = [Path(kit).expanduser()]
    elif poc:
        candidates = sorted(POC_KIT.glob("*/prod_00/admin@*"))
    else:
        candidates = sorted(p.parent.parent for p in Path.home().glob(".nvflare/*/*/startup/fed_admin.json"))
    kits = [c for c in candidates if (c / "startup" / "fed_admin.json").exists()]
    if len(kits) == 1:
        return kits[0].resolve()
    where = "--kit" if kit else ("the POC workspace (nvflare poc prepare)" if poc else "~/.nvflare/<project>/<user>")
    if not kits:
        raise LeadError(f"no admin startup kit found in {where}; download yours from the dashboard, unzip it there, or pass --kit PATH")
    raise LeadError(f"several admin startup kits in {where}: {', '.join(map(str, kits))}; choose one with --kit PATH")


def check_job_folder(folder: Path) -> None:
    """A job folder NVFlare accepts: meta.json/meta.conf and apps with client and server configs."""
    if not folder.is_dir():
        raise LeadError(f"{folder} is not a folder; pass the job folder (with meta.json or meta.conf)")
    if not any((folder / name).exists() for name in ("meta.json", "meta.conf")):
        raise LeadError(f"{folder} has no meta.json or meta.conf; is it a job folder? (nvflare job create makes one)")
    apps = [p for p in folder.iterdir() if (p / "config").is_dir()]
    if not apps:
        raise LeadError(f"{folder} has no app folder with a config/ folder (e.g. app/config/config_fed_client.conf)")
    for app in apps:
        configs = {p.stem for p in (app / "config").iterdir()}
        if not configs & {"config_fed_client", "config_fed_server"}:
            raise LeadError(f"{app}/config has neither config_fed_client nor config_fed_server (.json or .conf)")


def session_for(kit: Path, timeout: float = 30) -> Any:
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    try:
        with contextlib.redirect_stdout(sys.stderr):  # NVFlare prints "Connecting to FLARE ..."; stdout is the report
            return new_secure_session(kit.name, str(kit), timeout=timeout)
    except Exception as error:  # the Flare API raises several kinds; all mean "cannot reach the server"
        raise LeadError(f"cannot connect to the FL server with the kit in {kit}: {error}") from None


def submit(folder: Path, kit: Path, timeout: float, say=print) -> int:
    check_job_folder(folder)
    session = session_for(kit)
    try:
        job_id = session.submit_job(str(folder))
        say(f"submitted {folder.name} as job {job_id}")
        last: list[str] = []

        def progress(session: Any, job_id: str, meta: dict) -> bool:
            status = meta.get("status", "?")
            if [status] != last:
                say(f"{time.strftime('%H:%M:%S')} job {job_id}: {status}")
                last[:] = [status]
            return True

        code, meta = session.monitor_job_and_return_job_meta(job_id, timeout=timeout, poll_interval=2, cb=progress)
        if meta is None:
            say(f"job {job_id}: still running after {timeout:g} s; follow it with `flarectl status`")
            return 1
        status = meta.get("status")
        if status != DONE_OK:
            say(f"job {job_id} ended {status}; see the server's and clients' logs for {job_id}")
            return 1
        say(f"job {job_id} {DONE_OK}")
        return 0
    finally:
        session.close()


def server_state(engine_status: str, start_time: float | None) -> str:
    """NVFlare reports its engine: "stopped" means no job is running, not a stopped server."""
    since = "" if start_time is None else f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(start_time))}"
    jobs = "no job running" if engine_status == "stopped" else f"running a job (engine {engine_status})"
    return f"up{since}, {jobs}"


def status(kit: Path, say=print) -> int:
    session = session_for(kit)
    try:
        info = session.get_system_info()
        say(f"server: {server_state(info.server_info.status, info.server_info.start_time)}")
        say(f"clients ({len(info.client_info)}):")
        for client in info.client_info:
            say(f"  {client}")
        say(f"running jobs ({len(info.job_info)}):")
        for job in info.job_info:
            say(f"  {job.job_id} ({job.app_name})")
        return 0
    finally:
        session.close()
