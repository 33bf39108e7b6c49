"""The Lead's job tool: `flarectl submit | jobs | abort | download | status`, through NVFlare's
Flare API with the Lead's own admin startup kit (what the guide's pasted
submit-nvflare-job.py did, with checks and real exit codes).

Exit codes: 0 done as asked; 1 the job failed, did not finish in time, or the server keeps
nothing to download; 2 a mistake to fix (no kit, not a job folder, no such job)."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from pathlib import Path
from typing import Any

from flarectl.job_outcome import ABANDONED, abandoned_help, refusals

DONE_OK = "FINISHED:COMPLETED"


class LeadError(Exception):
    pass


def poc_workspace() -> Path:
    """Where `nvflare poc prepare` put the POC federation, found the way NVFlare finds it:
    NVFLARE_POC_WORKSPACE, then ~/.nvflare/config.conf, then /tmp/nvflare/poc."""
    from nvflare.tool.poc.poc_commands import get_poc_workspace

    return Path(get_poc_workspace())


def find_kit(kit: str | None, poc: bool) -> Path:
    """The admin startup kit: --kit, the POC admin kit, or the only one under ~/.nvflare/<project>/<user>."""
    if kit:
        candidates = [Path(kit).expanduser()]
    elif poc:
        candidates = sorted(poc_workspace().glob("*/prod_00/admin@*"))
    else:
        candidates = sorted(p.parent.parent for p in Path.home().glob(".nvflare/*/*/startup/fed_admin.json"))
    kits = [c for c in candidates if (c / "startup" / "fed_admin.json").exists()]
    if len(kits) == 1:
        return kits[0].resolve()
    where = "--kit" if kit else (f"the POC workspace {poc_workspace()} (nvflare poc prepare)" if poc else "~/.nvflare/<project>/<user>")
    if not kits:
        raise LeadError(f"no admin startup kit found in {where}; download yours from the dashboard, unzip it there, or pass --kit PATH")
    raise LeadError(f"several admin startup kits in {where}: {', '.join(map(str, kits))}; choose one with --kit PATH")


def job_folder(path: str) -> Path:
    """The job folder as an absolute path: NVFlare resolves a relative one against the kit's
    transfer/ folder, not the Lead's working directory."""
    folder = Path(path).expanduser().resolve()
    check_job_folder(folder)
    return folder


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
    """A Flare API session, or LeadError naming the server and how long it was tried. NVFlare's
    own "Connecting ..." print goes to standard error, and only with --debug (stdout is the report)."""
    import io
    import json
    import logging

    from nvflare.fuel.flare_api.flare_api import new_secure_session

    quiet = logging.root.manager.disable >= logging.CRITICAL
    try:
        with contextlib.redirect_stdout(io.StringIO() if quiet else sys.stderr):
            return new_secure_session(kit.name, str(kit), timeout=timeout)
    except Exception as error:  # the Flare API raises several kinds; all mean "cannot reach the server"
        try:
            admin = json.loads((kit / "startup" / "fed_admin.json").read_text())["admin"]
            where = f" at {admin['host']}:{admin['port']}"
        except (OSError, ValueError, KeyError):
            where = ""
        raise LeadError(
            f"cannot connect to the FL server{where} within {timeout:g} s with the kit in {kit} ({error}); "
            "is it running, and is its port open from here?"
        ) from None


def submit(folder: Path, kit: Path, timeout: float, say=print) -> int:
    check_job_folder(folder)
    session = session_for(kit)
    try:
        job_id = session.submit_job(str(folder))
        started = time.monotonic()
        say(f"submitted {folder.name} as job {job_id}")
        last: list[str | None] = []

        def progress(session: Any, job_id: str, meta: dict) -> bool:
            status = meta.get("status", "?")
            state = [status, workflow_round(session, job_id) if status == "RUNNING" else None]
            if state != last and (state[1] or state[0] != (last or [None])[0]):
                where = f"round {state[1]}" if state[1] else status
                say(f"{time.strftime('%H:%M:%S')} job {job_id}: {where} (after {time.monotonic() - started:.0f} s)")
                last[:] = state
            return True

        code, meta = session.monitor_job_and_return_job_meta(job_id, timeout=timeout, poll_interval=2, cb=progress)
        for line in refusals(session.get_job_meta(job_id)):  # the monitor's copy lacks the deploy detail
            say(line)
        if meta is None:
            say(f"job {job_id}: still running after {timeout:g} s; follow it with `flarectl jobs`, stop it with `flarectl abort {job_id}`")
            return 1
        status = meta.get("status")
        if status == ABANDONED:
            say(abandoned_help(job_id, meta))
            return 1
        if status != DONE_OK:
            say(f"job {job_id} ended {status}; its logs: `flarectl download {job_id}`")
            return 1
        say(f"job {job_id} {DONE_OK}; its result and logs: `flarectl download {job_id}`")
        return 0
    finally:
        session.close()


