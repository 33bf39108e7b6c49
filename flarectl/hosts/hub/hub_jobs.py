"""Jobs the FL server left unfinished when it stopped (a reboot, a crash, a replaced host).

NVFlare 2.9 cannot resume a running job after its server restarts: it no longer persists
job snapshots (ServerEngine.persist_components is a no-op) and never calls
JobRunner.restore_running_job or update_unfinished_jobs, so such a job would stay RUNNING in
the job store for ever, with nothing running it. Before the server starts, each job still
RUNNING or DISPATCHED is therefore marked FINISHED:ABANDONED (NVFlare's own status for it),
with the server's workspace of the job (its last global model, saved after every round)
stored as its result, so `flarectl download` fetches it and a Lead can start again from it.
"""

from __future__ import annotations

import time
from pathlib import Path

from hub_host import log
from hub_settings import Hub

UNFINISHED = ("RUNNING", "DISPATCHED")
ABANDONED = "FINISHED:ABANDONED"
NOTE = "interrupted"  # the job meta's key for why and when


def jobs_store(hub: Hub) -> Path:
    return hub.data / "server" / "jobs-storage"  # write_resources points NVFlare's job_manager here


def recover_unfinished(hub: Hub) -> list[str]:
    """The ids of the jobs marked abandoned now."""
    from nvflare.apis.storage import WORKSPACE
    from nvflare.app_common.storages.filesystem_storage import FilesystemStorage

    store = FilesystemStorage()  # NVFlare's job_store: objects by absolute path
    recovered = []
    for meta_file in sorted(jobs_store(hub).glob("*/meta")):
        uri = str(meta_file.parent)
        meta = store.get_meta(uri)
        if meta.get("status") not in UNFINISHED:
            continue
        job_id = meta_file.parent.name
        # The server's workspace of the job, under the kit it ran with (kits stay on the volume).
        run_dirs = sorted({path.resolve() for path in hub.kits.glob(f"*/{job_id}") if path.is_dir()})
        if run_dirs and WORKSPACE not in store.list_components_of_object(uri):
            store.update_object(uri, [str(run_dirs[-1])], WORKSPACE)
        stopped = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        store.update_meta(uri, {"status": ABANDONED, NOTE: f"the hub's FL server stopped while the job ran (restarted {stopped})"}, False)
        log(f"job {job_id} was {meta['status']} when the FL server stopped; NVFlare cannot resume a job: marked {ABANDONED}"
            + (", its last global model kept as its result" if run_dirs else " (no workspace of it on the server)"))  # fmt: skip
        recovered.append(job_id)
    return recovered
