"""The federation config: one validated model for everything the project deploys.

`load_federation(path)` is the only way in. Bad input raises ConfigError carrying one
human message per problem ("federation.yaml: hub.fl_port: ..."), never a traceback.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
MIN_ROOT_VOLUME_GIB = 30
UBUNTU_AMI_PARAMETER = "/aws/service/canonical/ubuntu/server/24.04/stable/current/{arch}/hvm/ebs-gp3/ami-id"


class ConfigError(Exception):
    """A federation file that cannot be used; `problems` holds one message per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_name(value: str, what: str) -> str:
    if " " in value:
        raise ValueError(f"{value!r} has a space; use letters, digits, '-' or '_'")
    if not NAME_PATTERN.match(value) or len(value) > 40:
        raise ValueError(
            f"{value!r} is not a valid {what}; use 1-40 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return value


def _check_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"{value!r} is not a CIDR block; write it like 203.0.113.0/24 or 198.51.100.7/32") from None
    if network.version != 4:
        raise ValueError(f"{value!r} is IPv6; only IPv4 CIDR blocks are supported")
    return value


def _check_dns_name(value: str) -> str:
    name = value.rstrip(".").lower()
    labels = name.split(".")
    if len(labels) < 2 or not all(DNS_LABEL.match(label) for label in labels):
        raise ValueError(f"{value!r} is not a DNS name; use labels of letters, digits and '-', like flare.example.org")
    return name


def _check_requirements(value: list[str]) -> list[str]:
    for requirement in value:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-\[\],]*\s*([<>=!~]=?[A-Za-z0-9.*+!\-]+\s*,?\s*)*", requirement):
            raise ValueError(f"{requirement!r} is not a pip requirement; write it like torch==2.5.1")
    return value


def _kit_present(kit: str | None) -> bool:
    return kit is not None and (Path(kit) / "startup" / "fed_client.json").exists()


def graviton(instance_type: str) -> bool:
    """t4g.small, m7g.large, c7gn.xlarge: AWS Graviton (arm64) instance families."""
    family = instance_type.split(".")[0]
    return bool(re.match(r"^[a-z]+\d+g[a-z]*$", family))


class AwsTarget(_Model):
    account: str | None = None
    region: str | None = None

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{12}", value):
            raise ValueError(f"{value!r} is not an AWS account id; use the 12 digits, quoted (\"123456789012\")")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", value):
            raise ValueError(f"{value!r} is not an AWS region; use a name like us-west-2")
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> AwsTarget:
        if (self.account is None) != (self.region is None):
            raise ValueError("set both account and region, or neither (neither = environment-agnostic, offline synth)")
        return self


class Network(_Model):
    vpc: str = "auto"
    subnet_ids: list[str] = []

    @field_validator("vpc")
    @classmethod
    def _vpc(cls, value: str) -> str:
        if value not in ("auto", "new") and not re.fullmatch(r"vpc-[0-9a-f]{8,17}", value):
            raise ValueError(f"{value!r} is not allowed; use 'auto', 'new' or a VPC id like vpc-0abc12345def67890")
        return value

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        for subnet in value:
            if not re.fullmatch(r"subnet-[0-9a-f]{8,17}", subnet):
                raise ValueError(f"{subnet!r} is not a subnet id; use ids like subnet-0abc12345def67890")
        return value

    @model_validator(mode="after")
    def _subnets_need_vpc(self) -> Network:
        if self.subnet_ids and not self.vpc.startswith("vpc-"):
            raise ValueError("subnet_ids only work with an explicit vpc id (vpc: vpc-...)")
        return self


class ElasticIp(_Model):
    """An Elastic IP kept from an earlier hub (the restore path): its allocation and address."""

    allocation_id: str
    address: str

    @field_validator("allocation_id")
    @classmethod
    def _allocation(cls, value: str) -> str:
        if not re.fullmatch(r"eipalloc-[0-9a-f]{8,17}", value):
            raise ValueError(f"{value!r} is not an Elastic IP allocation id; it looks like eipalloc-0123456789abcdef0")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address; use the ElasticIp output of the earlier hub") from None
        if ip.version != 4 or ip.is_private:
            raise ValueError(f"{value!r} is not a public IPv4 address; use the ElasticIp output of the earlier hub")
        return value