def workflow_round(session: Any, job_id: str) -> str | None:
    """ "3/5" while a round-based workflow (ScatterAndGather, FedAvg, ...) reports its round on
    the server, else None."""
    try:
        stats = session.show_stats(job_id, "server").get("server", {})
    except Exception:  # between the job's start and its workflow's, and after it, there are no stats
        return None
    for component in stats.values():
        if isinstance(component, dict) and isinstance(component.get("current_round"), int) and component.get("num_rounds"):
            return f"{component['current_round'] + 1}/{component['num_rounds']}"
    return None


def known_job(session: Any, job_id: str) -> dict:
    """The job's meta, or LeadError naming the jobs there are."""
    from nvflare.fuel.flare_api.api_spec import JobNotFound

    try:
        return session.get_job_meta(job_id)
    except (JobNotFound, ValueError):
        raise LeadError(f"no job {job_id!r} on the server; `flarectl jobs` lists them") from None


def jobs(kit: Path, state: str | None, limit: int, say=print) -> int:
    session = session_for(kit)
    try:
        found = session.list_jobs(reverse=True)
    finally:
        session.close()
    if state:
        found = [job for job in found if str(job.get("status", "")).startswith(state.upper())]
    found = found[:limit]
    say(f"{'JOB ID':<38} {'NAME':<24} {'STATUS':<24} {'SUBMITTED':<28} RAN")
    for job in found:
        say(
            f"{job.get('job_id', ''):<38} {job.get('job_name', ''):<24} {job.get('status', ''):<24} {job.get('submit_time', ''):<28} {job.get('duration', '')}"
        )
    if not found:
        say("no jobs" + (f" in state {state.upper()}" if state else ""))
    return 0


def abort(kit: Path, job_id: str, say=print) -> int:
    session = session_for(kit)
    try:
        status = known_job(session, job_id).get("status", "")
        if str(status).startswith("FINISHED"):
            say(f"job {job_id} already ended {status}; nothing to abort")
            return 0
        session.abort_job(job_id)
        say(f"job {job_id} aborted (it was {status})")
        return 0
    finally:
        session.close()


# What NVFlare's persistors write for the global model: numpy (server.npy), PyTorch
# (FL_global_model.pt, best_FL_global_model.pt), and the other common weight formats.
MODEL_SUFFIXES = (".npy", ".pt", ".pth", ".safetensors", ".h5", ".keras")


def global_models(result: Path) -> list[Path]:
    """The model files the server's job workspace holds, the final global model first."""
    found = [path for path in result.rglob("*") if path.is_file() and path.suffix in MODEL_SUFFIXES]
    return sorted(
        found, key=lambda path: (not path.name.startswith(("FL_global_model", "server")), path.name.startswith("best"), str(path))
    )


def download(kit: Path, job_id: str, destination: Path, say=print) -> int:
    """The job's result (the server's workspace of the job, with the global model) and the
    logs the Lead may see, into destination/<job_id>/."""
    session = session_for(kit)
    try:
        meta = known_job(session, job_id)
        for line in refusals(meta):
            say(line)
        target = destination.expanduser().resolve() / job_id
        target.mkdir(parents=True, exist_ok=True)
        status = meta.get("status", "")
        result = None
        if str(status).startswith("FINISHED"):
            try:
                result = session.download_job_result(job_id, str(target / "result"))
            except Exception as error:  # the server may keep no workspace (e.g. a job that never ran)
                say(f"job {job_id}: the server keeps no result ({error})")
        logs = job_logs(session, job_id)
        failed = str(status).startswith("FINISHED") and status != "FINISHED:COMPLETED"
        reported = job_errors(session, job_id) if failed else {}
        if failed:
            site_job_logs(session, job_id, meta, logs)
    finally:
        session.close()
    written = []
    for site, text in sorted(logs.get("logs", {}).items()):
        (target / "logs").mkdir(exist_ok=True)
        (target / "logs" / f"{site}.log").write_text(text)
        written.append(site)
    for site, reason in sorted(logs.get("unavailable", {}).items()) if not failed else []:  # a failed job's are below
        say(f"job {job_id}: no log from {site} ({reason})")
    if status == ABANDONED:
        say(abandoned_help(job_id, meta))
    if result:
        say(f"job {job_id} ({status}): result in {result}")
        models = global_models(Path(result))
        say(f"global model: {', '.join(map(str, models))}" if models else
            f"job {job_id}: no model file ({', '.join(MODEL_SUFFIXES)}) in the result; the job's workflow saves none")  # fmt: skip
    elif not str(status).startswith("FINISHED"):
        say(f"job {job_id} is {status}: no result until it ends")
    if failed:
        say_errors(job_id, status, reported, logs, say)
    say(f"logs in {target / 'logs'}: {', '.join(written)}" if written else f"job {job_id}: the server keeps no logs for it")
    return 0 if result or written else 1


