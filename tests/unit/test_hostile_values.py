"""Hostile text in every free-text field of every site kind: the file is refused cleanly (one
line per problem naming the file and field, no traceback), or what is emitted stays inert
(every shell file parses, sourcing the settings runs nothing, the #SBATCH lines are exactly
the job's)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel

from flarectl.config.errors import ConfigError
from flarectl.federation import load_federation
from flarectl.sites.registry import KINDS
from tests.harness.config_cases import MINIMAL_SITES

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


# A nested section some other field must switch on, so its own checks are the ones tried; and
# the other ways a kind emits its files, tried with every text field too.
SWITCHED_ON_BY = {("slurm", "parent"): {"mode": "launcher"}}
VARIANTS: dict[str, list[dict[str, str]]] = {"slurm": [{}, {"mode": "launcher"}]}


def text_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Fields of a model that take text (or a list of text), nested sections as dotted paths."""
    fields = []
    for name, field in model.model_fields.items():
        annotation = str(field.annotation)
        nested = [arg for arg in get_args(field.annotation) if isinstance(arg, type) and issubclass(arg, BaseModel)]
        if nested:
            fields += text_fields(nested[0], f"{prefix}{name}.")
        elif name != "kind" and ("str" in annotation) and "dict" not in annotation:
            fields.append(prefix + name)
    return fields


CASES = [
    (kind, variant, field, value)
    for kind in sorted(MINIMAL_SITES)
    for variant in VARIANTS.get(kind, [{}])
    for field in text_fields(KINDS[kind].model)
    for value in HOSTILE
]


def hostile_site(kind: str, variant: dict[str, str], field: str, text: str) -> dict[str, Any]:
    site: dict[str, Any] = {"name": "lab", "kind": kind, **MINIMAL_SITES[kind], **variant}
    *sections, name = field.split(".")
    where = site
    for section in sections:
        site.update(SWITCHED_ON_BY.get((kind, section), {}))
        where = where.setdefault(section, {})
    where[name] = [text] if name in ("requirements", "extra_directives") else text
    return site


def sbatch_lines(folder: Path) -> list[str]:
    return [line for line in (folder / "flare-client.sbatch").read_text().splitlines() if line.startswith("#SBATCH")]


def test_every_kind_has_text_fields_to_try() -> None:
    assert {kind for kind, _, _, _ in CASES} == set(KINDS)
    assert {"name", "kit", "requirements", "parent.partition", "parent.time"} <= {field for kind, _, field, _ in CASES if kind == "slurm"}


IDS = [f"{k}{''.join('-' + m for m in variant.values())}-{f}-{HOSTILE.index(v)}" for k, variant, f, v in CASES]


@pytest.mark.parametrize(("kind", "variant", "field", "value"), CASES, ids=IDS)
def test_hostile_text_is_refused_or_inert(tmp_path: Path, kind: str, variant: dict[str, str], field: str, value: str) -> None:
    mark = tmp_path / "pwned"
    text = value.format(mark=mark)
    site = hostile_site(kind, variant, field, text)
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
        # sbatch reads each #SBATCH line as one option: the accepted text may add its own line
        # and change no other (compared with the same site without the field).
        lines = sbatch_lines(out)
        assert all(re.fullmatch(r"#SBATCH --[a-z-]+(=\S+)?", line) for line in lines), lines
        plain = tmp_path / "plain"
        without = hostile_site(kind, variant, field, "")
        *sections, name = field.split(".")
        where = without
        for section in sections:
            where = where[section]
        del where[name]
        path.write_text(yaml.safe_dump({"project": "p", "project_admin_email": "it@hospital.test", "sites": [without]}))
        plain_federation = load_federation(path)
        emit(plain_federation.sites[0], plain_federation, plain)
        assert set(sbatch_lines(plain)) <= set(lines) and len(lines) - len(sbatch_lines(plain)) in (0, 1), (lines, sbatch_lines(plain))
    if (out / "slurm.yaml").exists():
        from flarectl.sites.slurm import launcher_config

        config = yaml.safe_load((out / "slurm.yaml").read_text())
        assert config == launcher_config(federation.sites[0])  # type: ignore[arg-type]
        subprocess.run(["bash", "-c", config["parent"]["environment_setup"]], capture_output=True, cwd=tmp_path)  # parent.slurm runs it
    assert not mark.exists()
