"""The config model of an AWS GPU site (no CDK here: the config loads without it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import field_validator

from flarectl.config.fields import GiB, InstanceType, SsmParameterName
from flarectl.config.hub import AwsTarget, Network
from flarectl.config.sites import CloudSite

if TYPE_CHECKING:
    from flarectl.config.federation import FederationSettings

DLAMI_PARAMETER = "/aws/service/deeplearning/ami/{arch}/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"
MIN_SITE_ROOT_GIB = 75  # the Deep Learning Base AMI's own snapshot size


class AwsSite(CloudSite):
    """A client site on an AWS GPU instance, one CloudFormation stack per site."""

    hardware: ClassVar[str] = "an AWS GPU site"
    gpu_range: ClassVar[tuple[int, int]] = (1, 16)
    largest_gpus: ClassVar[str] = "any AWS GPU has (H100: 80, H200: 141, B200: 180)"
    gpu_memory_required: ClassVar[bool] = True

    kind: Literal["aws"]
    gpu_memory_gib: GiB
    instance_type: InstanceType | None = None
    arch: Literal["x86_64", "arm64"] = "x86_64"
    root_volume_gib: int = 150
    spot: bool = False
    aws: AwsTarget | None = None
    network: Network = Network()
    ami_ssm_parameter: SsmParameterName | None = None

    def place(self, federation: FederationSettings) -> str:
        target = self.aws or federation.aws
        where = f"AWS {target.account} {target.region}" if target.account else "AWS (deploy's account and region)"
        if self.instance_type:
            return f"{where}, {self.instance_type}"
        from flarectl.sites.aws.instance_types import NoInstanceType, choose_instance_type

        try:  # what synth chooses (the same cached answer)
            chosen = choose_instance_type(gpus=self.gpus, gpu_memory_gib=self.gpu_memory_gib, arch=self.arch, account=target.account,
                                          region=target.region).instance_type  # fmt: skip
        except NoInstanceType:
            return f"{where}, no instance type fits (synth says why)"
        return f"{where}, {chosen} (chosen for the GPUs)"

    @field_validator("root_volume_gib")
    @classmethod
    def _root(cls, value: int) -> int:
        if not MIN_SITE_ROOT_GIB <= value <= 16384:
            raise ValueError(
                f"{value} GiB is smaller than the Deep Learning AMI itself; use at least {MIN_SITE_ROOT_GIB} (default 150 leaves room for torch and data)"
                if value < MIN_SITE_ROOT_GIB
                else f"{value} GiB exceeds the gp3 maximum of 16384"
            )
        return value

    @property
    def ami_parameter(self) -> str:
        return self.ami_ssm_parameter or DLAMI_PARAMETER.format(arch=self.arch)
