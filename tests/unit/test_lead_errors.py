"""`flarectl download` of a failed job: each site's errors, or why a site's log cannot be had.
The live path (a Lead of the sites' org reading their job logs) runs against a real federation
in tests/integration/test_client_runtime.py; here the refusal a site of another organization
gives, as NVFlare's Flare API raises it (fuel/flare_api/flare_api.py: AuthorizationError for a
NOT_AUTHORIZED reply), and a site that is offline."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from nvflare.fuel.flare_api.api_spec import AuthorizationError

from flarectl.lead import job_sites, say_errors, site_job_logs


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
        "  other-org: no job log here: the site's policy does not let you read its files (its governance shell_commands; NVFlare's "
        "default: users of the site's own organization): ask its Org Admin for <the site's workspace>/J/log.txt",
        "  own-lab:",
        "    ValueError: no column 'age' in site.csv",
        "  server:",
        "    2026-12-07 12:15:32,220 - WFCommServer - ERROR - Client own-lab is deemed disconnected!",
    ]


class Refusing:
    """A Session whose system info cannot be had (the server is restarting)."""

    def get_system_info(self) -> SimpleNamespace:
        raise ConnectionError("server restarting")


def test_the_sites_of_a_job_are_its_participants_else_its_deploy_map() -> None:
    session = Session({"a": "", "b": "", "c": ""})
    kept = {"job_clients": [{"name": "b"}, {"name": "a"}, {"name": "b"}, {"name": ""}, "x"], "deploy_map": {"app": ["c"]}}
    assert job_sites(session, kept) == ["a", "b"]  # once each, sorted; entries without a name ignored
    assert job_sites(session, {"job_clients": [], "deploy_map": {"app": ["server", "c"], "app2": ["a", 7]}}) == ["a", "c"]
    assert job_sites(session, {"deploy_map": {"app": ["@ALL"]}}) == ["a", "b", "c"]  # every client connected now
    assert job_sites(Refusing(), {"deploy_map": {"app": ["@ALL", "d"]}}) == ["d"]
    assert job_sites(session, {}) == []


def test_a_sites_log_is_read_once_and_an_empty_answer_or_a_nameless_error_is_said() -> None:
    calls: list[str] = []

    class Counting(Session):
        def cat_target(self, target: str, options: str | None = None, file: str | None = None) -> str:
            calls.append(f"{target}:{file}")
            return super().cat_target(target, options, file)

    session = Counting({"kept": "never asked", "empty": "  \n", "nameless": RuntimeError(), "odd": None})  # type: ignore[dict-item]
    logs: dict = {"logs": {"kept": "already here"}, "unavailable": {"empty": "an earlier reason"}}
    site_job_logs(session, "J", {"job_clients": [{"name": n} for n in ("kept", "empty", "nameless", "odd")]}, logs)
    assert calls == ["empty:J/log.txt", "nameless:J/log.txt", "odd:J/log.txt"]
    assert logs == {
        "logs": {"kept": "already here"},
        "unavailable": {
            "empty": "the site holds no log for the job",
            "nameless": "reading it from the site failed (RuntimeError): ask its Org Admin for <the site's workspace>/J/log.txt",
            "odd": "the site answered: None",
        },
    }


def test_a_log_that_arrives_replaces_an_earlier_reason() -> None:
    logs: dict = {"unavailable": {"lab": "an earlier reason"}}
    site_job_logs(Session({"lab": "2026 - x - ERROR - boom\n"}), "J", {"job_clients": [{"name": "lab"}]}, logs)
    assert logs == {"logs": {"lab": "2026 - x - ERROR - boom\n"}, "unavailable": {}}


def test_each_site_shows_reports_then_exceptions_then_its_last_three_error_lines_at_most_eight_once_each() -> None:
    log = "\n".join([
        "t - a - INFO - KeyError: 'label'",
        *[f"t - a - ERROR - step {n} failed" for n in range(5)],
        "t - a - CRITICAL - " + "x" * 400,
        "t - a - INFO - KeyError: 'label'",
    ])  # fmt: skip
    reported = {"lab": ["runner: task failed", "runner: task failed"], "quiet": []}
    logs = {"logs": {"lab": log, "empty": "nothing to see\n"}}
    said: list[str] = []
    say_errors("J", "FINISHED:EXECUTION_EXCEPTION", reported, logs, said.append)
    assert said == [
        "job J ended FINISHED:EXECUTION_EXCEPTION; errors by site:",
        "  empty: no errors reported",
        "  lab:",
        "    reported: runner: task failed",
        "    KeyError: 'label'",
        "    t - a - ERROR - step 3 failed",
        "    t - a - ERROR - step 4 failed",
        "    " + ("t - a - CRITICAL - " + "x" * 400)[:300],
        "  quiet: no errors reported",
    ]


def test_more_than_eight_lines_are_cut_to_the_first_eight() -> None:
    reported = {"lab": [f"r{n}" for n in range(12)]}
    said: list[str] = []
    say_errors("J", "FAILED", reported, {}, said.append)
    assert said[2:] == [f"    reported: r{n}" for n in range(8)]


def test_all_means_every_connected_client_besides_the_ones_named() -> None:
    assert job_sites(Session({"a": "", "b": ""}), {"deploy_map": {"app": ["@ALL"], "extra": ["d"]}}) == ["a", "b", "d"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (AuthorizationError("no"), "the site's policy does not let you read its files"),
        (ConnectionError("gone"), "reading it from the site failed (gone)"),
        ({"error": "x" * 300}, "the site answered: {'error': '" + "x" * 186),  # 200 characters of the answer
        ("", "the site holds no log for the job"),
    ],
)
def test_each_reason_is_kept_when_none_was_kept_before(answer: object, reason: str) -> None:
    logs: dict = {}
    site_job_logs(Session({"lab": answer}), "J", {"job_clients": [{"name": "lab"}]}, logs)  # type: ignore[dict-item]
    assert logs["logs"] == {} and list(logs["unavailable"]) == ["lab"] and logs["unavailable"]["lab"].startswith(reason)
    if isinstance(answer, dict):
        assert logs["unavailable"]["lab"] == "the site answered: " + str(answer)[:200]


def test_a_log_read_with_no_reason_kept_before_is_kept() -> None:
    logs: dict = {}
    site_job_logs(Session({"lab": "t - a - ERROR - boom\n"}), "J", {"job_clients": [{"name": "lab"}]}, logs)
    assert logs == {"logs": {"lab": "t - a - ERROR - boom\n"}}
