"""How a Lead reads a job's end: each site's refusal with NVFlare's reason and what it means
(the deploy detail NVFlare 2.9 writes into the job's meta), and an abandoned job."""

from __future__ import annotations

from flarectl.job_outcome import abandoned_help, refusals


def test_each_refusing_site_is_named_with_its_reason_and_accepting_sites_are_not() -> None:
    meta = {"job_deploy_detail": [
        "server: OK", "site-a: NVFLARE_ERROR: BYOC not permitted", "site-b: OK",
        "site-c: user 'lead@x.test' is not authorized for 'submit_job'", "site-d: privacy scope 'research' is not allowed",
        "site-e: disk full", "a line without a site", "num_ok_sites 1 < required_min_sites 2",
    ]}  # fmt: skip
    assert refusals(meta) == [
        "site-a refused the job: BYOC not permitted (the site does not allow custom code (governance custom_code))",
        "site-c refused the job: user 'lead@x.test' is not authorized for 'submit_job' (the site does not run jobs from your role or "
        "organization (governance run_jobs))",
        "site-d refused the job: privacy scope 'research' is not allowed (the site defines no such privacy scope (governance privacy); "
        "name one of its scopes in the job's meta)",
        "site-e refused the job: disk full",
        "too few sites accepted the job to run it (num_ok_sites 1 < required_min_sites 2)",
    ]
    assert refusals({"job_deploy_detail": ["server: OK", "site-a: OK"]}) == []
    assert refusals({}) == []


def test_an_abandoned_job_says_why_and_how_to_go_on() -> None:
    assert abandoned_help("J", {"interrupted": "the hub's FL server stopped while the job ran (restarted 2026-12-07T17:00:00Z)"}) == (
        "job J ended FINISHED:ABANDONED: the hub's FL server stopped while the job ran (restarted 2026-12-07T17:00:00Z). NVFlare "
        "cannot resume a job after its server restarts. Its last global model (saved after every finished round) is its result: "
        "`flarectl download J`, then submit the job again starting from that model (its persistor's initial model) with the rounds left"
    )
    assert abandoned_help("J", {}).startswith("job J ended FINISHED:ABANDONED: the hub's FL server stopped while the job ran. ")
