"""Typed building blocks of the federation file: each kind of value is defined once, with its
check and its message, and reused by every model that has such a value."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

# Every pattern is matched in full (`fullmatch`) with ASCII classes: `\d` is 0-9 only, and no
# `$` lets a trailing line break through.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*", re.ASCII)
SITE_NAME_PATTERN = re.compile(r"[A-Za-z]([A-Za-z0-9-]{0,38}[A-Za-z0-9])?", re.ASCII)
DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.ASCII)
MAX_DNS_NAME = 253  # RFC 1035 2.3.4: 255 octets on the wire, 253 characters written
INSTANCE_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+", re.ASCII)
PATH_PATTERN = re.compile(r"/[A-Za-z0-9_./@+-]*", re.ASCII)
# Linux's PATH_MAX and NAME_MAX (limits.h): longer paths cannot be opened at all.
PATH_MAX, NAME_MAX = 4095, 255
# NVFlare's pattern for admin (user) names, which are email addresses (format_check.py, "admin").
NVFLARE_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", re.ASCII)
MAX_GPU_MEMORY_GIB = 192  # B200: 180 GiB; nothing larger exists


class Model(BaseModel):
    """Every section of the federation file: unknown keys refused, no type coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def matching(pattern: str, message: str, *, each: bool = False) -> AfterValidator:
    """A building block for a kind of text value: it (or, with `each`, every item of a list)
    must match `pattern` in full; `message` gets the offending value as {value!r}."""

    compiled = re.compile(pattern, re.ASCII)

    def check(value: Any) -> Any:
        for item in value if each else [value]:
            if not compiled.fullmatch(item):
                raise ValueError(message.format(value=item))
        return value

    return AfterValidator(check)


def within(low: int, high: int, message: str) -> AfterValidator:
    """A building block for a kind of whole number: from `low` to `high`; `message` gets the
    value as {value}."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(message.format(value=value, low=low, high=high))
        return value

    return AfterValidator(check)


def check_name(value: str, what: str) -> str:
    if " " in value:
        raise ValueError(f"{value!r} has a space; use letters, digits, '-' or '_'")
    if not NAME_PATTERN.fullmatch(value) or len(value) > 40:
        raise ValueError(f"{value!r} is not a valid {what}; use 1-40 letters, digits, '-' or '_', starting with a letter or digit")
    return value


def check_site_name(value: str) -> str:
    """A site name becomes an NVFlare client name, a CloudFormation stack name
    (FlareClient-<site>), an Azure VM's host name and resource group, a Slurm job name, a
    systemd unit and file names: only what all of them accept."""
    if " " in value:
        raise ValueError(f"{value!r} has a space; use letters, digits or '-'")
    if not SITE_NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid site name; use 1-40 letters, digits or '-', starting with a letter and not ending in '-' "
            "(it becomes a CloudFormation stack, a host name, a Slurm job and a systemd unit name)"
        )
    return value


def check_cidr(value: str) -> str:
    """An IPv4 block written address/prefix, as security groups take it (a bare address is
    read as /32 by Python but refused by CDK's Peer.ipv4 and by EC2)."""
    if _is_ip(value):
        raise ValueError(f"{value!r} is one address, not a CIDR block; write {value}/32")
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"{value!r} is not a CIDR block; write it like 203.0.113.0/24 or 198.51.100.7/32") from None
    if network.version != 4:
        raise ValueError(f"{value!r} is IPv6; only IPv4 CIDR blocks are supported")
    if not re.fullmatch(r"[0-9.]+/(0|[1-9][0-9]?)", value, re.ASCII):
        raise ValueError(f"{value!r} is not written as a CIDR block; write it like 203.0.113.0/24 or 198.51.100.7/32")
    return value


