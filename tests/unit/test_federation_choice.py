"""Which federation file a command reads when none is named (flarectl/config/choice.py), and the
embedded default's stacks refusing to deploy (flare_constructs/review_only.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from flarectl.config import DEFAULT_FEDERATION
from flarectl.config.choice import MEMORY_VARIABLE, Choice, chosen, is_embedded_default, remember


@pytest.fixture
def memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "remembered"
    monkeypatch.setenv(MEMORY_VARIABLE, str(path))
    return path


def test_nothing_named_or_remembered_is_the_embedded_default_for_review(memory: Path) -> None:
    choice = chosen(None)
    assert (choice.path, choice.embedded_default) == (DEFAULT_FEDERATION, True)
    assert choice.why == "the embedded default, review only: its stacks refuse to deploy (name your file with -c config=FILE)"


def test_a_named_file_is_remembered_for_the_next_command_that_names_none(memory: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("project: p\n")
    assert chosen(str(mine)) == Choice(mine, "named on the command line")
    remember(mine)
    assert memory.read_text() == f"{mine.resolve()}\n"
    again = chosen(None)
    assert (again.path, again.embedded_default) == (mine.resolve(), False)
    assert again.why == f"remembered in {memory} from an earlier -c config= (name another file to change it)"


def test_a_path_in_a_symlink_loop_is_not_the_embedded_default(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    assert is_embedded_default(tmp_path / "a.yaml") is False


def test_the_embedded_default_is_never_remembered_over_a_real_file(memory: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("project: p\n")
    remember(mine)
    remember(DEFAULT_FEDERATION)  # `make synth CONFIG=flarectl/federation.yaml`, say
    assert chosen(None).path == mine.resolve()


def test_a_remembered_file_that_is_gone_falls_back_to_the_default(memory: Path, tmp_path: Path) -> None:
    memory.write_text(f"{tmp_path / 'deleted.yaml'}\n")
    assert chosen(None).path == DEFAULT_FEDERATION


def rules(template: Template) -> dict:
    return template.to_json().get("Rules", {})


def test_the_embedded_defaults_stacks_refuse_to_deploy(default_template: Template, client_template_without_kit: Template) -> None:
    for template in (default_template, client_template_without_kit):
        rule = next(r for name, r in rules(template).items() if name.startswith("ReviewOnly"))
        (assertion,) = rule["Assertions"]
        parameter = next(name for name in template.to_json()["Parameters"] if name.startswith("ReviewOnlyFederationFile"))
        assert assertion["Assert"] == {"Fn::Equals": [{"Ref": parameter}, "yours"]}
        assert template.to_json()["Parameters"][parameter]["Default"] == "embedded-default"
        assert assertion["AssertDescription"].startswith(
            "This template is the embedded default federation (federation.yaml), for review only."
        )


def test_a_real_federations_stacks_have_no_such_rule(dns_template: Template, client_template: Template) -> None:
    for template in (dns_template, client_template):
        assert not [name for name in rules(template) if name.startswith("ReviewOnly")]


def test_the_azure_readme_names_the_federation_file_in_every_command(tmp_path: Path) -> None:
    """An Org Admin who runs the README's commands word for word reads the site's own file, not
    the embedded default."""
    from flarectl.federation import load_federation
    from flarectl.sites.azure import emit

    path = tmp_path / "onc-federation.yaml"
    path.write_text("project: onc\nproject_admin_email: it@hospital.test\nsites:\n- {name: onc-az, kind: azure, location: westeurope}\n")
    federation = load_federation(path)
    emit(federation.sites[0], federation, tmp_path / "out")
    readme = (tmp_path / "out" / "README.md").read_text()
    commands = [line for line in readme.splitlines() if "`flarectl azure " in line]
    assert len(commands) == 4 and all("-c onc-federation.yaml`" in line for line in commands), commands


@pytest.mark.parametrize(("kind", "fields", "runs_on"), [
    ("linux", {"kit": "/srv/k", "workdir": "/srv/w"}, "this machine"),
    ("wsl", {"kit": "/home/a/k", "workdir": "/home/a/w"}, "the laptop"),
    ("slurm", {"kit": "/s/k", "workdir": "/s/w"}, "every compute node the job may run on"),
])  # fmt: skip
def test_site_readmes_say_how_to_get_the_files_and_what_the_site_needs(tmp_path: Path, kind: str, fields: dict, runs_on: str) -> None:
    from flarectl.federation import load_federation
    from flarectl.sites.registry import KINDS

    path = tmp_path / "onc-federation.yaml"
    site = ", ".join(f"{key}: {value}" for key, value in {"name": "lab-1", "kind": kind, **fields}.items())
    path.write_text("project: onc\nproject_admin_email: it@hospital.test\n"
                    "dns: {hosted_zone_id: Z0123456789ABCDEFGHIJ, zone_name: onc.example.org, dashboard_name: board.onc.example.org, "
                    "server_name: fl.onc.example.org}\n" f"sites:\n- {{{site}}}\n")  # fmt: skip
    federation = load_federation(path)
    emit = KINDS[kind].emit
    assert emit is not None
    emit(federation.sites[0], federation, tmp_path / "out")
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "`flarectl site-files lab-1 -c onc-federation.yaml -o DIR`" in readme
    assert f"`flarectl kit install <zip> --to {fields['kit']}`" in readme
    assert f"- Network, from {runs_on}" in readme and "outbound TCP to the FL server, fl.onc.example.org:8002" in readme
    assert f"owns `{fields['workdir']}`" in readme
    assert ("Compute nodes without internet access" in readme) == (kind == "slurm")
