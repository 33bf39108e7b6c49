"""Every value in the federation file arrives exactly as written, or is refused cleanly: with
generated values (valid and hostile) for every field that reaches a host file, the real
parser of that file (bash here; systemd and sbatch in the integration tier) must read back
exactly the value the file holds. DNS names arrive in DNS's own canonical form (lower case,
no final dot)."""

from __future__ import annotations

import os
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flarectl.client_runtime import client_settings, cloud_layout, folder_layout
from flarectl.config.errors import ConfigError
from flarectl.config.governance import Stance
from flarectl.config.sites import CloudSite, FolderSite
from flarectl.federation import Federation, load_federation
from flarectl.host_scripts import render_settings_file
from flarectl.hub_env import hub_env, hub_settings
from flarectl.sites.slurm import RESERVED_OPTIONS, SBATCH_OPTIONS
from tests.harness.values import (
    DEPLOY_NAMES,
    Text,
    accepted,
    bash_reads,
    hub_sections,
    load_or_problems,
    one_field_hostile,
    text_like,
    write_federation,
    written,
)


@settings(max_examples=300)
@given(data=hub_sections())
def test_hub_env_reads_back_in_bash_exactly_as_the_file_wrote_it(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        loaded = accepted(Path(directory), data)
        if loaded is None:
            return
        expected = written(data, loaded)
        assert set(hub_settings(loaded, **DEPLOY_NAMES)) == set(expected)
        assert bash_reads(hub_env(loaded, **DEPLOY_NAMES), sorted(expected), Path(directory)) == expected


FOLDER_KINDS = ("slurm", "linux", "wsl")


PATHS = ("/shared/nvflare/site-1", "/srv/n@v+f_l.a-re")
CLIENT_TEXT = {
    "name": Text("site-1", "Onco-Lab-7"),
    "kit": Text(*(path + "-kit" for path in PATHS)),
    "workdir": Text(*PATHS),
    "venv": Text("/opt/venvs/flare"),
    "python": Text("python3", "/usr/bin/python3.11"),
    "requirement": Text("torch==2.5.1", "scipy>=1.11,<2", 'pandas; python_version >= "3.10"'),
}


@st.composite
def client_site(draw: st.DrawFn) -> dict[str, Any]:
    v = draw(one_field_hostile(CLIENT_TEXT))
    site: dict[str, Any] = {"name": v["name"], "requirements": [v["requirement"]]}
    if draw(st.booleans()):
        return {**site, "kind": "azure", "location": "eastus"}
    site |= {"kind": draw(st.sampled_from(FOLDER_KINDS)), "kit": v["kit"], "workdir": v["workdir"]}
    optional = draw(st.sets(st.sampled_from(["venv", "python"])))
    return site | {name: v[name] for name in optional}


@settings(max_examples=300)
@given(site=client_site())
def test_client_env_reads_back_in_bash_exactly_as_the_file_wrote_it(site: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        loaded = accepted(Path(directory), {"project": "p", "project_admin_email": "a@b.org", "sites": [site]})
        if loaded is None:
            return
        parsed = loaded.sites[0]
        layout = folder_layout(parsed) if isinstance(parsed, FolderSite) else cloud_layout("kit")
        assert isinstance(parsed, FolderSite | CloudSite)
        settings = client_settings(parsed, "2.9.0", layout, Stance.of())
        back = bash_reads(render_settings_file(settings, about="test"), sorted(settings), Path(directory))
        assert back == settings
        assert back["SITE_NAME"] == site["name"]
        assert back["REQUIREMENTS"].split("\n") == (site.get("requirements") or [""])
        if isinstance(parsed, FolderSite):
            assert (back["SITE_ROOT"], back["KIT_SOURCE"]) == (site["workdir"], site["kit"])
            assert back["VENV"] == site.get("venv", f"{site['workdir']}/venv")
            assert back["PYTHON"] == site.get("python", "python3")


@given(value=st.one_of(st.text(max_size=30), text_like("cancer-fl", "Onco FL (3 sites)", "0o17", "1e3", "yes", "~", "2024-01-01")))
def test_text_reaches_the_model_as_yaml_and_json_write_it(value: str) -> None:
    """The loader reads YAML 1.2: a quoted string (JSON's) arrives as that string, whatever it
    looks like; text no field takes is refused with the file and the field named."""
    with tempfile.TemporaryDirectory() as directory:
        loaded = load_or_problems(write_federation(Path(directory), {"project": "p", "project_admin_email": "a@b.org",
                                                                     "dashboard": {"description": value}}))  # fmt: skip
        if isinstance(loaded, list):
            assert any(line.startswith("federation.yaml: dashboard.description") or "line 1" in line for line in loaded), loaded
        else:
            assert loaded.dashboard.description == value


# --- the loader: YAML 1.2 and what no file may be --------------------------------------------


def problems_of(tmp_path: Path, text: str | bytes) -> list[str]:
    path = tmp_path / "federation.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(ConfigError) as caught:
        load_federation(path)
    return caught.value.problems


HEAD = "project: cancer-fl\nproject_admin_email: a@b.org\n"


@pytest.mark.parametrize(
    ("written_as", "port", "handover"), [("010002", 10002, 600), ("10002", 10002, 600), ("0o23422", 10002, 600), ("0x2712", 10002, 600)]
)
def test_numbers_are_read_as_yaml_1_2_writes_them(tmp_path: Path, written_as: str, port: int, handover: int) -> None:
    path = tmp_path / "federation.yaml"
    path.write_text(HEAD + f"hub: {{fl_port: {written_as}}}\nsites:\n- {{name: hpc, kind: slurm, kit: /s/k, workdir: /s/w, "
                    "mode: allocation, handover_seconds: 0600}\n")  # fmt: skip
    federation = load_federation(path)
    assert (federation.hub.fl_port, federation.sites[0].handover_seconds) == (port, handover)


@pytest.mark.parametrize(("written_as", "problem"), [
    ("freeze: yes", "federation.yaml: dashboard.freeze: 'yes': input should be a valid boolean"),
    ("freeze: on", "federation.yaml: dashboard.freeze: 'on': input should be a valid boolean"),
    ("title: 2024-01-01", None),
    ("title: 1:30", None),
])  # fmt: skip
def test_yaml_1_1_words_and_numbers_stay_text(tmp_path: Path, written_as: str, problem: str | None) -> None:
    text = HEAD + f"dashboard: {{{written_as}}}\n"
    if problem:
        assert problems_of(tmp_path, text) == [problem]
    else:
        (tmp_path / "f.yaml").write_text(text)
        assert load_federation(tmp_path / "f.yaml").dashboard.title == written_as.split(": ", 1)[1]


def test_merge_keys_share_settings_between_sites(tmp_path: Path) -> None:
    path = tmp_path / "federation.yaml"
    path.write_text(HEAD + "x-lab: &lab {kind: linux, gpus: 2, gpu_memory_gib: 22, requirements: [torch==2.5.1]}\nsites:\n"
                    "- {<<: *lab, name: lab-a, kit: /srv/a-kit, workdir: /srv/a}\n"
                    "- {<<: *lab, name: lab-b, kit: /srv/b-kit, workdir: /srv/b, gpus: 1}\n")  # fmt: skip
    sites = load_federation(path).sites
    assert [(s.name, s.kind, s.gpus, s.gpu_memory_gib, s.requirements) for s in sites] == [
        ("lab-a", "linux", 2, 22.0, ["torch==2.5.1"]), ("lab-b", "linux", 1, 22.0, ["torch==2.5.1"])]  # fmt: skip


def test_a_key_written_twice_is_still_refused_beside_a_merge(tmp_path: Path) -> None:
    text = HEAD + "x-a: &a {gpus: 1}\nsites:\n- {<<: *a, name: s, kind: linux, kit: /k, workdir: /w, name: t}\n"
    assert problems_of(tmp_path, text) == ["federation.yaml: line 5: the key 'name' appears twice in one mapping; keep one"]


@pytest.mark.parametrize(("text", "problem"), [
    (HEAD + "project_x: " + "[" * 100 + "]" * 100, "federation.yaml: line 3: values nested more than 32 deep; a federation file needs a handful"),
    (HEAD.replace("cancer-fl", "cancer-fl\x00"), "federation.yaml: line 1: the character U+0000 is not allowed in YAML; remove it (a stray control character?)"),
    (HEAD.replace("cancer-fl", "cancer-fl\x1a"), "federation.yaml: line 1: the character U+001A is not allowed in YAML; remove it (a stray control character?)"),
    (HEAD.replace("cancer-fl", '"cancer\\uFFFEfl"'), "federation.yaml: project: has the character U+FFFE, a line break or control character no field takes; write the value on one line, in plain text"),
    (HEAD.replace("cancer-fl", '"cancer-fl\\n"'), "federation.yaml: project: has the character U+000A, a line break or control character no field takes; write the value on one line, in plain text"),
    (HEAD + '"bad\\u202ekey": 1\n', "federation.yaml: top level: the key 'bad\\u202ekey' has the character U+202E, a line break or control character no field takes; write the value on one line, in plain text"),
    # Found by the systemd property test: PyYAML folds a raw NEL inside quoted text into a space.
    (HEAD + 'dashboard: {description: "B\x85reast"}\n', "federation.yaml: line 3: the character U+0085 (a Unicode line break) is not allowed; remove it"),
    (HEAD + "dashboard: {description: B\u2029reast}\n", "federation.yaml: line 3: the character U+2029 (a Unicode line break) is not allowed; remove it"),
    (HEAD + "hub: !!binary aGk=\n", "federation.yaml: line 3: the YAML tag 'tag:yaml.org,2002:binary' is not supported here; write a plain value"),
])  # fmt: skip
def test_what_no_federation_file_holds_is_refused_in_one_line(tmp_path: Path, text: str, problem: str) -> None:
    assert problems_of(tmp_path, text) == [problem]


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_only_a_regular_file_is_read(tmp_path: Path, kind: str) -> None:
    path = {"fifo": tmp_path / "federation.yaml", "device": Path("/dev/zero"), "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # nothing ever writes to it: reading would wait for ever
    with pytest.raises(ConfigError) as caught:
        load_federation(path)
    assert caught.value.problems == [f"{path.name}: not a regular file; pass the federation file itself (a .yaml file)"]


def test_a_kit_path_longer_than_the_system_allows_is_refused(tmp_path: Path) -> None:
    kit = "/" + "/".join(["é" * 120] * 17)  # 2056 characters, 4097 bytes: over PATH_MAX
    path = tmp_path / "federation.yaml"
    path.write_text(HEAD + f"sites:\n- {{name: s, kind: aws, gpu_memory_gib: 15, kit: {kit}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_federation(path)
    assert caught.value.problems == [
        f"federation.yaml: sites[0].kit: {kit[:40]!r}... is longer than a path can be (at most 4095 bytes, 255 per folder name)"
    ]


# --- kinds of values: ASCII grammars, matched in full ------------------------------------------

LOOKALIKE_DIGITS = ["０", "٣", "৩", "๓"]  # fullwidth, Arabic-Indic, Bengali, Thai: `\d` in Unicode regexes


@pytest.mark.parametrize("digit", LOOKALIKE_DIGITS)
@pytest.mark.parametrize(("section", "field", "template"), [
    ("", "nvflare_version", "2.9.{d}"),
    ("aws", "account", "12345678901{d}"),
    ("aws", "region", "us-west-{d}"),
    ("slurm", "time", "1-0{d}:00:00"),
    ("slurm", "memory", "3{d}G"),
    ("slurm", "gres", "gpu:a40:{d}"),
])  # fmt: skip
def test_look_alike_digits_are_not_digits(tmp_path: Path, digit: str, section: str, field: str, template: str) -> None:
    value = template.format(d=digit)
    if section == "slurm":
        data = {"sites": [{"name": "hpc", "kind": "slurm", "kit": "/s/k", "workdir": "/s/w", field: value}]}
        where = f"sites[0].{field}"
    elif section == "aws":
        data = {"aws": {"account": "123456789012", "region": "us-west-2", field: value}}
        where = f"aws.{field}"
    else:
        data, where = {field: value}, field
    found = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org", **data}))
    assert isinstance(found, list) and any(line.startswith(f"federation.yaml: {where}: ") for line in found), found


@pytest.mark.parametrize(("value", "ok"), [("2.9.0", True), ("2.10.1rc2", True), ("02.9.0", False), ("2.09.0", False), ("2.9", False)])
def test_nvflare_version_is_an_exact_release_without_leading_zeros(tmp_path: Path, value: str, ok: bool) -> None:
    found = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org", "nvflare_version": value}))
    assert isinstance(found, list) != ok, found


@pytest.mark.parametrize(("value", "ok"), [
    ("it@hospital.example.org", True), ("obrien+fl@hospital.example.org", True), ("first.last@sub.example.co.uk", True),
    ("o'brien@hospital.example.org", False), ("a$b@x.org", False),  # RFC 5322 allows them; NVFlare's admin names do not
    ("a\\b@x.org", False), ("$(reboot)@x.org", False), ('"a b"@x.org', False), ("a@x.local", False), ("a@bücher.ch", False),
    ("a@[127.0.0.1]", False), ("no-at-sign", False), ("a@b", False),
])  # fmt: skip
def test_emails_are_what_email_validator_and_nvflare_accept(tmp_path: Path, value: str, ok: bool) -> None:
    found = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": value}))
    assert isinstance(found, list) != ok, found
    if not ok:
        assert found[0].startswith("federation.yaml: project_admin_email: "), found


@pytest.mark.parametrize(("value", "ok"), [
    ("https://acme-v02.api.letsencrypt.org/directory", True), ("https://127.0.0.1:14000/dir", True), ("https://acme.zerossl.com/v2/DV90", True),
    ("", False), ("http://acme.example.org/directory", False), ("acme.example.org", False), ("https://", False),
    ("https://a b/dir", False), ("https://x.org:99999/dir", False), ("https://x.org/dir?q='1'", False), ("https://-x.org/", False),
])  # fmt: skip
def test_the_acme_server_is_an_https_url(tmp_path: Path, value: str, ok: bool) -> None:
    found = load_or_problems(
        write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org", "certificate": {"acme_server": value}})
    )
    assert isinstance(found, list) != ok, found


@pytest.mark.parametrize(("value", "ok"), [
    ("it/flareboard-cert", True), ("a+b=c.d@e_f-g", True), ("x" * 512, True),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:it/cert-AbCdEf", False), ("it cert", False), ("", False), ("x" * 513, False),
])  # fmt: skip
def test_a_provided_certificate_secret_is_a_secrets_manager_name(tmp_path: Path, value: str, ok: bool) -> None:
    certificate = {"mode": "provided", "secret_name": value}
    found = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org", "certificate": certificate}))
    assert isinstance(found, list) != ok, found


def test_a_dns_name_is_at_most_253_characters(tmp_path: Path) -> None:
    zone = ".".join(["z" * 60] * 4)  # 243 characters
    dns = {"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "zone_name": zone, "dashboard_name": f"board.{zone}", "server_name": f"fl.{zone}"}
    found = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org", "dns": dns}))
    assert found == [
        f"federation.yaml: dns.dashboard_name: {('board.' + zone)[:40]!r}... is 249 characters; a DNS name has at most 253"
    ] or (isinstance(found, Federation))
    longer = {**dns, "dashboard_name": f"dashboard-0123456.{zone}"}
    found = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org", "dns": longer}))
    assert found == [
        f"federation.yaml: dns.dashboard_name: {longer['dashboard_name'][:40]!r}... is 261 characters; a DNS name has at most 253"
    ]


@pytest.mark.parametrize("value", ["203.0.113.7", "203.0.113.0/024", "2001:db8::/32", "203.0.113.1/24"])
def test_a_cidr_is_written_as_a_block(tmp_path: Path, value: str) -> None:
    found = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org", "hub": {"fl_cidrs": [value]}}))
    assert isinstance(found, list) and found[0].startswith("federation.yaml: hub.fl_cidrs: "), found


# --- sbatch abbreviations --------------------------------------------------------------------


def test_every_reserved_option_is_an_sbatch_option() -> None:
    assert RESERVED_OPTIONS <= SBATCH_OPTIONS


@pytest.mark.parametrize("option", sorted(RESERVED_OPTIONS))
def test_no_abbreviation_of_a_reserved_option_passes(tmp_path: Path, option: str) -> None:
    for length in range(1, len(option) + 1):
        prefix = option[:length]
        site = {"name": "hpc", "kind": "slurm", "kit": "/s/k", "workdir": "/s/w", "extra_directives": [f"--{prefix}=1"]}
        found = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org", "sites": [site]}))
        assert isinstance(found, list) and found[0].startswith("federation.yaml: sites[0].extra_directives: "), (prefix, found)


@pytest.mark.parametrize(("directive", "ok"), [("--constraint=a40", True), ("--comment=x", True), ("--nice=10", True),
                                               ("--constr=a40", False), ("--co=x", False), ("--ex", False)])  # fmt: skip
def test_other_options_are_written_in_full(tmp_path: Path, directive: str, ok: bool) -> None:
    site = {"name": "hpc", "kind": "slurm", "kit": "/s/k", "workdir": "/s/w", "extra_directives": [directive]}
    found = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org", "sites": [site]}))
    assert isinstance(found, list) != ok, found


def test_ascii_letters_only_in_names() -> None:
    assert string.ascii_letters.isascii()


# --- emitted YAML, read by the loader its reader uses ------------------------------------------

SLURM_TEXT = {
    "partition": Text("gpu", "a100.q"),
    "account": Text("onc_lab", "p-123"),
    "qos": Text("normal", "long"),
    "time": Text("1-00:00:00", "10:00", "90", "2-12", "08:00:00"),
    "parent_time": Text("7-00:00:00", "12:00:00", "600"),
}


@settings(max_examples=200)
@given(v=one_field_hostile(SLURM_TEXT))
def test_slurm_yaml_reads_back_in_nvflare_s_loader_as_the_file_wrote_it(v: dict[str, str]) -> None:
    """NVFlare's `deploy prepare` reads slurm.yaml with PyYAML's safe_load (YAML 1.1, where an
    unquoted 10:00 is the number 600): every value must come back as the text written."""
    import yaml

    from flarectl.sites.slurm import emit

    site = {"name": "hpc", "kind": "slurm", "kit": "/s/k", "workdir": "/s/w", "mode": "launcher", "partition": v["partition"],
            "account": v["account"], "qos": v["qos"], "time": v["time"], "parent": {"time": v["parent_time"]}}  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        loaded = accepted(Path(directory), {"project": "p", "project_admin_email": "a@b.org", "sites": [site]})
        if loaded is None:
            return
        emit(loaded.sites[0], loaded, Path(directory) / "out")
        config = yaml.safe_load((Path(directory) / "out" / "slurm.yaml").read_text())
    job = {"partition": v["partition"], "account": v["account"], "qos": v["qos"], "time": v["time"]}
    assert config["job_launcher"]["sbatch_directives"] == job
    assert config["parent"]["sbatch_directives"] == {"account": v["account"], "time": v["parent_time"]}


@pytest.mark.parametrize(("name", "ok"), [("cancer-fl", True), ("a" * 16, True), ("a" * 17, False), ("breast-cancer-histology", False)])
def test_a_project_name_is_what_the_dashboard_keeps(tmp_path: Path, name: str, ok: bool) -> None:
    """NVFlare's dashboard cuts short_name to 16 (Store.set_project): a longer name would never
    match the frozen project the hub compares it with."""
    found = load_or_problems(write_federation(tmp_path, {"project": name, "project_admin_email": "a@b.org"}))
    assert isinstance(found, list) != ok, found
    if not ok:
        assert found == [f"federation.yaml: project: {name!r} is {len(name)} characters; NVFlare's dashboard keeps only the first 16 "
                         f"of a project name, so use at most 16 (e.g. {name[:16].rstrip('-_')!r})"]  # fmt: skip


def test_the_dashboard_really_cuts_a_project_name_at_16() -> None:
    """The rule's source, read from the pinned NVFlare: set_project keeps short_name[:16]."""
    import inspect

    from nvflare.dashboard.application.store import Store

    source = inspect.getsource(Store.set_project)
    assert "len(short_name) > 16" in source and "short_name = short_name[:16]" in source


@pytest.mark.parametrize(("instance_type", "arch"), [("a1.large", "arm64"), ("t4g.small", "arm64"), ("c7gn.xlarge", "arm64"),
                                                     ("t3.medium", "amd64"), ("g6f.xlarge", "amd64"), ("m7i.large", "amd64")])  # fmt: skip
def test_the_hub_image_matches_the_graviton_generation_too(tmp_path: Path, instance_type: str, arch: str) -> None:
    """a1 (the first Graviton) has no 'g' in its family name but is arm64 all the same."""
    federation = load_or_problems(write_federation(tmp_path, {"project": "p", "project_admin_email": "a@b.org",
                                                              "hub": {"instance_type": instance_type},
                                                              "capacity": {"model_mb": 10}}))  # fmt: skip  # a t4g.small holds that
    assert isinstance(federation, Federation)
    assert (federation.hub.arch, federation.hub.ami_parameter.split("/")[-4]) == (arch, arch)