class Hub(_Model):
    instance_type: str = "t3.medium"
    root_volume_gib: int = 40
    data_volume_gib: int = 20
    data_volume_id: str | None = None
    elastic_ip: ElasticIp | None = None
    fl_port: int = 8002
    dashboard_cidrs: list[str] = ["0.0.0.0/0"]
    fl_cidrs: list[str] = ["0.0.0.0/0"]
    ssh_cidr: str | None = None
    ami_ssm_parameter: str | None = None
    server_requirements: list[str] = []

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not INSTANCE_TYPE.match(value):
            raise ValueError(f"{value!r} is not an EC2 instance type; use a name like t3.medium")
        return value

    @field_validator("root_volume_gib")
    @classmethod
    def _disk(cls, value: int) -> int:
        if value < MIN_ROOT_VOLUME_GIB:
            raise ValueError(
                f"{value} GiB is too small for Ubuntu, NVFlare and server-side requirements; use at least {MIN_ROOT_VOLUME_GIB}"
            )
        if value > 16384:
            raise ValueError(f"{value} GiB exceeds the gp3 maximum of 16384")
        return value

    @field_validator("data_volume_gib")
    @classmethod
    def _data_disk(cls, value: int) -> int:
        if not 1 <= value <= 16384:
            raise ValueError(f"{value} GiB is not a gp3 volume size; use 1 to 16384 (the default 20 holds the dashboard, certificates and kits)")
        return value

    @field_validator("data_volume_id")
    @classmethod
    def _data_volume_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"vol-[0-9a-f]{8,17}", value):
            raise ValueError(f"{value!r} is not an EBS volume id; use the DataVolumeId output of the old stack, like vol-0123456789abcdef0")
        return value

    @field_validator("fl_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1024 <= value <= 65535 or value == 443:
            raise ValueError(f"{value} is out of range; use a port from 1024 to 65535 (443 is the dashboard's)")
        return value

    @field_validator("dashboard_cidrs", "fl_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("the list is empty; nobody could connect. Use 0.0.0.0/0 for everyone")
        for cidr in value:
            _check_cidr(cidr)
        return value

    @field_validator("ssh_cidr")
    @classmethod
    def _ssh(cls, value: str | None) -> str | None:
        if value is None:
            return value
        _check_cidr(value)
        if ipaddress.ip_network(value).prefixlen < 8:
            raise ValueError(
                f"{value!r} opens SSH to the internet; use your admin network (e.g. 203.0.113.0/24), "
                "or leave it unset and use SSM Session Manager"
            )
        return value

    @field_validator("ami_ssm_parameter")
    @classmethod
    def _ami_parameter(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"/[A-Za-z0-9_.\-/]+", value):
            raise ValueError(f"{value!r} is not an SSM parameter name; names start with '/'")
        return value

    @field_validator("server_requirements")
    @classmethod
    def _requirements(cls, value: list[str]) -> list[str]:
        return _check_requirements(value)

    @property
    def arch(self) -> Literal["arm64", "amd64"]:
        return "arm64" if graviton(self.instance_type) else "amd64"

    @property
    def ami_parameter(self) -> str:
        return self.ami_ssm_parameter or UBUNTU_AMI_PARAMETER.format(arch=self.arch)


class Dns(_Model):
    hosted_zone_id: str
    zone_name: str
    dashboard_name: str
    server_name: str

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str) -> str:
        value = value.removeprefix("/hostedzone/")
        if not re.fullmatch(r"[A-Z0-9]{5,32}", value):
            raise ValueError(f"{value!r} is not a Route53 hosted zone id; it looks like Z0123456789ABCDEFGHIJ")
        return value

    @field_validator("zone_name", "dashboard_name", "server_name")
    @classmethod
    def _names(cls, value: str) -> str:
        return _check_dns_name(value)

    @model_validator(mode="after")
    def _inside_zone(self) -> Dns:
        problems = [
            f"{field} {getattr(self, field)!r} is not inside the hosted zone {self.zone_name!r}; "
            f"use a name ending in .{self.zone_name}"
            for field in ("dashboard_name", "server_name")
            if not getattr(self, field).endswith("." + self.zone_name)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        if self.dashboard_name == self.server_name:
            raise ValueError("dashboard_name and server_name are the same; give each its own name")
        return self


class Certificate(_Model):
    mode: Literal["letsencrypt", "provided", "self-signed"] | None = None
    secret_name: str | None = None
    acme_server: str = "https://acme-v02.api.letsencrypt.org/directory"

    @model_validator(mode="after")
    def _provided_needs_secret(self) -> Certificate:
        if self.mode == "provided" and not self.secret_name:
            raise ValueError(
                "mode 'provided' needs secret_name: a Secrets Manager secret holding "
                '{"certificate": "<PEM chain>", "private_key": "<PEM key>"}'
            )
        if self.secret_name and self.mode != "provided":
            raise ValueError("secret_name is only used with mode 'provided'")
        return self


class Site(_Model):
    """What every site kind has. The kinds themselves arrive with their own issues."""

    name: str
    kind: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, "site name")


DLAMI_PARAMETER = "/aws/service/deeplearning/ami/{arch}/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"
MIN_SITE_ROOT_GIB = 75  # the Deep Learning Base AMI's own snapshot size


class AwsSite(Site):
    """A client site on an AWS GPU instance, one CloudFormation stack per site."""

    kind: Literal["aws"]
    kit: str | None = None
    gpus: int = 1
    gpu_memory_gib: float
    instance_type: str | None = None
    arch: Literal["x86_64", "arm64"] = "x86_64"
    root_volume_gib: int = 150
    requirements: list[str] = []
    spot: bool = False
    aws: AwsTarget | None = None
    network: Network = Network()
    ami_ssm_parameter: str | None = None

    @field_validator("gpu_memory_gib", mode="before")
    @classmethod
    def _memory_number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("gpus")
    @classmethod
    def _gpus(cls, value: int) -> int:
        if not 1 <= value <= 16:
            raise ValueError(f"{value} GPUs: an AWS GPU site has 1 to 16 GPUs, as registered on the dashboard")
        return value

    @field_validator("gpu_memory_gib")
    @classmethod
    def _gpu_memory(cls, value: float) -> float:
        if not 0 < value <= 192:
            raise ValueError(f"{value:g} GiB per GPU is more than any AWS GPU has (H100: 80, H200: 141, B200: 180); use the memory of one GPU")
        return value

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str | None) -> str | None:
        return Hub._instance_type(value) if value is not None else value

    @field_validator("root_volume_gib")
    @classmethod
    def _root(cls, value: int) -> int:
        if value < MIN_SITE_ROOT_GIB:
            raise ValueError(f"{value} GiB is smaller than the Deep Learning AMI itself; use at least {MIN_SITE_ROOT_GIB} (default 150 leaves room for torch and data)")
        return value

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, value: list[str]) -> list[str]:
        return _check_requirements(value)

    @field_validator("ami_ssm_parameter")
    @classmethod
    def _ami_parameter(cls, value: str | None) -> str | None:
        return Hub._ami_parameter(value)

    @field_validator("kit")
    @classmethod
    def _kit(cls, value: str | None) -> str | None:
        if value is None:
            return value
        path = Path(value)
        if path.exists() and not (path / "startup" / "fed_client.json").exists():
            raise ValueError(f"{value!r} is not an unzipped client startup kit (no startup/fed_client.json); unzip the kit from the dashboard there")
        return value

    @property
    def ami_parameter(self) -> str:
        return self.ami_ssm_parameter or DLAMI_PARAMETER.format(arch=self.arch)

    @property
    def kit_present(self) -> bool:
        return _kit_present(self.kit)


