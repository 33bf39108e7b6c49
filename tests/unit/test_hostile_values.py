"""Hostile text in every free-text field of every site kind: the file is refused cleanly (one
line per problem naming the file and field, no traceback), or what is emitted stays inert
(every shell file parses, sourcing the settings runs nothing, the #SBATCH lines are exactly
the job's)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from flarectl.config.errors import ConfigError
from flarectl.config.federation import load_federation
from flarectl.sites.registry import KINDS
from tests.unit.test_config import MINIMAL_SITES

HOSTILE = [
    "x\ny",
    "--qos=x\n#SBATCH --uid=0",
    "$(touch {mark})",
    "`touch {mark}`",
    "a'; touch {mark}; echo '",
    '"; touch {mark}; "',
    "../../../etc/passwd",
    "/srv/../../etc",
    "ｓｉｔｅ",  # full-width look-alikes
    "a" * 5000,
]


def text_fields(kind: str) -> list[str]:
    """Fields of a kind's model that take text (or a list of text)."""
    model = KINDS[kind].model
    fields = []
    for name, field in model.model_fields.items():
        annotation = str(field.annotation)
        if name != "kind" and ("str" in annotation) and "dict" not in annotation:
            fields.append(name)
    return fields


CASES = [(kind, field, value) for kind in sorted(MINIMAL_SITES) for field in text_fields(kind) for value in HOSTILE]


def test_every_kind_has_text_fields_to_try() -> None:
    assert {kind for kind, _, _ in CASES} == set(KINDS)
    assert {"name", "kit", "requirements"} <= {field for kind, field, _ in CASES if kind == "slurm"}


@pytest.mark.parametrize(("kind", "field", "value"), CASES, ids=[f"{k}-{f}-{i}" for k, f, v in CASES for i in [HOSTILE.index(v)]])
def test_hostile_text_is_refused_or_inert(tmp_path: Path, kind: str, field: str, value: str) -> None:
    mark = tmp_path / "pwned"
    text = value.format(mark=mark)
    site: dict[str, Any] = {"name": "lab", "kind": kind, **MINIMAL_SITES[kind]}
    site[field] = [text] if field in ("requirements", "extra_directives") else text
    path = tmp_path / "federation.yaml"
    path.write_text(yaml.safe_dump({"project": "p", "project_admin_email": "it@hospital.test", "sites": [site]}))
    try:
        federation = load_federation(path)
    except ConfigError as error:
        assert error.problems and all(problem.startswith("federation.yaml: ") and "\n" not in problem for problem in error.problems)
        assert all(len(problem) < 600 for problem in error.problems)
        return
    emit = KINDS[kind].emit
    if emit is None:
        return  # a CloudFormation kind: its settings reach the host through the shell-quoted renderer (tests/unit/test_lint.py)
    out = tmp_path / "out"
    emit(federation.sites[0], federation, out)
    for script in out.glob("*.sh"):
        assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0, script.name
    if (out / "client.env").exists():
        subprocess.run(["bash", "-c", f'set -eu; . "{out / "client.env"}"'], capture_output=True, cwd=tmp_path)
    if (out / "flare-client.sbatch").exists():
        from flarectl.sites.slurm import directives

        lines = [line for line in (out / "flare-client.sbatch").read_text().splitlines() if line.startswith("#SBATCH")]
        assert lines == [f"#SBATCH {d}" for d in directives(federation.sites[0])]  # type: ignore[arg-type]
    assert not mark.exists()
