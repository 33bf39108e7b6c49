"""The site doctor (flarectl/hosts/client/flare-doctor.py through `flare-client.sh SETTINGS doctor`
and `flarectl site doctor`) against a real FL server, each fault made for real: a server name
that resolves to 127.0.1.1 (a private /etc/hosts in a mount namespace), a wrong port, a port
another service holds, a kit from another provisioning, an expired and an expiring client
certificate signed by the project's own root CA, a fake nvidia-smi with fewer GPUs or less
memory, and a venv with another NVFlare. Each is found with its message, and nothing else."""

from __future__ import annotations

import datetime
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from flarectl.host_scripts import HOSTS_DIR, render_settings_file
from tests.conftest import needs
from tests.harness.fake_nvidia_smi import fake_nvidia_smi as stand_in_nvidia_smi
from tests.harness.fake_nvidia_smi import nvflare_accepts
from tests.harness.hub_harness import Hub
from tests.harness.local import free_port
from tests.harness.provision import provision

RUNTIME = HOSTS_DIR / "client" / "flare-client.sh"
LINE = re.compile(r"^  (ok|PROBLEM|skipped) +(kit|federation|certificate|server name|port|tls|clock|gpus|nvflare|disk) +(.*)$")
ALL_CHECKS = {"kit", "certificate", "server name", "port", "tls", "clock", "gpus", "nvflare", "disk"}


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fl_port = free_port()
    workdir = tmp_path_factory.mktemp("provision")
    prod = provision(workdir, project="doctor", fl_port=fl_port, clients=["site-a"])
    foreign = provision(tmp_path_factory.mktemp("foreign"), project="doctor", fl_port=fl_port, clients=["site-a"])
    hub = Hub(tmp_path_factory.mktemp("hub"), {"PROJECT": "doctor", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
    hub.serve(prod / "localhost")
    try:
        yield {"prod": prod, "foreign": foreign, "state": workdir / "workspace" / "doctor" / "state", "port": fl_port}
    finally:
        hub.stop_all()


def site_copy(federation: dict, tmp_path: Path, kit: Path | None = None) -> Path:
    """A copy of site-a's kit that a test may change."""
    copy = tmp_path / "kit"
    shutil.copytree(kit or federation["prod"] / "site-a", copy)
    return copy


class Report:
    def __init__(self, code: int, out: str):
        self.code, self.out = code, out
        self.checks = {m[2]: (m[1], m[3]) for m in map(LINE.match, out.splitlines()) if m}

    def named(self, status: str) -> dict[str, str]:
        return {name: message for name, (found, message) in self.checks.items() if found == status}

    def problems(self) -> dict[str, str]:
        return self.named("PROBLEM")


def doctor(tmp_path: Path, kit: Path, *, path_prefix: str = "", wrap: list[str] | None = None, **settings: str) -> Report:
    """Runs `flare-client.sh client.env doctor` for site-a."""
    values = {"SITE_NAME": "site-a", "NVFLARE_VERSION": "2.9.0", "REQUIREMENTS": "", "GPUS": "0", "GPU_MEMORY_GIB": "0",
              "SITE_ROOT": str(tmp_path / "site"), "KIT_SOURCE": str(kit), "VENV": sys.prefix, **settings}  # fmt: skip
    env_file = tmp_path / "client.env"
    env_file.write_text(render_settings_file(values, about="doctor test"))
    env = {**os.environ, "PATH": f"{path_prefix}{os.environ['PATH']}"}
    result = subprocess.run(
        [*(wrap or []), "bash", str(RUNTIME), str(env_file), "doctor"], capture_output=True, text=True, env=env, timeout=120
    )
    return Report(result.returncode, result.stdout + result.stderr)


def test_a_healthy_site_passes_every_check(federation: dict, tmp_path: Path) -> None:
    report = doctor(tmp_path, federation["prod"] / "site-a")
    assert report.code == 0, report.out
    assert set(report.named("ok")) == ALL_CHECKS, report.out
    assert "verified localhost against the kit's root CA" in report.named("ok")["tls"]
    assert report.out.rstrip().endswith("Result: all checks passed.")


def test_a_server_name_on_a_loopback_address_is_found(federation: dict, tmp_path: Path) -> None:
    needs(shutil.which("unshare") is not None and os.geteuid() == 0, "needs root and unshare for a private /etc/hosts")
    kit = site_copy(federation, tmp_path)
    client = kit / "startup" / "fed_client.json"
    settings = json.loads(client.read_text())
    settings["servers"][0]["service"]["target"] = f"flare-hub.example:{federation['port']}"
    client.write_text(json.dumps(settings))
    hosts = tmp_path / "hosts"
    hosts.write_text(Path("/etc/hosts").read_text() + "127.0.1.1 flare-hub.example\n")
    script = f'mount --bind {hosts} /etc/hosts && exec "$@"'
    report = doctor(tmp_path, kit, wrap=["unshare", "-m", "sh", "-c", script, "doctor"])
    assert report.code == 1, report.out
    assert report.problems() == {
        "server name": "the server name flare-hub.example resolves to 127.0.1.1, a loopback address: this machine, not the hub. "
        "Remove flare-hub.example from /etc/hosts (Debian and Ubuntu map the machine's own name to 127.0.1.1) or fix DNS"
    }
    assert set(report.named("skipped")) == {"port", "tls", "clock"}


def test_a_wrong_port_is_found(federation: dict, tmp_path: Path) -> None:
    kit = site_copy(federation, tmp_path)
    client = kit / "startup" / "fed_client.json"
    client.write_text(client.read_text().replace(f"localhost:{federation['port']}", f"localhost:{free_port()}"))
    report = doctor(tmp_path, kit)
    assert report.code == 1
    assert list(report.problems()) == ["port"]
    assert "(refused): the kit's port must be the hub's fl_port" in report.problems()["port"]


def test_a_port_held_by_another_service_is_found(federation: dict, tmp_path: Path) -> None:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    other = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        kit = site_copy(federation, tmp_path)
        client = kit / "startup" / "fed_client.json"
        client.write_text(client.read_text().replace(f"localhost:{federation['port']}", f"localhost:{other.server_port}"))
        report = doctor(tmp_path, kit)
    finally:
        other.shutdown()
    assert report.code == 1
    assert list(report.problems()) == ["tls"]
    assert "but not as an NVFlare server" in report.problems()["tls"] and "another service holds the port" in report.problems()["tls"]


def test_a_kit_from_another_provisioning_is_found(federation: dict, tmp_path: Path) -> None:
    report = doctor(tmp_path, federation["foreign"] / "site-a")
    assert report.code == 1
    assert report.problems() == {
        "tls": f"the server on localhost:{federation['port']} has a certificate that this kit's root CA did not sign: the kit comes "
        "from another provisioning (another project, or a reset dashboard); download this site's kit again"
    }


def reissued_kit(federation: dict, tmp_path: Path, days: float) -> Path:
    """site-a's kit with a client certificate from the project's own root CA that ends in `days`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    state = json.loads((federation["state"] / "cert.json").read_text())
    root = x509.load_pem_x509_certificate(state["root_cert"].encode())
    root_key = serialization.load_pem_private_key(state["root_pri_key"].encode(), password=None)
    kit = site_copy(federation, tmp_path)
    old = x509.load_pem_x509_certificate((kit / "startup" / "client.crt").read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(root.subject)
        .public_key(old.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    (kit / "startup" / "client.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return kit


def test_an_expired_client_certificate_is_found(federation: dict, tmp_path: Path) -> None:
    report = doctor(tmp_path, reissued_kit(federation, tmp_path, days=-2))
    assert report.code == 1
    assert list(report.problems()) == ["kit"]
    assert (
        report.problems()["kit"].startswith("the client certificate expired on ")
        and "ask the Project Admin for a new kit" in report.problems()["kit"]
    )


def test_a_client_certificate_about_to_expire_is_a_warning(federation: dict, tmp_path: Path) -> None:
    report = doctor(tmp_path, reissued_kit(federation, tmp_path, days=10.5))
    assert report.code == 2, report.out
    assert report.problems() == {"certificate": "the client certificate expires in 10 days; get a new kit from the dashboard before then"}


def fake_nvidia_smi(tmp_path: Path, model: str, count: int) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(stand_in_nvidia_smi(model, count))
    (bin_dir / "nvidia-smi").chmod(0o755)
    return f"{bin_dir}:"


def assert_nvflare_agrees(found: tuple[str, int], registered: dict, fits: bool) -> None:
    """The doctor's rule is NVFlare's: its GPUResourceManager on the same stand-in agrees."""
    model, count = found
    if int(registered["GPUS"]) > count:
        return
    assert nvflare_accepts(model, count, int(registered["GPUS"]), float(registered["GPU_MEMORY_GIB"])) is fits


@pytest.mark.parametrize(
    ("registered", "found", "message"),
    [
        ({"GPUS": "2", "GPU_MEMORY_GIB": "15"}, ("T4", 1), "nvidia-smi shows 1 GPU(s), the site registered 2"),
        ({"GPUS": "1", "GPU_MEMORY_GIB": "16"}, ("T4", 1), "the smallest GPU reports 15360 MiB, the site registered 16 GiB per GPU (16384 MiB), "
                                                           "which NVFlare refuses: set gpu_memory_gib to at most 15"),
        ({"GPUS": "1", "GPU_MEMORY_GIB": "15"}, ("T4", 1), None),  # a T4 reports 15360 MiB: 15 GiB exactly
        ({"GPUS": "1", "GPU_MEMORY_GIB": "22.5"}, ("A10G", 1), "the smallest GPU reports 23028 MiB"),
        ({"GPUS": "1", "GPU_MEMORY_GIB": "22.4"}, ("L4", 1), None),
        ({"GPUS": "2", "GPU_MEMORY_GIB": "40"}, ("A100-40GB", 2), None),
    ],
)  # fmt: skip
def test_gpus_are_checked_against_what_the_site_registered(
    federation: dict, tmp_path: Path, registered: dict, found: list[str], message: str | None
) -> None:
    report = doctor(tmp_path, federation["prod"] / "site-a", path_prefix=fake_nvidia_smi(tmp_path, *found), **registered)
    assert_nvflare_agrees(found, registered, message is None)
    if message is None:
        assert report.code == 0 and report.problems() == {}, report.out
    else:
        assert report.code == 2
        assert list(report.problems()) == ["gpus"] and report.problems()["gpus"].startswith(message)


def test_a_venv_with_another_nvflare_is_found(federation: dict, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = next(venv.glob("lib/python*/site-packages"))
    (site_packages / "nvflare-2.8.0.dist-info").mkdir()
    (site_packages / "nvflare-2.8.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: nvflare\nVersion: 2.8.0\n")
    report = doctor(tmp_path, federation["prod"] / "site-a", VENV=str(venv))
    assert report.code == 2
    assert report.problems() == {"nvflare": f"the venv {venv} has NVFlare 2.8.0, the federation runs 2.9.0: run the site's setup again"}


def test_flarectl_site_doctor_checks_a_downloaded_zip_before_setup(federation: dict, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "site-a"), "zip", federation["prod"], "site-a")
    result = subprocess.run([sys.executable, "-m", "flarectl", "site", "doctor", "--kit", archive, "--workdir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Site doctor for the site the kit names" in result.stdout
    assert "client.crt for site-a, signed by the kit's root CA" in result.stdout
    assert "Result: all checks passed." in result.stdout


def test_flarectl_site_doctor_takes_the_registered_gpus_and_version_from_the_federation_file(federation: dict, tmp_path: Path) -> None:
    kit = federation["prod"] / "site-a"
    port = int(json.loads((kit / "startup" / "fed_client.json").read_text())["servers"][0]["service"]["target"].rpartition(":")[2])
    config = tmp_path / "federation.yaml"
    config.write_text(
        f"project: doctor\nproject_admin_email: it@hospital.test\nhub: {{fl_port: {port}}}\nsites:\n"
        f"  - {{name: site-a, kind: linux, kit: {kit}, workdir: /srv/site-a, gpus: 2, gpu_memory_gib: 16}}\n"
    )
    command = [sys.executable, "-m", "flarectl", "site", "doctor", "--kit", str(kit), "--workdir", str(tmp_path)]
    result = subprocess.run([*command, "-c", str(config), "--site", "site-a", "--venv", sys.prefix], capture_output=True, text=True,
                            env={**os.environ, "PATH": fake_nvidia_smi(tmp_path, "T4", 1) + os.environ["PATH"]})  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    report = Report(result.returncode, result.stdout)
    assert list(report.problems()) == ["gpus"] and report.problems()["gpus"].startswith("nvidia-smi shows 1 GPU(s), the site registered 2")
    assert report.named("ok")["nvflare"] == f"NVFlare 2.9.0 in {sys.prefix}"
    assert report.named("ok")["federation"] == f"dials localhost:{port}, as the federation file says"

    # --site defaults, as its help says, to the site the kit was made for.
    result = subprocess.run([*command, "-c", str(config)], capture_output=True, text=True, timeout=120)
    assert "Site doctor for site-a" in result.stdout, result.stdout + result.stderr
    result = subprocess.run([*command, "-c", str(config), "--site", "site-b"], capture_output=True, text=True)
    assert result.returncode == 2 and "no site 'site-b' in" in result.stderr

    # A kit for another hub's port: found before anything else, as a connection problem.
    config.write_text(config.read_text().replace(f"fl_port: {port}", f"fl_port: {port + 1}"))
    result = subprocess.run([*command, "-c", str(config)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert Report(1, result.stdout).problems()["federation"] == (
        f"the kit dials localhost:{port}, the federation file names localhost:{port + 1}: "
        "a kit from another project or hub; download this site's kit from its dashboard"
    )


def test_a_kit_path_that_does_not_exist_is_named_as_missing(tmp_path: Path) -> None:
    missing = tmp_path / "kits" / "site-a"
    result = subprocess.run([sys.executable, "-m", "flarectl", "site", "doctor", "--kit", str(missing), "--workdir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 1
    assert Report(1, result.stdout).problems()["kit"] == (
        f"{missing} does not exist: unzip the site's startup kit there, or point --kit at the folder or zip"
    )


def test_a_dashboard_zip_needs_its_pin(federation: dict, tmp_path: Path) -> None:
    """The dashboard's kits are zips protected with the PIN it shows (zip -P, as the dashboard makes them)."""
    archive = tmp_path / "site-a.zip"
    subprocess.run(["zip", "-rq", "-P", "1234abcd", str(archive), "."], cwd=federation["prod"] / "site-a", check=True)
    command = [sys.executable, "-m", "flarectl", "site", "doctor", "--kit", str(archive), "--workdir", str(tmp_path)]
    locked = subprocess.run(command, input="", capture_output=True, text=True, timeout=120)  # no PIN given
    assert locked.returncode == 1
    refused = (f"{archive} is protected by the PIN the dashboard showed, and no PIN or another one was given: type it when asked, "
               "or give it as one line on standard input")  # fmt: skip
    assert Report(1, locked.stdout).problems() == {"kit": refused}
    wrong = subprocess.run(command, input="9999zzzz\n", capture_output=True, text=True, timeout=120)
    assert Report(1, wrong.stdout).problems() == {"kit": refused}
    # The PIN on standard input (or the terminal), never an argument `ps` shows to every user.
    opened = subprocess.run(command, input="1234abcd\n", capture_output=True, text=True, timeout=120)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    on_argv = subprocess.run([*command, "--zip-password", "1234abcd"], capture_output=True, text=True, timeout=120)
    assert on_argv.returncode == 2 and "unrecognized arguments: --zip-password 1234abcd" in on_argv.stderr


def test_a_zip_with_a_path_out_of_its_folder_is_refused_before_anything_is_unpacked(federation: dict, tmp_path: Path) -> None:
    """The doctor unpacks a zip into scratch space with the same safe unzip as every other reader
    of a kit (startup_kit.extract): a member such as ../x is refused and nothing is written."""
    import zipfile

    archive = tmp_path / "site-a.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in (federation["prod"] / "site-a").rglob("*"):
            if path.is_file():
                bundle.write(path, str(path.relative_to(federation["prod"] / "site-a")))
        bundle.writestr("../../../escaped-by-the-doctor", "x")
    command = [sys.executable, "-m", "flarectl", "site", "doctor", "--kit", str(archive), "--workdir", str(tmp_path)]
    refused = subprocess.run(command, input="", capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert Report(1, refused.stdout).problems() == {
        "kit": f"{archive}: the kit has an unsafe path '../../../escaped-by-the-doctor'; not unpacked; download this site's kit from its dashboard again"
    }
    assert (
        not list(Path(tempfile.gettempdir()).parent.glob("escaped-by-the-doctor"))
        and not (tmp_path.parent / "escaped-by-the-doctor").exists()
    )
