"""`flarectl download` of a failed job: each site's errors, or why a site's log cannot be had.
The live path (a Lead of the sites' org reading their job logs) runs against a real federation
in tests/integration/test_client_runtime.py; here the refusal a site of another organization
gives, as NVFlare's Flare API raises it (fuel/flare_api/flare_api.py: AuthorizationError for a
NOT_AUTHORIZED reply), and a site that is offline."""

from __future__ import annotations

from types import SimpleNamespace

from nvflare.fuel.flare_api.api_spec import AuthorizationError

from flarectl.lead import say_errors, site_job_logs


class Session:
    """Answers what NVFlare 2.9's Session answers for these calls."""

    def __init__(self, answers: dict[str, Exception | str]):
        self.answers = answers

    def cat_target(self, target: str, options: str | None = None, file: str | None = None) -> str:
        answer = self.answers[target]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get_system_info(self) -> SimpleNamespace:
        return SimpleNamespace(client_info=[SimpleNamespace(name=name) for name in self.answers])


def test_each_site_says_its_errors_or_why_its_log_cannot_be_read() -> None:
    session = Session({
        "own-lab": "2026-12-07 12:14:19,033 - ExternalProcessBackend - INFO - ValueError: no column 'age' in site.csv\n",
        "other-org": AuthorizationError("user not authorized for the action 'cat other-org J/log.txt: '"),
        "offline": ConnectionError("site offline"),
    })  # fmt: skip
    logs: dict = {"logs": {"server": "2026-12-07 12:15:32,220 - WFCommServer - ERROR - Client own-lab is deemed disconnected!\n"}}
    site_job_logs(session, "J", {"deploy_map": {"app": ["@ALL"]}}, logs)
    said: list[str] = []
    say_errors("J", "FINISHED:EXECUTION_EXCEPTION", {}, logs, said.append)
    assert said == [
        "job J ended FINISHED:EXECUTION_EXCEPTION; errors by site:",
        "  offline: no job log here: reading it from the site failed (site offline): ask its Org Admin for <the site's "
        "workspace>/J/log.txt",
        "  other-org: no job log here: the site lets only Leads of its own organization read its files (its authorization.json; "
        "NVFlare's default shell_commands o:site): ask its Org Admin for <the site's workspace>/J/log.txt",
        "  own-lab:",
        "    ValueError: no column 'age' in site.csv",
        "  server:",
        "    2026-12-07 12:15:32,220 - WFCommServer - ERROR - Client own-lab is deemed disconnected!",
    ]
