"""Snapshots of every synthesized template: a reviewer sees each change to what deploys.

Update deliberately with `make test PYTEST_ARGS="--snapshot-update"` and review the diff.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.harness.templates import ASSET_HASH


def stable(template: Template) -> Any:
    """The template with asset hashes masked (they change with unrelated file edits)."""
    data = template.to_json()
    data.get("Resources", {}).pop("CDKMetadata", None)
    return json.loads(ASSET_HASH.sub("<asset-hash>", json.dumps(data, sort_keys=True)))


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_default_federation_hub(default_template: Template, snapshot_json: SnapshotAssertion) -> None:
    assert stable(default_template) == snapshot_json


def test_hub_with_dns_and_letsencrypt(dns_template: Template, snapshot_json: SnapshotAssertion) -> None:
    assert stable(dns_template) == snapshot_json


def test_hub_in_an_existing_vpc(existing_vpc_template: Template, snapshot_json: SnapshotAssertion) -> None:
    assert stable(existing_vpc_template) == snapshot_json


def test_hub_adopting_what_an_earlier_hub_kept(restore_template: Template, snapshot_json: SnapshotAssertion) -> None:
    assert stable(restore_template) == snapshot_json


def test_no_cdk_metadata_or_analytics(default_template: Template) -> None:
    assert default_template.find_resources("AWS::CDK::Metadata") == {}


def test_client_site_with_kit(client_template: Template, snapshot_json: SnapshotAssertion) -> None:
    assert stable(client_template) == snapshot_json


def test_client_site_without_kit(client_template_without_kit: Template, snapshot_json: SnapshotAssertion) -> None:
    assert stable(client_template_without_kit) == snapshot_json