def _cidr_list(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("the list is empty; nobody could connect. Use 0.0.0.0/0 for everyone")
    for cidr in value:
        check_cidr(cidr)
    return value


def _ssh_cidr(value: str) -> str:
    check_cidr(value)
    if ipaddress.ip_network(value).prefixlen < 8:
        raise ValueError(
            f"{value!r} opens SSH to the internet; use your admin network (e.g. 203.0.113.0/24), "
            "or leave it unset and use SSM Session Manager"
        )
    return value


def _dns_name(value: str) -> str:
    name = value.removesuffix(".").lower()
    labels = name.split(".")
    if len(labels) < 2 or not all(DNS_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{value!r} is not a DNS name; use labels of 1-63 letters, digits and '-', like flare.example.org")
    if len(name) > MAX_DNS_NAME:
        raise ValueError(f"{value[:40]!r}... is {len(name)} characters; a DNS name has at most {MAX_DNS_NAME}")
    return name


def _requirements(value: list[str]) -> list[str]:
    """Each entry one PEP 508 requirement from the package index (hosts install them from a
    requirements file, one per line): no URLs, no options, no line breaks."""
    names: set[str] = set()
    for requirement in value:
        try:
            parsed = Requirement(requirement)
        except InvalidRequirement:
            raise ValueError(f"{requirement!r} is not a pip requirement; write it like torch==2.5.1 or 'scipy>=1.11,<2'") from None
        if parsed.url:  # a line break never gets here: packaging refuses it (and the file loader refuses control characters)
            raise ValueError(f"{requirement!r}: install from the package index (name and version), not from a URL")
        name = canonicalize_name(parsed.name)
        if name in names:
            raise ValueError(f"{parsed.name!r} is listed twice; keep one entry per package")
        names.add(name)
    return value


def _absolute_path(value: str, info: ValidationInfo) -> str:
    if not PATH_PATTERN.fullmatch(value) or "/../" in value + "/":
        raise ValueError(
            f"{value!r} is not an absolute {info.field_name} path of letters, digits and _ . / @ + -; use e.g. /shared/nvflare/site-1"
        )
    return value


def _interpreter(value: str) -> str:
    if value != "python3" and not value.startswith("/"):
        raise ValueError(f"{value!r}: use python3 (from PATH) or an absolute path to Python >= 3.10")
    if value != "python3" and (not PATH_PATTERN.fullmatch(value) or "/../" in value + "/"):
        raise ValueError(f"{value!r} is not an absolute python path of letters, digits and _ . / @ + -; use e.g. /usr/bin/python3.11")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a number of GiB; write the figure, like 16")
    return value


def _email(value: str) -> str:
    """RFC 5322 addresses as email-validator reads them (no quoted local parts, no IP-literal
    domains, no special-use domains such as .local), in ASCII; kept exactly as written."""
    if not value.isascii():
        raise ValueError(f"{value!r}: write the address in ASCII (an international domain in its xn-- form)")
    try:
        # ASCII is checked above; test_environment allows the .test domain and never looks the domain up in DNS.
        validate_email(value, test_environment=True)
    except EmailNotValidError as error:
        raise ValueError(f"{value!r} is not an email address: {error}") from None
    if not NVFLARE_EMAIL.fullmatch(value):
        raise ValueError(
            f"{value!r}: NVFlare takes only letters, digits and . _ % + - before the @ (its admin names, "
            "nvflare/apis/utils/format_check.py); use another address"
        )
    return value


def _https_url(value: str) -> str:
    """An https URL of a host (a DNS name, or an IP address for a test server), an optional
    port and a plain path: what certbot's --server and a browser both read the same way."""
    refused = ValueError(f"{value!r} is not an https URL; write it like https://acme-v02.api.letsencrypt.org/directory")
    match = re.fullmatch(r"https://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:([0-9]{1,5}))?(/[A-Za-z0-9._~%/+-]*)?", value, re.ASCII)
    if not match:
        raise refused
    host = match.group(1)
    valid_host = _is_ip(host[1:-1]) if host.startswith("[") else all(DNS_LABEL.fullmatch(label) for label in host.lower().split("."))
    if not valid_host or (match.group(3) and not 1 <= int(match.group(3)) <= 65535) or len(value) > 2048:
        raise refused
    return value


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _secret_name(value: str) -> str:
    """Secrets Manager's rule for names (CreateSecret, Name): 1-512 of ASCII letters, digits and
    /_+=.@-. An ARN is not a name."""
    if value.startswith("arn:"):
        raise ValueError(f"{value!r} is an ARN; give the secret's name (the part after 'secret:', without the 6-character suffix)")
    if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", value, re.ASCII):
        raise ValueError(f"{value!r} is not a Secrets Manager secret name; use 1-512 letters, digits and / _ + = . @ -")
    return value


def _nvflare_version(value: str) -> str:
    match = re.fullmatch(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)((rc|a|b)(0|[1-9][0-9]*))?", value, re.ASCII)
    if not match:
        raise ValueError(f'{value!r} is not an exact NVFlare release; pin one like "2.9.0" (quoted)')
    if (int(match[1]), int(match[2])) < (2, 7):
        raise ValueError(f"{value!r} is too old; use NVFlare 2.7 or newer (one port for FL and admin)")
    return value


def check_local_path(value: str, what: str) -> str:
    """A path on the machine that runs synth or deploy (a kit folder): one line, and short
    enough for the operating system to open."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(f"{value!r} has a control character (a line break?); write the {what} path on one line")
    encoded = value.encode("utf-8", "surrogateescape")
    if len(encoded) > PATH_MAX or any(len(part) > NAME_MAX for part in encoded.split(b"/")):
        raise ValueError(f"{value[:40]!r}... is longer than a path can be (at most {PATH_MAX} bytes, {NAME_MAX} per folder name)")
    return value


# What CloudWatch Logs accepts as a retention (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {', '.join(map(str, LOG_RETENTION_DAYS))} (days)")
    return value


# NVFlare 2.9's dashboard keeps the first 16 characters of a project's short_name
# (dashboard/application/store.py, Store.set_project): a longer name would come back changed.
MAX_PROJECT_NAME = 16


def _project_name(value: str) -> str:
    check_name(value, "project name")
    if len(value) > MAX_PROJECT_NAME:
        raise ValueError(
            f"{value!r} is {len(value)} characters; NVFlare's dashboard keeps only the first {MAX_PROJECT_NAME} of a project name, "
            f"so use at most {MAX_PROJECT_NAME} (e.g. {value[:MAX_PROJECT_NAME].rstrip('-_')!r})"
        )
    return value


ProjectName = Annotated[str, AfterValidator(_project_name)]
EmailAddress = Annotated[str, AfterValidator(_email)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
SecretName = Annotated[str, AfterValidator(_secret_name)]


def _quoted_version(value: Any) -> Any:
    """`nvflare_version: 2.9` is the number 2.9 in YAML (and 2.10 would be 2.1): say so."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f'{value!r} is a number in YAML, not a release; quote the exact release, like nvflare_version: "2.9.0"')
    return value


NvflareVersion = Annotated[str, BeforeValidator(_quoted_version), AfterValidator(_nvflare_version)]
LogRetentionDays = Annotated[int, AfterValidator(_log_retention)]
SiteName = Annotated[str, AfterValidator(check_site_name)]
Cidr = Annotated[str, AfterValidator(check_cidr)]
CidrList = Annotated[list[str], AfterValidator(_cidr_list)]
SshCidr = Annotated[str, AfterValidator(_ssh_cidr)]
DnsName = Annotated[str, AfterValidator(_dns_name)]
Requirements = Annotated[list[str], AfterValidator(_requirements)]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
Interpreter = Annotated[str, AfterValidator(_interpreter)]
GiB = Annotated[float, AfterValidator(_finite)]  # strict: YAML's 16 arrives as 16.0, a boolean is refused
# Words shown on the dashboard; they travel in a systemd EnvironmentFile (where quotes and
# backslashes are syntax), so no quotes, backslashes, '$', '#' or control characters, and no
# space at either end.
DisplayText = Annotated[
    str,
    matching(
        r"([A-Za-z0-9.,:;()_+/@&-]([A-Za-z0-9.,:;()_+/@& -]{0,118}[A-Za-z0-9.,:;()_+/@&-])?)?",
        "{value!r}: use up to 120 letters, digits, spaces and . , : ; ( ) _ + / @ & - (no quotes, backslashes, $ or #)",
    ),
]
InstanceType = Annotated[str, matching(INSTANCE_TYPE_PATTERN.pattern, "{value!r} is not an EC2 instance type; use a name like t3.medium")]
SsmParameterName = Annotated[str, matching(r"/[A-Za-z0-9_.\-/]+", "{value!r} is not an SSM parameter name; names start with '/'")]
AwsAccount = Annotated[str, matching(r"\d{12}", '{value!r} is not an AWS account id; use the 12 digits, quoted ("123456789012")')]
AwsRegion = Annotated[str, matching(r"[a-z]{2}(-gov)?-[a-z]+-\d", "{value!r} is not an AWS region; use a name like us-west-2")]
# Lists are checked as a whole, so a message names the list ("network.subnet_ids: 'sub-1' ...").
SubnetIds = Annotated[
    list[str], matching(r"subnet-[0-9a-f]{8,17}", "{value!r} is not a subnet id; use ids like subnet-0abc12345def67890", each=True)
]
VolumeId = Annotated[
    str,
    matching(
        r"vol-[0-9a-f]{8,17}", "{value!r} is not an EBS volume id; use the DataVolumeId output of the old stack, like vol-0123456789abcdef0"
    ),
]
BucketName = Annotated[
    str,
    matching(
        r"(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "{value!r} is not an S3 bucket name; use the KitBucket output of the old stack (3-63 lowercase letters, digits, . and -)",
    ),
]
AllocationId = Annotated[
    str, matching(r"eipalloc-[0-9a-f]{8,17}", "{value!r} is not an Elastic IP allocation id; it looks like eipalloc-0123456789abcdef0")
]