SBATCH_DIRECTIVE = re.compile(r"--[a-z][a-z-]*(=[A-Za-z0-9_.,:@%+/=-]+)?")
SLURM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _absolute_path(value: str, what: str) -> str:
    if not value.startswith("/") or not re.fullmatch(r"/[A-Za-z0-9_./@+-]*", value) or "/../" in value + "/":
        raise ValueError(f"{value!r} is not an absolute {what} path of letters, digits and _ . / @ + -; use e.g. /shared/nvflare/site-1")
    return value


class FolderSite(Site):
    """A site that runs the shared client runtime from a folder of emitted files (Slurm
    clusters, WSL laptops): where the kit and the files live, and what the site registered."""

    kit: str
    workdir: str
    venv: str | None = None
    python: str = "python3"
    gpus: int = 1
    gpu_memory_gib: float = 0
    requirements: list[str] = []

    @field_validator("gpu_memory_gib", mode="before")
    @classmethod
    def _memory_number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("kit", "workdir", "venv")
    @classmethod
    def _paths(cls, value: str | None, info: Any) -> str | None:
        return _absolute_path(value, info.field_name) if value is not None else value

    @field_validator("python")
    @classmethod
    def _python(cls, value: str) -> str:
        if value != "python3" and not value.startswith("/"):
            raise ValueError(f"{value!r}: use python3 (from PATH) or an absolute path to Python >= 3.10")
        return _absolute_path(value, "python") if value.startswith("/") else value

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, value: list[str]) -> list[str]:
        return _check_requirements(value)


