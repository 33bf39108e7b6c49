"""What the federation file says besides each kind's own site model: the project, the hub and
its AWS target, DNS, certificate, dashboard, alerts, audit, governance and capacity. Site kinds receive this (their
sites typed as the common ClientSite); flarectl/federation.py assembles the whole file's model
from it and the registered kinds."""

from __future__ import annotations

from pydantic import PrivateAttr, model_validator

from flarectl.config.capacity import Capacity
from flarectl.config.capacity import problems as capacity_problems
from flarectl.config.fields import EmailAddress, Model, NvflareVersion, ProjectName
from flarectl.config.governance import Governance
from flarectl.config.hub import Alerts, Audit, AwsTarget, Certificate, Dashboard, Dns, Hub, Network
from flarectl.config.sites import ClientSite


class FederationSettings(Model):
    project: ProjectName
    nvflare_version: NvflareVersion = "2.9.0"
    project_admin_email: EmailAddress
    aws: AwsTarget = AwsTarget()
    network: Network = Network()
    hub: Hub = Hub()
    dns: Dns | None = None
    certificate: Certificate = Certificate()
    dashboard: Dashboard = Dashboard()
    alerts: Alerts = Alerts()
    audit: Audit = Audit()
    governance: Governance = Governance()
    capacity: Capacity = Capacity()
    sites: list[ClientSite] = []
    # The file's name, for the commands emitted files print (`flarectl ... -c <file>`).
    _source_file: str = PrivateAttr(default="federation.yaml")

    @model_validator(mode="after")
    def _cross_checks(self) -> FederationSettings:
        if self.certificate.mode == "letsencrypt" and self.dns is None:
            raise ValueError("certificate.mode: 'letsencrypt' needs a dns section (hosted_zone_id, zone_name, dashboard_name, server_name)")
        if self.network.vpc.startswith("vpc-") and self.aws.account is None:
            raise ValueError("network.vpc: an explicit VPC id needs aws.account and aws.region (CDK looks the VPC up)")
        problems = self.governance.problems([site.name for site in self.sites])
        problems += capacity_problems(self.capacity, instance_type=self.hub.instance_type, data_volume_gib=self.hub.data_volume_gib,
                                      listed_sites=len(self.sites))  # fmt: skip
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def source_file(self) -> str:
        return self._source_file

    @property
    def dashboard_title(self) -> str:
        return self.dashboard.title or f"NVFlare federation {self.project}"

    @property
    def alerts_email(self) -> str:
        return self.alerts.email or self.project_admin_email

    @property
    def certificate_mode(self) -> str:
        if self.certificate.mode:
            return self.certificate.mode
        return "letsencrypt" if self.dns else "self-signed"
