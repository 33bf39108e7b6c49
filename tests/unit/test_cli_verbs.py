"""The CLI's verbs: exactly these, each with help (a regrouping must not drop one)."""

from __future__ import annotations

import argparse

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
