"""Why a job ended as it did, in a Lead's words: the sites that refused it under their
governance, and a job the hub's restart abandoned (flarectl/hosts/hub/hub_jobs.py)."""

from __future__ import annotations

ABANDONED = "FINISHED:ABANDONED"  # the hub's FL server restarted while the job ran (hosts/hub/hub_jobs.py)


def abandoned_help(job_id: str, meta: dict) -> str:
    why = meta.get("interrupted") or "the hub's FL server stopped while the job ran"
    return (
        f"job {job_id} ended {ABANDONED}: {why}. NVFlare cannot resume a job after its server restarts. "
        f"Its last global model (saved after every finished round) is its result: `flarectl download {job_id}`, "
        "then submit the job again starting from that model (its persistor's initial model) with the rounds left"
    )


# NVFlare's reasons when a site refuses to deploy a job (private/fed/utils/app_deployer.py,
# app_authz.py): its governance policy said no. Named in the Lead's words.
POLICY_REASONS = {
    "BYOC not permitted": "the site does not allow custom code (governance custom_code)",
    "is not authorized for 'submit_job'": "the site does not run jobs from your role or organization (governance run_jobs)",
}


def refusals(meta: dict) -> list[str]:
    """A line for every site that refused the job, with its reason: the job ran without it, or not at all."""
    lines = []
    for entry in meta.get("job_deploy_detail") or []:
        site, _, reply = str(entry).partition(": ")
        reply = reply.removeprefix("NVFLARE_ERROR: ")
        if not reply and "required_min_sites" in site:  # "num_ok_sites 0 < required_min_sites 1"
            lines.append(f"too few sites accepted the job to run it ({site})")
        elif reply and reply != "OK":
            why = next((words for reason, words in POLICY_REASONS.items() if reason in reply), None)
            if why is None and "privacy scope" in reply:
                why = "the site defines no such privacy scope (governance privacy); name one of its scopes in the job's meta"
            lines.append(f"{site} refused the job: {reply}" + (f" ({why})" if why else ""))
    return lines
