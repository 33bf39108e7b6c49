"""Issue 34: each kind of value's grammar (flarectl/config/fields.py) at its boundaries, with
the exact message a user reads. Literal expectations: the boundary on each side and the words."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from flarectl.config import fields
from flarectl.config.hub import graviton


def refusal(kind: Any, value: Any) -> str | None:
    """The message the field gives `value` (None: accepted as written)."""

    class Holder(BaseModel):
        model_config = {"strict": True}
        field: kind

    try:
        accepted = Holder(field=value).field
    except ValidationError as error:
        return str(error.errors()[0]["ctx"]["error"]) if "ctx" in error.errors()[0] else error.errors()[0]["msg"]
    assert accepted == value or isinstance(value, int), (accepted, value)
    return None


@pytest.mark.parametrize(
    ("value", "message"),
    [("python3", None), ("/usr/bin/python3.11", None), ("/opt/conda/envs/fl@2/bin/python+x", None),
     ("python", "'python': use python3 (from PATH) or an absolute path to Python >= 3.10"),
     ("PYTHON3", "'PYTHON3': use python3 (from PATH) or an absolute path to Python >= 3.10"),
     ("usr/bin/python3", "'usr/bin/python3': use python3 (from PATH) or an absolute path to Python >= 3.10"),
     ("/usr/bin/../bin/python3", "'/usr/bin/../bin/python3' is not an absolute python path of letters, digits and _ . / @ + -; use e.g. /usr/bin/python3.11"),
     ("/usr/bin/..", "'/usr/bin/..' is not an absolute python path of letters, digits and _ . / @ + -; use e.g. /usr/bin/python3.11"),
     ("/usr/bin/python 3", "'/usr/bin/python 3' is not an absolute python path of letters, digits and _ . / @ + -; use e.g. /usr/bin/python3.11"),
     ("/usr/bin/..python3", None)],
)  # fmt: skip
def test_an_interpreter_is_python3_or_an_absolute_path(value: str, message: str | None) -> None:
    assert refusal(fields.Interpreter, value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [("203.0.113.0/24", None), ("0.0.0.0/0", None), ("198.51.100.7/32", None),
     ("198.51.100.7", "'198.51.100.7' is one address, not a CIDR block; write 198.51.100.7/32"),
     ("203.0.113.1/24", "'203.0.113.1/24' is not a CIDR block; write it like 203.0.113.0/24 or 198.51.100.7/32"),
     ("example.org", "'example.org' is not a CIDR block; write it like 203.0.113.0/24 or 198.51.100.7/32"),
     ("2001:db8::/32", "'2001:db8::/32' is IPv6; only IPv4 CIDR blocks are supported"),
     ("2001:db8::1", "'2001:db8::1' is one address, not a CIDR block; write 2001:db8::1/32"),
     ("203.0.113.0/024", "'203.0.113.0/024' is not written as a CIDR block; write it like 203.0.113.0/24 or 198.51.100.7/32"),
     ("203.0.113.0/255.255.255.0", "'203.0.113.0/255.255.255.0' is not written as a CIDR block; write it like 203.0.113.0/24 or 198.51.100.7/32")],
)  # fmt: skip
def test_a_cidr_block_is_an_ipv4_address_slash_prefix(value: str, message: str | None) -> None:
    assert refusal(fields.Cidr, value) == message


def test_a_cidr_list_is_not_empty_and_checks_each() -> None:
    assert refusal(fields.CidrList, []) == "the list is empty; nobody could connect. Use 0.0.0.0/0 for everyone"
    assert refusal(fields.CidrList, ["10.0.0.0/8", "10.0.0.1"]) == "'10.0.0.1' is one address, not a CIDR block; write 10.0.0.1/32"


@pytest.mark.parametrize(("value", "refused"), [("10.0.0.0/8", False), ("10.0.0.0/9", False), ("10.0.0.0/7", True), ("0.0.0.0/0", True)])
def test_ssh_is_open_to_at_most_a_slash_8(value: str, refused: bool) -> None:
    message = refusal(fields.SshCidr, value)
    assert message == (
        f"{value!r} opens SSH to the internet; use your admin network (e.g. 203.0.113.0/24), or leave it unset and use SSM Session Manager"
        if refused
        else None
    )


def test_a_dns_name_has_at_most_253_characters() -> None:
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253
    assert len(longest) == 253 and refusal(fields.DnsName, longest) is None
    assert refusal(fields.DnsName, longest + "e") == f"{(longest + 'e')[:40]!r}... is 254 characters; a DNS name has at most 253"


@pytest.mark.parametrize(
    ("value", "message"),
    [(["numpy"], None), (["torch==2.5.1", "scipy>=1.11,<2"], None),
     (["torch @ https://example.org/t.whl"], "'torch @ https://example.org/t.whl': install from the package index (name and version), not from a URL"),
     (["numpy\r"], "'numpy\\r' is not a pip requirement; write it like torch==2.5.1 or 'scipy>=1.11,<2'"),
     (["numpy; python_version > '3'\n"], "\"numpy; python_version > '3'\\n\" is not a pip requirement; write it like torch==2.5.1 or 'scipy>=1.11,<2'"),
     (["-r other.txt"], "'-r other.txt' is not a pip requirement; write it like torch==2.5.1 or 'scipy>=1.11,<2'")],
)  # fmt: skip
def test_requirements_come_from_the_index_one_per_entry(value: list[str], message: str | None) -> None:
    assert refusal(fields.Requirements, value) == message


@pytest.mark.parametrize(
    ("value", "refused"), [(1.5, False), (16, False), (True, True), (float("inf"), True), (float("nan"), True), ("16", True)]
)
def test_gib_is_a_finite_figure_and_a_whole_number_becomes_one(value: Any, refused: bool) -> None:
    class Holder(BaseModel):
        model_config = {"strict": True}
        gib: fields.GiB

    if refused:
        with pytest.raises(ValidationError):
            Holder(gib=value)
    else:
        held = Holder(gib=value).gib
        assert held == value and type(held) is float


@pytest.mark.parametrize(
    ("value", "message"),
    [("admin@hospital.test", None), ("first.last+fl@example.org", None),
     ("admïn@hospital.test", "'admïn@hospital.test': write the address in ASCII (an international domain in its xn-- form)"),
     ("a&b@hospital.test", "'a&b@hospital.test': NVFlare takes only letters, digits and . _ % + - before the @ (its admin names, nvflare/apis/utils/format_check.py); use another address"),
     ("admin@nowhere.invalid", "'admin@nowhere.invalid' is not an email address: The part after the @-sign is a special-use or reserved name that cannot be used with email.")],
)  # fmt: skip
def test_an_email_is_what_email_validator_and_nvflare_both_take(value: str, message: str | None) -> None:
    assert refusal(fields.EmailAddress, value) == message


@pytest.mark.parametrize(
    ("value", "ok"),
    [("https://acme.test", True), ("https://acme.test:1/dir", True), ("https://acme.test:65535/dir", True), ("https://acme.test:0/dir", False),
     ("https://acme.test:65536/dir", False), ("https://[::1]:14000/dir", True), ("https://127.0.0.1:14000/dir", True),
     ("https://[acme.test]/dir", False), ("https://[::1.2.3.4]/dir", True), ("https://" + "a" * 60 + "." + "b" * 60 + "/" + "c" * 1918, True),
     ("https://" + "a" * 60 + "." + "b" * 60 + "/" + "c" * 1919, False), ("https://-acme.test/", False), ("http://acme.test/", False)],
)  # fmt: skip
def test_an_https_url_names_a_host_and_a_port_of_1_to_65535(value: str, ok: bool) -> None:
    assert refusal(fields.HttpsUrl, value) == (
        None if ok else f"{value!r} is not an https URL; write it like https://acme-v02.api.letsencrypt.org/directory"
    )
    assert len("https://" + "a" * 60 + "." + "b" * 60 + "/" + "c" * 1918) == 2048


@pytest.mark.parametrize(
    ("value", "message"),
    [("cancer-fl/dashboard-admin", None), ("a" * 512, None), ("ARN:aws", "'ARN:aws' is not a Secrets Manager secret name; use 1-512 letters, digits and / _ + = . @ -"),
     ("arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf", "'arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf' is an ARN; give the secret's name (the part after 'secret:', without the 6-character suffix)"),
     ("a" * 513, f"{'a' * 513!r} is not a Secrets Manager secret name; use 1-512 letters, digits and / _ + = . @ -"),
     ("café", "'café' is not a Secrets Manager secret name; use 1-512 letters, digits and / _ + = . @ -"),
     ("Big/Name", None)],
)  # fmt: skip
def test_a_secret_name_is_secrets_managers(value: str, message: str | None) -> None:
    assert refusal(fields.SecretName, value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [("2.7.0", None), ("2.9.0rc1", None), ("3.0.0", None),
     ("2.6.9", "'2.6.9' is too old; use NVFlare 2.7 or newer (one port for FL and admin)"),
     ("2.9", "'2.9' is not an exact NVFlare release; pin one like \"2.9.0\" (quoted)"),
     ("２.9.0", "'２.9.0' is not an exact NVFlare release; pin one like \"2.9.0\" (quoted)")],
)  # fmt: skip
def test_an_nvflare_version_is_an_exact_release_from_2_7(value: str, message: str | None) -> None:
    assert refusal(fields.NvflareVersion, value) == message


def test_a_local_path_is_one_line_and_fits_the_system() -> None:
    assert fields.check_local_path("/srv/kits/site-a " + "\x7e", "kit") == "/srv/kits/site-a ~"  # space and ~ are printable
    for control in ("\x1f", "\x7f", "\n"):
        with pytest.raises(ValueError, match=r"has a control character \(a line break\?\); write the kit path on one line"):
            fields.check_local_path(f"/srv/kits/a{control}b", "kit")
    assert fields.check_local_path("/" + "a" * fields.NAME_MAX, "kit")
    with pytest.raises(
        ValueError, match=rf"is longer than a path can be \(at most {fields.PATH_MAX} bytes, {fields.NAME_MAX} per folder name\)"
    ):
        fields.check_local_path("/" + "a" * (fields.NAME_MAX + 1), "kit")
    at_most = ("/" + "a" * 200) * (fields.PATH_MAX // 201)
    at_most += "/" + "b" * (fields.PATH_MAX - len(at_most) - 1)
    assert len(at_most.encode()) == fields.PATH_MAX and fields.check_local_path(at_most, "kit")
    with pytest.raises(ValueError, match="is longer than a path can be"):
        fields.check_local_path(at_most + "c", "kit")
    assert fields.check_local_path("/srv/\udcff", "kit")  # an undecodable byte as os.fsdecode gives it counts as one byte


@pytest.mark.parametrize(
    ("value", "message"),
    [("cancer-fl", None), ("a" * 16, None),
     ("a" * 17, None)],
)  # fmt: skip
def test_a_project_name_is_a_name_of_at_most_16(value: str, message: str | None) -> None:
    found = refusal(fields.ProjectName, value)
    if len(value) <= 16:
        assert found is None
    else:
        assert found is not None and f"so use at most 16 (e.g. {'a' * 16!r})" in found, found


def test_a_name_is_at_most_40_and_says_what_it_names() -> None:
    assert fields.check_name("a" * 40, "project name") == "a" * 40
    for bad in ("a" * 41, "-a"):
        with pytest.raises(ValueError) as caught:
            fields.check_name(bad, "project name")
        assert (
            str(caught.value)
            == f"{bad!r} is not a valid project name; use 1-40 letters, digits, '-' or '_', starting with a letter or digit"
        )


def test_graviton_families_are_read_in_ascii() -> None:
    assert [graviton(name) for name in ("t4g.small", "a1.large", "c7gn.xlarge", "t3.medium", "g6f.xlarge", "m7i.large")] == [
        True, True, True, False, False, False]  # fmt: skip
    assert graviton("m7ǵ.large") is False  # a non-ASCII letter is no family (re.ASCII)


@pytest.mark.parametrize(
    ("value", "message"),
    [("site-a", None), ("a" + "b" * 39, None),
     ("site a", "'site a' has a space; use letters, digits or '-'"),
     ("a" + "b" * 40, f"{'a' + 'b' * 40!r} is not a valid site name; use 1-40 letters, digits or '-', starting with a letter and not ending in '-' "
                      "(it becomes a CloudFormation stack, a host name, a Slurm job and a systemd unit name)"),
     ("site_a", "'site_a' is not a valid site name; use 1-40 letters, digits or '-', starting with a letter and not ending in '-' "
                "(it becomes a CloudFormation stack, a host name, a Slurm job and a systemd unit name)")],
)  # fmt: skip
def test_a_site_name_is_what_every_platform_takes(value: str, message: str | None) -> None:
    assert refusal(fields.SiteName, value) == message


def test_a_project_name_over_16_says_what_the_dashboard_keeps() -> None:
    assert refusal(fields.ProjectName, "breast-histolog-cohort") == (
        "'breast-histolog-cohort' is 22 characters; NVFlare's dashboard keeps only the first 16 of a project name, "
        "so use at most 16 (e.g. 'breast-histolog')"  # the cut drops a trailing separator
    )
    assert (refusal(fields.ProjectName, "CancerStudyNo1AX-2026") or "").endswith(
        "so use at most 16 (e.g. 'CancerStudyNo1AX')"
    )  # only - and _ are cut
    assert refusal(fields.ProjectName, "-x") == (
        "'-x' is not a valid project name; use 1-40 letters, digits, '-' or '_', starting with a letter or digit"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [("/shared/nvflare/site-1", None), ("/srv/..x", None),
     ("/srv/..", "'/srv/..' is not an absolute field path of letters, digits and _ . / @ + -; use e.g. /shared/nvflare/site-1"),
     ("/srv/../etc", "'/srv/../etc' is not an absolute field path of letters, digits and _ . / @ + -; use e.g. /shared/nvflare/site-1"),
     ("srv/site", "'srv/site' is not an absolute field path of letters, digits and _ . / @ + -; use e.g. /shared/nvflare/site-1")],
)  # fmt: skip
def test_an_absolute_path_never_climbs(value: str, message: str | None) -> None:
    """The message names the field (here the test's own field, `field`)."""
    assert refusal(fields.AbsolutePath, value) == message


# The retentions CloudWatch Logs' PutRetentionPolicy takes (its API reference, retentionInDays).
CLOUDWATCH_RETENTIONS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]


def test_log_retention_is_one_cloudwatch_takes_and_the_message_lists_them() -> None:
    assert [days for days in range(0, 4000) if refusal(fields.LogRetentionDays, days) is None] == CLOUDWATCH_RETENTIONS
    assert refusal(fields.LogRetentionDays, 366) == (
        "366 is not a CloudWatch Logs retention; use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, "
        "2192, 2557, 2922, 3288, 3653 (days)"
    )
