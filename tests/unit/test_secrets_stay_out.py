"""No emitted file refers to a secret's value: not the outputs (readable by anyone who can
describe a stack), not tags, user data, assets, the lead kit or the picture. A dynamic
reference ({{resolve:secretsmanager:...}}) is resolved by CloudFormation into whatever holds
it, so it counts as the value."""

from __future__ import annotations

import tempfile
from pathlib import Path

import aws_cdk as cdk
import pytest

from app import build_app
from tests.harness.synth_fixtures import CDK_JSON_CONTEXT, DNS, federation

VALUE_FORMS = ("{{resolve:secretsmanager", "{{resolve:ssm-secure", '"SecretString":')


def emitted_files(fed) -> dict[str, str]:
    outdir = Path(tempfile.mkdtemp(prefix="cdk-secrets-"))
    app = cdk.App(outdir=str(outdir), context=CDK_JSON_CONTEXT)
    build_app(fed, app=app)
    app.synth()
    files = {}
    for path in outdir.rglob("*"):
        if path.is_file():
            files[str(path.relative_to(outdir))] = path.read_bytes().decode("utf-8", errors="replace")
    return files


@pytest.fixture(scope="module")
def files(client_federation) -> dict[str, str]:
    everything = emitted_files(client_federation)
    everything |= {f"dns/{k}": v for k, v in emitted_files(federation(dns=DNS, certificate={"mode": "letsencrypt"})).items()}
    provided = federation(certificate={"mode": "provided", "secret_name": "it/flareboard-cert"})
    everything |= {f"provided/{k}": v for k, v in emitted_files(provided).items()}
    return everything


def test_no_emitted_file_refers_to_a_secret_value(files: dict[str, str]) -> None:
    assert any(name.endswith("FlareServerStack.template.json") for name in files)  # the hub was synthesized
    found = sorted((name, form) for name, text in files.items() for form in VALUE_FORMS if form in text)
    assert found == []


def test_the_secret_is_named_by_the_templates_never_resolved(files: dict[str, str]) -> None:
    """The hub reads the secret at run time by its name; the template only names it."""
    hub = next(text for name, text in files.items() if name == "FlareServerStack.template.json")
    assert '"cancer-fl/dashboard-admin"' in hub
