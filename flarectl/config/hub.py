"""The hub's sections of the federation file: AWS target, network, hub host, DNS, certificate."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import field_validator, model_validator

from flarectl.config.fields import (
    AllocationId,
    AwsAccount,
    AwsRegion,
    BucketName,
    CidrList,
    DisplayText,
    DnsName,
    EmailAddress,
    HttpsUrl,
    InstanceType,
    LogRetentionDays,
    Model,
    Requirements,
    SecretName,
    SshCidr,
    SsmParameterName,
    SubnetIds,
    VolumeId,
    within,
)

MIN_ROOT_VOLUME_GIB = 30
MAX_GP3_GIB = 16384
UBUNTU_AMI_PARAMETER = "/aws/service/canonical/ubuntu/server/24.04/stable/current/{arch}/hvm/ebs-gp3/ami-id"


def graviton(instance_type: str) -> bool:
    """t4g.small, m7g.large, c7gn.xlarge, g5g.xlarge and the first generation's a1.large: AWS
    Graviton (arm64) instance families."""
    family = instance_type.split(".")[0]
    return family == "a1" or bool(re.fullmatch(r"[a-z]+[0-9]+g[a-z0-9]*", family, re.ASCII))


class AwsTarget(Model):
    account: AwsAccount | None = None
    region: AwsRegion | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> AwsTarget:
        if (self.account is None) != (self.region is None):
            raise ValueError("set both account and region, or neither (neither = environment-agnostic, offline synth)")
        return self


class Network(Model):
    vpc: str = "auto"
    subnet_ids: SubnetIds = []

    @field_validator("vpc")
    @classmethod
    def _vpc(cls, value: str) -> str:
        if value not in ("auto", "new") and not re.fullmatch(r"vpc-[0-9a-f]{8,17}", value):
            raise ValueError(f"{value!r} is not allowed; use 'auto', 'new' or a VPC id like vpc-0abc12345def67890")
        return value

    @model_validator(mode="after")
    def _subnets_need_vpc(self) -> Network:
        if self.subnet_ids and not self.vpc.startswith("vpc-"):
            raise ValueError("subnet_ids only work with an explicit vpc id (vpc: vpc-...)")
        return self


class ElasticIp(Model):
    """An Elastic IP kept from an earlier hub (the restore path): its allocation and address."""

    allocation_id: AllocationId
    address: str

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


class Hub(Model):
    instance_type: InstanceType = "t3.medium"
    root_volume_gib: int = 40
    data_volume_gib: Annotated[
        int,
        within(
            1,
            MAX_GP3_GIB,
            "{value} GiB is not a gp3 volume size; use 1 to {high} (the default 20 holds the dashboard, certificates and kits)",
        ),
    ] = 20
    data_volume_id: VolumeId | None = None
    elastic_ip: ElasticIp | None = None
    kit_bucket: BucketName | None = None  # a restore: the kit store an earlier hub kept (its kits and their history)
    # create: a new <project>/dashboard-admin secret; existing: the one an earlier hub kept (a restore)
    admin_secret: Literal["create", "existing"] = "create"
    fl_port: int = 8002
    dashboard_cidrs: CidrList = ["0.0.0.0/0"]
    fl_cidrs: CidrList = ["0.0.0.0/0"]
    ssh_cidr: SshCidr | None = None
    ami_ssm_parameter: SsmParameterName | None = None
    server_requirements: Requirements = []
    # How long a running job waits for a site that went away (its client lost, or restarted and
    # lost its part of the job) before it treats the site as gone: NVFlare's
    # dead_client_grace_period, whose default this is. The job then goes on without the site,
    # or ends naming it when too few sites remain. A finished job waits as long for a site's
    # last report (NVFlare's client_outcome_wait_timeout, 900 s by default).
    site_lost_after_seconds: Annotated[
        int, within(10, 86400, "{value} seconds: use {low} to {high} (NVFlare waits this long for a lost site before a job gives up on it)")
    ] = 60

    @field_validator("root_volume_gib")
    @classmethod
    def _disk(cls, value: int) -> int:
        if value < MIN_ROOT_VOLUME_GIB:
            raise ValueError(
                f"{value} GiB is too small for Ubuntu, NVFlare and server-side requirements; use at least {MIN_ROOT_VOLUME_GIB}"
            )
        if value > MAX_GP3_GIB:
            raise ValueError(f"{value} GiB exceeds the gp3 maximum of {MAX_GP3_GIB}")
        return value

    @model_validator(mode="after")
    def _restore_keeps_the_admin_secret(self) -> Hub:
        if self.data_volume_id and self.admin_secret == "create":
            raise ValueError(
                "data_volume_id restores an earlier hub, whose dashboard database matches the admin secret that hub kept "
                "(cdk destroy retains <project>/dashboard-admin, so creating it again would fail): set admin_secret: existing"
            )
        return self

    @field_validator("fl_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1024 <= value <= 65535:  # not a privileged port (443, the dashboard's, is one)
            raise ValueError(f"{value} is out of range; use a port from 1024 to 65535")
        return value

    @property
    def arch(self) -> Literal["arm64", "amd64"]:
        return "arm64" if graviton(self.instance_type) else "amd64"

    @property
    def ami_parameter(self) -> str:
        return self.ami_ssm_parameter or UBUNTU_AMI_PARAMETER.format(arch=self.arch)


class Dns(Model):
    hosted_zone_id: str
    zone_name: DnsName
    dashboard_name: DnsName
    server_name: DnsName

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str) -> str:
        value = value.removeprefix("/hostedzone/")
        if not re.fullmatch(r"[A-Z0-9]{5,32}", value):
            raise ValueError(f"{value!r} is not a Route53 hosted zone id; it looks like Z0123456789ABCDEFGHIJ")
        return value

    @model_validator(mode="after")
    def _inside_zone(self) -> Dns:
        problems = [
            f"{field} {getattr(self, field)!r} is not inside the hosted zone {self.zone_name!r}; use a name ending in .{self.zone_name}"
            for field in ("dashboard_name", "server_name")
            if not getattr(self, field).endswith("." + self.zone_name)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        if self.dashboard_name == self.server_name:
            raise ValueError("dashboard_name and server_name are the same; give each its own name")
        return self


class Certificate(Model):
    mode: Literal["letsencrypt", "provided", "self-signed"] | None = None
    secret_name: SecretName | None = None
    acme_server: HttpsUrl = "https://acme-v02.api.letsencrypt.org/directory"

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


class Dashboard(Model):
    """The dashboard's project, set by the hub from this file at first boot (zero-touch)."""

    freeze: bool = True  # sites get kits only from a frozen project; its settings then come from here
    title: DisplayText | None = None  # default: "NVFlare federation <project>"
    description: DisplayText = ""

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value == "":
            raise ValueError("is empty; write a title, or remove the key for the default (NVFlare federation <project>)")
        return value


class Alerts(Model):
    """Where the hub's alarms (status checks, health check, certificate, disk, backups) are sent."""

    email: EmailAddress | None = None  # default: project_admin_email


class Audit(Model):
    """The hub's logs in CloudWatch Logs (the FL server's audit trail and every hub service),
    and the account's API trail."""

    log_retention_days: LogRetentionDays = 400
    # existing: the account's own CloudTrail (most organizations run one) covers the hub; nothing is made.
    # create: a multi-region trail with log-file validation, encrypted with the project key, into a retained bucket.
    cloudtrail: Literal["existing", "create"] = "existing"
