"""Issue 32, power loss while the hub writes: a write stopped at each of its steps (the process
killed there, as kill -9 or a power cut does), then the next start. The dashboard's key and
certificate always match and are the old pair or the new one; a kit switch always leaves a
current kit that is whole. (Process-level: a real power cut also loses what the disk had not
written; these files are written with rename, which ext4 orders after the data.)"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from flarectl.host_scripts import HOSTS_DIR
from tests.harness.hub_harness import HUB_ENV


class PowerCut(BaseException):
    """Not an Exception: nothing in the code under test may catch it, as nothing catches SIGKILL."""


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(HOSTS_DIR / "hub"))
    for name, value in {**HUB_ENV, "FLARE_DATA": str(tmp_path / "data"), "FLARE_VENV": sys.prefix}.items():
        monkeypatch.setenv(name, value)
    hub_settings = importlib.import_module("hub_settings")
    return hub_settings.Hub.from_env()


def cut_power_at(step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The step-th rename or removal (from 0) never happens, nor anything after it."""
    calls = {"n": 0}
    replace, unlink = os.replace, Path.unlink

    def counted(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if calls["n"] == step:
                raise PowerCut
            calls["n"] += 1
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(os, "replace", counted(replace))
    monkeypatch.setattr(Path, "unlink", counted(unlink))


def pair(hub: Any) -> tuple[bytes, bytes]:
    """(the certificate's public key, the key's public key), both as DER."""
    certificate = x509.load_pem_x509_certificate((hub.cert_dir / "web.crt").read_bytes()).public_key()
    key = serialization.load_pem_private_key((hub.cert_dir / "web.key").read_bytes(), None).public_key()
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return certificate.public_bytes(*der), key.public_bytes(*der)


@pytest.mark.parametrize("step", range(7))
def test_a_certificate_install_cut_at_any_step_leaves_a_matching_pair(hub: Any, step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    certificates = importlib.import_module("hub_certificates")
    certificates.self_signed(hub)
    old = pair(hub)
    assert old[0] == old[1]
    cut_power_at(step, monkeypatch)
    try:
        certificates.self_signed(hub)  # a renewal installing a new pair
        completed = True
    except PowerCut:
        completed = False
    monkeypatch.undo()
    monkeypatch.syspath_prepend(str(HOSTS_DIR / "hub"))
    certificates.finish_certificate_install(hub)  # what the next start does first (ensure_certificate)
    now = pair(hub)
    assert now[0] == now[1], f"power cut at step {step}: the key does not match the certificate"
    assert completed is (step >= 6) and (now == old) is (step < 3), (step, completed)
    assert sorted(p.name for p in hub.cert_dir.iterdir()) == ["web.crt", "web.key"]


@pytest.mark.parametrize("step", range(3))
def test_a_kit_switch_cut_at_any_step_leaves_a_whole_current_kit(hub: Any, step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    kits = importlib.import_module("hub_kits")
    for kit in ("kit-a", "kit-b"):
        (hub.kits / kit / "startup").mkdir(parents=True)
        (hub.kits / kit / "startup" / "fed_server.json").write_text("{}")
    kits.switch_kit(hub, "kit-a")
    cut_power_at(step, monkeypatch)
    try:
        kits.switch_kit(hub, "kit-b")
    except PowerCut:
        pass
    monkeypatch.undo()
    current = hub.kits / "current"
    assert os.readlink(current) in ("kit-a", "kit-b") and (current / "startup" / "fed_server.json").exists()
    kits.switch_kit(hub, "kit-b")  # the next kit-sync installs it again
    assert (os.readlink(current), os.readlink(hub.kits / "previous")) in (("kit-b", "kit-a"), ("kit-b", "kit-b"))