class SlurmSite(FolderSite):
    """An on-prem Slurm GPU cluster: emitted job scripts and helpers, nothing to deploy."""

    kind: Literal["slurm"]
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str = "1-00:00:00"
    gres: str | None = None
    cpus: int = 4
    memory: str = "32G"
    extra_directives: list[str] = []
    mode: Literal["allocation", "launcher"] = "allocation"
    handover_seconds: int = 300

    @field_validator("partition", "account", "qos")
    @classmethod
    def _slurm_names(cls, value: str | None) -> str | None:
        if value is not None and not SLURM_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a Slurm name; use letters, digits, '_', '.' or '-'")
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not re.fullmatch(r"(\d+-)?\d{1,2}:\d{2}(:\d{2})?|\d+", value):
            raise ValueError(f"{value!r} is not a Slurm time limit; use minutes, HH:MM:SS or D-HH:MM:SS (e.g. 1-00:00:00)")
        return value

    @field_validator("gres")
    @classmethod
    def _gres(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"gpu(:[A-Za-z0-9_.-]+)?:\d+", value):
            raise ValueError(f"{value!r} is not a GPU gres; write it like gpu:a40:1 or gpu:1")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not re.fullmatch(r"\d+[KMGT]?", value):
            raise ValueError(f"{value!r} is not a Slurm memory size; write it like 32G or 64000M")
        return value

    @field_validator("extra_directives")
    @classmethod
    def _directives(cls, value: list[str]) -> list[str]:
        for directive in value:
            if not SBATCH_DIRECTIVE.fullmatch(directive):
                raise ValueError(f"{directive!r} is not a safe #SBATCH option; write one option like --constraint=a40 (no spaces, quotes or ;)")
        return value

    @field_validator("handover_seconds")
    @classmethod
    def _handover(cls, value: int) -> int:
        if not 30 <= value <= 3600:
            raise ValueError(f"{value} s: hand over between 30 s and 3600 s before the wall-time limit")
        return value

    @property
    def job_name(self) -> str:
        return f"flare-{self.name}"


class WslSite(FolderSite):
    """A Windows laptop with an NVIDIA GPU, running the client inside WSL 2 (Ubuntu)."""

    kind: Literal["wsl"]

    @field_validator("gpus")
    @classmethod
    def _gpus(cls, value: int) -> int:
        if not 0 <= value <= 8:
            raise ValueError(f"{value} GPUs: a laptop site has 0 to 8 GPUs, as registered on the dashboard")
        return value


AZURE_VM_SIZE = re.compile(r"Standard_N[CDV]\d+[a-z]*(_[A-Z]+\d*[A-Za-z]*)?(_v\d+)?")
AZURE_LOCATION = re.compile(r"[a-z]+[a-z0-9]*")
AZURE_SSH_KEY = re.compile(r"(ssh-rsa|ssh-ed25519) [A-Za-z0-9+/]+={0,3}( [^\n]*)?")
RESERVED_LINUX_USERS = {"admin", "administrator", "root", "user", "guest", "test", "nvflare", "sys", "daemon", "bin"}


