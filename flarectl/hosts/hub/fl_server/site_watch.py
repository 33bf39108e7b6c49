"""A system component of the hub's FL server (its local/resources.json names it): tells a
running job when one of its sites restarted, so the job goes on without that site, or fails
naming it, instead of waiting for it for ever.

NVFlare 2.9 tracks a job's sites by their login token (ServerEngine.run_processes, the job's
participants) and checks them only by that token (FederatedServer._sync_client_jobs). A site
whose client restarts (a reboot, a crash, a killed process) logs in again with a new token
and has lost its part of the job, but the server never notices: the job waits at that round
for ever. On every heartbeat this watch looks for a job participant whose token is gone
while a client of the same name is logged in, and reports it as NVFlare's own dead-job
check would (ServerEngine.notify_dead_job); the job's controller then treats the site as
disconnected after NVFlare's dead_client_grace_period.
"""

from __future__ import annotations

from nvflare.apis.event_type import EventType
from nvflare.apis.fl_component import FLComponent
from nvflare.apis.fl_constant import RunProcessKey
from nvflare.apis.fl_context import FLContext

REASON = "restarted during the job (it logged in again) and lost its part of it"


class RestartedSiteWatch(FLComponent):
    def __init__(self) -> None:
        super().__init__()
        self._reported: set[tuple[str, str]] = set()  # (job id, old token)

    def handle_event(self, event_type: str, fl_ctx: FLContext) -> None:
        if event_type != EventType.CLIENT_HEARTBEAT_PROCESSED:
            return
        engine = fl_ctx.get_engine()
        logged_in = {client.name: token for token, client in list(engine.server.client_manager.clients.items())}
        for job_id, info in list(engine.run_processes.items()):
            for token, client in list((info.get(RunProcessKey.PARTICIPANTS) or {}).items()):
                if logged_in.get(client.name, token) == token or (job_id, token) in self._reported:
                    continue
                self._reported.add((job_id, token))
                self.log_warning(fl_ctx, f"job {job_id}: site {client.name} {REASON}")
                engine.notify_dead_job(job_id, client.name, f"site {client.name} {REASON}")
