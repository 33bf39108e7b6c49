"""The hub's stable address: an Elastic IP and, when DNS is configured, Route53 names."""

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_route53 as route53
from constructs import Construct

from flare_constructs.acknowledge import acknowledge, in_compliance_packs
from flarectl.config.hub import Dns, ElasticIp


class HubEndpoint(Construct):
    """A new EIP names its instance directly (no separate association) and is retained when
    the stack is deleted, so DNS records, certificates and startup kits keep pointing at a kept
    address; `existing_ip` adopts such a kept EIP in a rebuilt hub instead."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        instance: ec2.Instance,
        role: iam.IRole,
        dns: Dns | None,
        fl_port: int,
        existing_ip: ElasticIp | None,
    ) -> None:
        super().__init__(scope, construct_id)
        if existing_ip:
            ec2.CfnEIPAssociation(self, "ElasticIpAssociation", allocation_id=existing_ip.allocation_id, instance_id=instance.instance_id)
            address = existing_ip.address
        else:
            elastic_ip = ec2.CfnEIP(self, "ElasticIp", domain="vpc", instance_id=instance.instance_id)
            elastic_ip.apply_removal_policy(RemovalPolicy.RETAIN)
            address = elastic_ip.ref  # Ref of an EIP is its public IP
        self.address = address

        if dns is None:
            self.dashboard_url = f"https://{address}"
            self.server_address = f"{address}:{fl_port}"
            # Without DNS the FL server's name is this address: the hub reads it from EC2 (not
            # the instance metadata, which shows the launch address until the association is
            # done), so it never freezes a project on an address it is about to lose.
            lookup = iam.Policy(
                self, "AddressLookupPolicy", statements=[iam.PolicyStatement(actions=["ec2:DescribeAddresses"], resources=["*"])]
            )
            lookup.attach_to_role(role)
            acknowledge(
                lookup,
                {
                    "AwsSolutions-IAM5[Resource::*]": "ec2:DescribeAddresses has no resource-level permissions; read-only, the hub's own address.",
                    **in_compliance_packs("IAMNoInlinePolicy", "One read-only action; it lives and dies with the hub role."),
                },
            )
            return

        zone = route53.HostedZone.from_hosted_zone_attributes(self, "Zone", hosted_zone_id=dns.hosted_zone_id, zone_name=dns.zone_name)
        for record_id, name in (("DashboardRecord", dns.dashboard_name), ("ServerRecord", dns.server_name)):
            route53.ARecord(
                self,
                record_id,
                zone=zone,
                record_name=f"{name}.",
                target=route53.RecordTarget.from_ip_addresses(address),
                ttl=Duration.minutes(5),
            )
        self.dashboard_url = f"https://{dns.dashboard_name}"
        self.server_address = f"{dns.server_name}:{fl_port}"

        # certbot's DNS-01 challenge through the instance role: TXT records for the hub's own
        # names, in this zone only. No credentials are ever pasted onto the host.
        challenge_names = [f"_acme-challenge.{name}" for name in (dns.dashboard_name, dns.server_name)]
        policy = iam.Policy(
            self,
            "CertbotDnsPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=["route53:ChangeResourceRecordSets"],
                    resources=[zone.hosted_zone_arn],
                    conditions={
                        "ForAllValues:StringEquals": {
                            "route53:ChangeResourceRecordSetsNormalizedRecordNames": challenge_names,
                            "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                        }
                    },
                ),
                iam.PolicyStatement(actions=["route53:ListHostedZones"], resources=["*"]),
                iam.PolicyStatement(actions=["route53:GetChange"], resources=[f"arn:{Aws.PARTITION}:route53:::change/*"]),
            ],
        )
        policy.attach_to_role(role)
        acknowledge(
            policy,
            {
                "AwsSolutions-IAM5[Resource::*]": "route53:ListHostedZones has no resource-level permissions; certbot needs it to find the zone.",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]": "Change ids are random; certbot polls its own change until INSYNC.",
                **in_compliance_packs(
                    "IAMNoInlinePolicy", "Scoped to this hub's hosted zone and ACME TXT names; it lives and dies with the hub role."
                ),
            },
        )
