"""Where a host lives: the region's default VPC, an existing VPC, or a small new one."""

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct, DependencyGroup

from flare_constructs.acknowledge import acknowledge, in_compliance_packs
from flarectl.vpc_choice import VpcChoice


class FlareNetwork(Construct):
    """`vpc` and `subnets` for the hub or a client site. A new VPC has public subnets only:
    no NAT gateway to pay for; the hub needs a public address anyway, and a client site
    only dials out (its security group admits nothing)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        choice: VpcChoice,
        subnet_ids: list[str],
        flow_log_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.choice = choice
        self.gateway_attached = DependencyGroup()  # empty for a looked-up VPC
        vpc: ec2.IVpc
        if choice.kind == "new":
            new_vpc = ec2.Vpc(
                self,
                "Vpc",
                ip_addresses=ec2.IpAddresses.cidr("10.42.0.0/16"),
                max_azs=2,
                nat_gateways=0,
                subnet_configuration=[ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)],
                restrict_default_security_group=False,  # avoids a Lambda custom resource; the default SG is unused
                flow_logs={
                    "ToS3": ec2.FlowLogOptions(
                        destination=ec2.FlowLogDestination.to_s3(flow_log_bucket),  # under AWSLogs/<account>/vpcflowlogs/
                        traffic_type=ec2.FlowLogTrafficType.ALL,
                    )
                },
            )
            for subnet in new_vpc.public_subnets:
                acknowledge(
                    subnet,
                    {
                        **in_compliance_packs(
                            "VPCSubnetAutoAssignPublicIpDisabled",
                            "A VPC made for one host. Hub: reachable by sites on the internet (stable address: the Elastic IP). "
                            "Client site: outbound only, its security group admits nothing; a public IP avoids a NAT gateway.",
                        ),
                        **in_compliance_packs(
                            "VPCNoUnrestrictedRouteToIGW",
                            "A public subnet: hosts reach the hub, apt, PyPI and Let's Encrypt without a NAT gateway; "
                            "each host's security group decides what comes in.",
                        ),
                    },
                )
            acknowledge(
                new_vpc,
                {
                    **in_compliance_packs(
                        "VPCDefaultSecurityGroupClosed",
                        "Nothing is placed in the default security group (every host has its own); closing it needs a Lambda custom resource.",
                    ),
                },
            )
            vpc = new_vpc
            # What a public address or a public instance must wait for: the gateway attachment
            # (AWS::EC2::EIP requires it as DependsOn when the VPC is in the same template) and
            # the public subnets' default routes, without which a booting host cannot reach the
            # package indexes or the hub. A public subnet's internetConnectivityEstablished is
            # its route (which waits for the attachment); the VPC's own is only the gateway.
            self.gateway_attached.add(new_vpc.node.find_child("VPCGW"))
            for subnet in new_vpc.public_subnets:
                self.gateway_attached.add(subnet.internet_connectivity_established)
        else:
            # The default VPC too by the id synth just found, not by isDefault=true: CDK caches a
            # lookup in cdk.context.json, and a cached "default VPC" outlives a recreated one.
            vpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id=choice.vpc_id)
        self.vpc: ec2.IVpc = vpc
        if subnet_ids:
            # Filtered from the looked-up VPC, so a subnet of another VPC fails at synth.
            self.subnets = ec2.SubnetSelection(subnet_filters=[ec2.SubnetFilter.by_ids(subnet_ids)])
        else:
            self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
        # The instance lands in the first selected subnet; its data volume must share the AZ.
        self.availability_zone = vpc.select_subnets(**self.subnets._values).subnets[0].availability_zone