class AzureSite(Site):
    """A client site on an Azure GPU VM, deployed with `flarectl azure deploy` (Azure has no CDK)."""

    kind: Literal["azure"]
    subscription_id: str | None = None
    location: str
    vm_size: str = "Standard_NC4as_T4_v3"
    gpus: int = 1
    gpu_memory_gib: float = 15  # one T4 as nvidia-smi reports it (15360 MiB)
    kit: str | None = None
    requirements: list[str] = []
    admin_user: str = "flareadmin"
    ssh_public_key: str | None = None
    ssh_cidr: str | None = None
    resource_group: str | None = None
    tags: dict[str, str] = {}
    os_disk_gib: int = 128
    gpu_driver: Literal["extension", "ubuntu"] = "extension"
    encryption_at_host: bool = True

    @field_validator("gpu_memory_gib", mode="before")
    @classmethod
    def _memory_number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("subscription_id")
    @classmethod
    def _subscription(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", value):
            raise ValueError(f"{value!r} is not an Azure subscription id; use the GUID from `az account show --query id`")
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        if not AZURE_LOCATION.fullmatch(value):
            raise ValueError(f"{value!r} is not an Azure location name; use the short name like eastus or westeurope (`az account list-locations -o table`)")
        return value

    @field_validator("vm_size")
    @classmethod
    def _vm_size(cls, value: str) -> str:
        if not AZURE_VM_SIZE.fullmatch(value):
            raise ValueError(f"{value!r} is not an Azure GPU VM size; use an N-series size like Standard_NC4as_T4_v3 or Standard_NC24ads_A100_v4")
        return value

    @field_validator("gpus")
    @classmethod
    def _gpus(cls, value: int) -> int:
        if not 1 <= value <= 8:
            raise ValueError(f"{value} GPUs: an Azure GPU VM has 1 to 8 GPUs, as registered on the dashboard")
        return value

    @field_validator("gpu_memory_gib")
    @classmethod
    def _gpu_memory(cls, value: float) -> float:
        if not 0 < value <= 192:
            raise ValueError(f"{value:g} GiB per GPU is more than any Azure GPU has (T4: 15, A100: 80, H100: 94); use the memory of one GPU")
        return value

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, value: list[str]) -> list[str]:
        return _check_requirements(value)

    @field_validator("kit")
    @classmethod
    def _kit(cls, value: str | None) -> str | None:
        return AwsSite._kit(value)

    @field_validator("admin_user")
    @classmethod
    def _admin_user(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value) or value in RESERVED_LINUX_USERS:
            raise ValueError(f"{value!r} cannot be the VM's admin user; use 1-32 lower-case letters, digits, '_' or '-', not one of {', '.join(sorted(RESERVED_LINUX_USERS))}")
        return value

    @field_validator("ssh_public_key")
    @classmethod
    def _ssh_key(cls, value: str | None) -> str | None:
        if value is not None and not AZURE_SSH_KEY.fullmatch(value.strip()):
            raise ValueError("is not an OpenSSH public key; paste one line like 'ssh-ed25519 AAAA... you@host' (ssh-rsa or ssh-ed25519; Azure takes no ECDSA)")
        return value.strip() if value is not None else value

    @field_validator("ssh_cidr")
    @classmethod
    def _ssh_cidr(cls, value: str | None) -> str | None:
        return Hub._ssh(value)

    @field_validator("resource_group")
    @classmethod
    def _resource_group(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[-\w._()]{1,89}[-\w_()]", value):
            raise ValueError(f"{value!r} is not a resource group name; use up to 90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not key or len(key) > 512 or re.search(r"[<>%&\\?/]", key) or key.lower().startswith(("azure", "microsoft", "windows", "flare-")):
                raise ValueError(f"tag {key!r}: use a name of up to 512 characters without < > % & \\ ? /, not starting with azure, microsoft, windows or flare-")
            if len(text) > 256:
                raise ValueError(f"tag {key!r}: the value is longer than 256 characters")
        if len(value) > 45:
            raise ValueError(f"{len(value)} tags: Azure allows 50 per resource and flarectl adds 3; use at most 45")
        return value

    @field_validator("os_disk_gib")
    @classmethod
    def _os_disk(cls, value: int) -> int:
        if not 64 <= value <= 4095:
            raise ValueError(f"{value} GiB: use 64 to 4095 GiB (the GPU driver, CUDA libraries and torch need room; default 128)")
        return value

    @model_validator(mode="after")
    def _ssh_needs_key(self) -> AzureSite:
        if self.ssh_cidr and not self.ssh_public_key:
            raise ValueError("ssh_cidr opens SSH, but there is no ssh_public_key to log in with; set ssh_public_key or remove ssh_cidr")
        return self

    @property
    def kit_present(self) -> bool:
        return _kit_present(self.kit)

    def resource_group_for(self, project: str) -> str:
        return self.resource_group or f"{project}-{self.name}"


SITE_KINDS: dict[str, type[Site]] = {"aws": AwsSite, "azure": AzureSite, "slurm": SlurmSite, "wsl": WslSite}
AnySite = Annotated[AwsSite | AzureSite | SlurmSite | WslSite, Field(discriminator="kind")]


class Federation(_Model):
    project: str
    nvflare_version: str = "2.9.0"
    project_admin_email: str
    aws: AwsTarget = AwsTarget()
    network: Network = Network()
    hub: Hub = Hub()
    dns: Dns | None = None
    certificate: Certificate = Certificate()
    sites: list[AnySite] = []

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        return _check_name(value, "project name")

    @field_validator("nvflare_version")
    @classmethod
    def _nvflare_version(cls, value: str) -> str:
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)((rc|a|b)\d+)?", value)
        if not match:
            raise ValueError(f"{value!r} is not an exact NVFlare release; pin one like \"2.9.0\" (quoted)")
        if (int(match[1]), int(match[2])) < (2, 7):
            raise ValueError(f"{value!r} is too old; use NVFlare 2.7 or newer (one port for FL and admin)")
        return value

    @field_validator("project_admin_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @field_validator("sites", mode="before")
    @classmethod
    def _sites(cls, value: Any) -> Any:
        """Checks across the list (unique names, known kinds) before each site is validated by its kind."""
        if not isinstance(value, list):
            return value
        problems: list[str] = []
        seen: set[str] = set()
        for index, site in enumerate(value):
            if not isinstance(site, dict):
                continue
            name = site.get("name")
            if isinstance(name, str):
                try:
                    _check_name(name, "site name")
                except ValueError as error:
                    problems.append(f"sites[{index}].name: {error}")
                if name.lower() in seen:
                    problems.append(f"sites[{index}].name: {name!r} is used twice; site names must be unique")
                seen.add(name.lower())
            kind = site.get("kind")
            if kind not in SITE_KINDS:
                allowed = ", ".join(sorted(SITE_KINDS)) or "none yet"
                problems.append(f"sites[{index}].kind: {kind!r} is not a known site kind (known: {allowed})")
        if problems:
            raise ValueError("\n".join(problems))
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Federation:
        for index, site in enumerate(self.sites):
            if isinstance(site, AwsSite) and site.network.vpc.startswith("vpc-") and (site.aws or self.aws).account is None:
                raise ValueError(f"sites[{index}].network.vpc: an explicit VPC id needs aws.account and aws.region (for the site or the federation)")
        if self.certificate.mode == "letsencrypt" and self.dns is None:
            raise ValueError("certificate.mode: 'letsencrypt' needs a dns section (hosted_zone_id, zone_name, dashboard_name, server_name)")
        if self.network.vpc.startswith("vpc-") and self.aws.account is None:
            raise ValueError("network.vpc: an explicit VPC id needs aws.account and aws.region (CDK looks the VPC up)")
        return self

    @property
    def certificate_mode(self) -> str:
        if self.certificate.mode:
            return self.certificate.mode
        return "letsencrypt" if self.dns else "self-signed"


def _location(loc: tuple[Any, ...]) -> str:
    path = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif index and isinstance(loc[index - 1], int) and part in SITE_KINDS:
            continue  # the discriminator pydantic adds after a site's index
        elif str(part).startswith(("function-", "tagged-union")):
            continue
        else:
            path += ("." if path else "") + str(part)
    return path


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model that owns the unknown key at `loc`."""
    model: Any = Federation
    for index, part in enumerate(loc[:-1]):
        if isinstance(part, int):
            continue
        if index and isinstance(loc[index - 1], int) and part in SITE_KINDS:
            model = SITE_KINDS[part]
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        # None for a list of sites: the kind that follows the index names the model.
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return list(model.model_fields) if model is not None else []


def _messages(error: dict[str, Any]) -> list[tuple[str, str]]:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc)
        return [(_location(loc), "unknown key" + (f"; allowed keys: {', '.join(allowed)}" if allowed else ""))]
    if kind == "missing":
        return [(_location(loc), "is required")]
    if kind == "value_error":
        text = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
        # Checks across the site list name each item's own path ("sites[1].name: ...").
        if text.startswith("sites["):
            return [tuple(line.split(": ", 1)) for line in text.splitlines()]  # type: ignore[misc]
        return [(_location(loc), text)]
    if kind == "literal_error":
        return [(_location(loc), f"{error['input']!r} is not allowed; use {error['ctx']['expected']}")]
    return [(_location(loc), f"{error['input']!r}: {error['msg'][0].lower()}{error['msg'][1:]}")]


def load_federation(path: str | Path) -> Federation:
    """Read and validate a federation file; raise ConfigError with every problem found."""
    path = Path(path)
    label = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot read the federation file ({error.strerror}); pass an existing file with -c config=PATH"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError([f"{label}:{where}: not valid YAML ({getattr(error, 'problem', error)})"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{label}: the file must be a YAML mapping with at least 'project' and 'project_admin_email'"])
    try:
        return Federation.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            for where, text in _messages(item):
                problems.append(f"{label}: {where}: {text}" if where else f"{label}: {text}")
        raise ConfigError(problems) from None


DEFAULT_FEDERATION = Path(__file__).resolve().parent.parent / "federation.yaml"