ERROR_LINE = re.compile(r" - (ERROR|CRITICAL) - ")
EXCEPTION = re.compile(r"\b[A-Z]\w*(Error|Exception|Exit|Interrupt): .*")


def job_errors(session: Any, job_id: str) -> dict[str, list[str]]:
    """What NVFlare's error collection holds for the job, by site (show_errors: the server and
    every client's runner report processing errors to the server)."""
    found: dict[str, list[str]] = {}
    for target_type in ("server", "client"):
        try:
            reply = session.show_errors(job_id, target_type) or {}
        except Exception:  # a job that never deployed has no runners to ask
            continue
        for site, errors in reply.items():
            if errors:
                found.setdefault(site, []).extend(f"{component}: {text}" for component, text in _flatten(errors))
    return found


def _flatten(errors: Any) -> list[tuple[str, str]]:
    if isinstance(errors, dict):
        return [(str(component), str(text)) for component, text in errors.items()]
    return [("", str(item)) for item in (errors if isinstance(errors, list) else [errors])]


def job_sites(session: Any, meta: dict) -> list[str]:
    """The client sites the job was deployed to: its participants if the server kept them, else
    its deploy map (where `@ALL` means every client connected now)."""
    named = [str(c["name"]) for c in meta.get("job_clients") or [] if isinstance(c, dict) and c.get("name")]
    if named:
        return sorted(set(named))
    wanted = {site for sites in (meta.get("deploy_map") or {}).values() for site in sites if isinstance(site, str)}
    if "@ALL" in wanted:
        try:
            wanted |= {client.name for client in session.get_system_info().client_info}
        except Exception:
            pass
    return sorted(site for site in wanted if site not in ("@ALL", "server"))


def job_logs(session: Any, job_id: str) -> dict:
    """The job's logs the hub holds, as far as the hub's authorization.json lets this user read
    them (NVFlare's default grants the get_job_log right to the Project Admin only)."""
    from nvflare.fuel.flare_api.api_spec import AuthorizationError

    try:
        return dict(session.get_job_logs(job_id, target="all"))
    except AuthorizationError:
        return {"logs": {}, "unavailable": {"server": "the hub's policy does not let your role read job logs (NVFlare's get_job_log "
                                                      "right; the Project Admin has it): ask the Project Admin"}}  # fmt: skip


def site_job_logs(session: Any, job_id: str, meta: dict, logs: dict) -> None:
    """A client's job log that the server does not hold (a job process that died never sends it):
    read from the site with the admin `cat` command, where the site's governance allows it
    (shell_commands; NVFlare's default: users of the site's own organization). Fills `logs`."""
    from nvflare.fuel.flare_api.api_spec import AuthorizationError

    for site in job_sites(session, meta):
        if site in logs.setdefault("logs", {}):
            continue
        try:
            text = session.cat_target(site, file=f"{job_id}/log.txt")
        except AuthorizationError:
            logs.setdefault("unavailable", {})[site] = (
                "the site's policy does not let you read its files (its governance shell_commands; NVFlare's default: users of "
                f"the site's own organization): ask its Org Admin for <the site's workspace>/{job_id}/log.txt"
            )
            continue
        except Exception as error:  # the site is offline, or the file is gone
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else error.__class__.__name__
            logs.setdefault("unavailable", {})[site] = (
                f"reading it from the site failed ({reason}): ask its Org Admin for <the site's workspace>/{job_id}/log.txt"
            )
            continue
        if isinstance(text, str) and text.strip():
            logs["logs"][site] = text
            logs.get("unavailable", {}).pop(site, None)
        else:
            logs.setdefault("unavailable", {})[site] = (f"the site answered: {str(text).strip()[:200]}" if str(text).strip()
                                                        else "the site holds no log for the job")  # fmt: skip


def say_errors(job_id: str, status: str, reported: dict[str, list[str]], logs: dict, say) -> None:
    """Each site's errors for a failed job: what the runners reported, and the error lines of the
    site's job log when the server holds it; where neither exists, why not."""
    say(f"job {job_id} ended {status}; errors by site:")
    sites = sorted(set(reported) | set(logs.get("logs", {})) | set(logs.get("unavailable", {})))
    for site in sites:
        lines = [f"reported: {text}" for text in reported.get(site, [])]
        text = logs.get("logs", {}).get(site)
        if isinstance(text, str):
            # The exceptions raised (the first is usually the cause: a trainer's own error), then
            # the last lines logged as errors.
            lines += [found.group(0).strip() for found in map(EXCEPTION.search, text.splitlines()) if found]
            lines += [line.strip() for line in text.splitlines() if ERROR_LINE.search(line)][-3:]
        if lines:
            say(f"  {site}:")
            for line in list(dict.fromkeys(lines))[:8]:  # once each, in order
                say(f"    {line[:300]}")
        elif site in logs.get("unavailable", {}):
            say(f"  {site}: no job log here: {logs['unavailable'][site]}")
        else:
            say(f"  {site}: no errors reported")


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
