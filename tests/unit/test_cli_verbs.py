"""The CLI's verbs: exactly these, each with help (a regrouping must not drop one)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from flarectl.cli import main as flarectl

VERBS = {
    "validate", "summary", "server-kit", "picture", "site-files",  # Project Admin, review
    "federation",  # Project Admin: status
    "hub",  # Project Admin: restore-plan
    "site",  # Org Admin: doctor
    "site-kit",  # Org Admin: fetch
    "kit",  # Lead and Org Admin: install a kit zip from the dashboard
    "azure",  # a kind's own verbs
    "submit", "jobs", "abort", "download", "status",  # Lead
}  # fmt: skip


def subcommands(monkeypatch: pytest.MonkeyPatch) -> dict[str, argparse.ArgumentParser]:
    captured: dict[str, argparse.ArgumentParser] = {}
    original = argparse.ArgumentParser.parse_args

    def capture(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> argparse.Namespace:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                captured.update(action.choices)
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(SystemExit):
        flarectl([])
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", original)
    return captured


def test_the_cli_has_exactly_its_verbs(monkeypatch: pytest.MonkeyPatch) -> None:
    verbs = subcommands(monkeypatch)
    assert set(verbs) == VERBS
    nested = {name: set(next(a for a in verbs[name]._actions if isinstance(a, argparse._SubParsersAction)).choices)
              for name in ("federation", "site", "site-kit")}  # fmt: skip
    assert nested == {"federation": {"status"}, "site": {"doctor"}, "site-kit": {"fetch"}}
    azure_actions = next(a for a in verbs["azure"]._actions if a.dest == "action")
    assert set(azure_actions.choices or ()) == {"plan", "deploy", "destroy"}


@pytest.mark.parametrize(
    "verb", sorted(VERBS - {"federation", "site", "site-kit", "azure"}) + ["federation status", "site doctor", "site-kit fetch"]
)
def test_every_verb_answers_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        flarectl([*verb.split(), "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: flarectl {verb}")


# What a Lead's verbs must not load: the federation model (pydantic, PyYAML), the site kinds, a
# cloud SDK. NVFlare itself is imported only once a verb talks to the server.
HEAVY = ("pydantic", "yaml", "flarectl.sites", "flarectl.federation", "azure", "boto3", "botocore", "nvflare", "aws_cdk")


@pytest.mark.parametrize("argv", [["submit", "/no/such/job", "--kit", "/no/such/kit"], ["jobs", "--kit", "/no/such/kit"]])
def test_a_leads_verb_loads_neither_the_model_nor_the_kinds_nor_an_sdk(argv: list[str]) -> None:
    script = (
        "import sys\nfrom flarectl.cli import main\ncode = main(sys.argv[1:])\n"
        f"print(sorted({{m.split('.')[0] if not m.startswith('flarectl') else m for m in sys.modules}} & set({HEAVY!r})))\n"
        "sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr  # the kit is not there: a mistake to fix, said in one line
    assert done.stderr.startswith("flarectl: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_verb_whose_extra_is_missing_names_the_extra_in_one_line(tmp_path: Path) -> None:
    # `flarectl azure` in an install without flarectl[azure] (the Lead's): the Azure SDK is hidden
    # from the import system, as in a venv that never installed it.
    federation = tmp_path / "federation.yaml"
    federation.write_text("project: p\nproject_admin_email: it@hospital.test\nsites:\n"
                          "  - {name: onc-az, kind: azure, location: eastus, subscription_id: 00000000-0000-0000-0000-000000000000}\n")  # fmt: skip
    script = (
        "import sys\nsys.modules['azure'] = None\nfrom flarectl.cli import main\n"
        "sys.exit(main(['azure', 'plan', 'onc-az', '-c', sys.argv[1]]))"
    )
    done = subprocess.run([sys.executable, "-c", script, str(federation)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == (
        "flarectl: `flarectl azure` needs flarectl[azure]: pip install 'flarectl[azure]' (azure.core is not installed)\n"
    )
