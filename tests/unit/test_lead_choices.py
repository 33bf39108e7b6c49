"""flarectl/lead.py's choices, each with its boundary: which admin startup kit a Lead's verb
uses, and which folder counts as a job (issue 34). Temporary folders only; NVFlare is not asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from flarectl import lead
from flarectl.lead import LeadError


def admin_kit(folder: Path) -> Path:
    (folder / "startup").mkdir(parents=True)
    (folder / "startup" / "fed_admin.json").write_text("{}")
    return folder


def test_kit_given_with_tilde_is_expanded_and_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    kit = admin_kit(tmp_path / "kits" / "lead@h.org")
    assert lead.find_kit("~/kits/../kits/lead@h.org", poc=False) == kit


def test_a_given_kit_without_fed_admin_json_is_refused_naming_the_flag(tmp_path: Path) -> None:
    (tmp_path / "startup").mkdir()
    (tmp_path / "startup" / "fed_client.json").write_text("{}")  # a site's kit, not an admin's
    with pytest.raises(LeadError) as error:
        lead.find_kit(str(tmp_path), poc=False)
    assert str(error.value) == "no admin startup kit found in --kit; download yours from the dashboard, unzip it there, or pass --kit PATH"


def test_without_kit_the_only_one_under_nvflare_home_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    kit = admin_kit(tmp_path / ".nvflare" / "cancer-fl" / "lead@h.org")
    (tmp_path / ".nvflare" / "cancer-fl" / "notes").mkdir()  # not a kit: ignored
    assert lead.find_kit(None, poc=False) == kit


def test_without_kit_none_or_two_under_nvflare_home_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(LeadError) as none:
        lead.find_kit(None, poc=False)
    assert str(none.value) == (
        "no admin startup kit found in ~/.nvflare/<project>/<user>; download yours from the dashboard, unzip it there, or pass --kit PATH"
    )
    first = admin_kit(tmp_path / ".nvflare" / "a-fl" / "lead@h.org")
    second = admin_kit(tmp_path / ".nvflare" / "b-fl" / "lead@h.org")
    with pytest.raises(LeadError) as two:
        lead.find_kit(None, poc=False)
    assert str(two.value) == f"several admin startup kits in ~/.nvflare/<project>/<user>: {first}, {second}; choose one with --kit PATH"


def test_poc_uses_the_admin_kit_of_the_poc_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lead, "poc_workspace", lambda: tmp_path)
    kit = admin_kit(tmp_path / "example_project" / "prod_00" / "admin@nvidia.com")
    admin_kit(tmp_path / "example_project" / "prod_00" / "site-1")  # a site folder is not an admin@ folder
    assert lead.find_kit(None, poc=True) == kit


def test_poc_without_an_admin_kit_names_the_poc_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lead, "poc_workspace", lambda: tmp_path)
    with pytest.raises(LeadError) as error:
        lead.find_kit(None, poc=True)
    assert str(error.value) == (
        f"no admin startup kit found in the POC workspace {tmp_path} (nvflare poc prepare); download yours from the dashboard, "
        "unzip it there, or pass --kit PATH"
    )


def job(folder: Path, *, meta: str = "meta.json", configs: tuple[str, ...] = ("config_fed_client.conf",)) -> Path:
    (folder / "app" / "config").mkdir(parents=True)
    if meta:
        (folder / meta).write_text("{}")
    for name in configs:
        (folder / "app" / "config" / name).write_text("{}")
    return folder


@pytest.mark.parametrize("meta", ["meta.json", "meta.conf"])
@pytest.mark.parametrize("configs", [("config_fed_client.conf",), ("config_fed_server.json",), ("config_fed_client.json", "x.txt")])
def test_a_job_folder_has_meta_and_an_app_with_a_client_or_server_config(tmp_path: Path, meta: str, configs: tuple[str, ...]) -> None:
    lead.check_job_folder(job(tmp_path / "job", meta=meta, configs=configs))


def test_a_relative_job_path_resolves_against_the_leads_directory_not_the_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job(tmp_path / "jobs" / "fedavg")
    monkeypatch.chdir(tmp_path / "jobs")
    assert lead.job_folder("fedavg") == tmp_path / "jobs" / "fedavg"
    assert lead.job_folder("./fedavg/../fedavg") == tmp_path / "jobs" / "fedavg"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert lead.job_folder("~/jobs/fedavg") == tmp_path / "jobs" / "fedavg"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda f: f.with_name("missing"), "{f} is not a folder; pass the job folder (with meta.json or meta.conf)"),
        (lambda f: job(f, meta=""), "{f} has no meta.json or meta.conf; is it a job folder? (nvflare job create makes one)"),
        (lambda f: (f.mkdir(), (f / "meta.json").write_text("{}"), f)[2],
         "{f} has no app folder with a config/ folder (e.g. app/config/config_fed_client.conf)"),
        (lambda f: job(f, configs=("config_fed_admin.json",)), "{f}/app/config has neither config_fed_client nor config_fed_server (.json or .conf)"),
    ],
)  # fmt: skip
def test_what_is_not_a_job_folder_is_said_with_the_fix(tmp_path: Path, make, problem: str) -> None:
    folder = make(tmp_path / "job")
    with pytest.raises(LeadError) as error:
        lead.check_job_folder(folder)
    assert str(error.value) == problem.format(f=folder)
