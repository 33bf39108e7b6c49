"""Fixtures the Azure site's unit tests share."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.harness.fake_arm import FakeArm


@pytest.fixture
def arm() -> FakeArm:
    return FakeArm()


@pytest.fixture
def azure_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No socket, no DefaultAzureCredential, no subscription from the environment: the SDK
    clients talk to the fake ARM only."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a test tried to open a network connection")

    def no_default_credential(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("DefaultAzureCredential must not be built in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", no_default_credential)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
