"""The Project Admin's alarms: what goes wrong on the hub reaches a person by email."""

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from flare_constructs.acknowledge import acknowledge

# flarectl/hosts/hub/hub_metrics.py publishes these (a test keeps the two in step).
NAMESPACE = "NVFlare/Hub"
HEALTH_CHECK_FAILED = "HealthCheckFailed"
CERTIFICATE_DAYS_LEFT = "DashboardCertificateDaysLeft"
DATA_VOLUME_USED = "DataVolumeUsedPercent"
# The line nginx writes for a login answered 401 or 429 (flarectl/hosts/hub/nginx.conf: refused_login).
REFUSED_LOGIN_LINE = "refused login from"
REFUSED_LOGINS = "RefusedLogins"
REFUSED_LOGINS_PER_5_MINUTES = 30  # well above a few people mistyping; a guessing script from many addresses
# gRPC's line for a TLS handshake the FL server refused (no kit certificate, or another CA's); the
# hub's own health probe presents the server certificate and writes none (hub_health.py).
REFUSED_HANDSHAKE_LINE = "Handshake failed"
REFUSED_HANDSHAKES = "RefusedFlHandshakes"
REFUSED_HANDSHAKES_PER_5_MINUTES = 50  # an open FL port meets scanners; this is someone trying hard, or a site with a wrong kit


class HubAlerts(Construct):
    """An SNS topic (the project key) with an email subscription, and alarms on: the hub's
    status checks; the health check failing twice in a row; the dashboard certificate within
    14 days of expiry; the data volume over 80% full; a failed, aborted or expired AWS Backup
    job of the hub's vault (an EventBridge rule). Each alarm also says when it is OK again."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        email: str,
        instance: ec2.Instance,
        backup_vault_name: str,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.project = project
        self.topic = sns.Topic(self, "Topic", display_name=f"NVFlare {project} hub alerts", master_key=key, enforce_ssl=True)
        self.topic.add_subscription(subscriptions.EmailSubscription(email))
        # CloudWatch and EventBridge publish to the encrypted topic with the project key.
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            key.grant(iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")

        def hub_metric(name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=NAMESPACE, metric_name=name, dimensions_map={"Project": project}, statistic=statistic, period=period
            )

        self.hub_metric = hub_metric
        alarms = {
            "StatusCheckAlarm": (
                "The hub failed an EC2 status check (instance or system) for 2 minutes",
                cloudwatch.Metric(
                    namespace="AWS/EC2",
                    metric_name="StatusCheckFailed",
                    dimensions_map={"InstanceId": instance.instance_id},
                    statistic="Maximum",
                    period=Duration.minutes(1),
                ),  # fmt: skip
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                1,
                2,
            ),
            "HealthCheckAlarm": (
                "The hub's health check found the dashboard or FL server not answering twice in a row (it restarts them)",
                hub_metric(HEALTH_CHECK_FAILED, "Maximum", Duration.minutes(5)),
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                1,
                2,
            ),
            "CertificateAlarm": (
                "The dashboard's HTTPS certificate expires within 14 days (renewal is failing)",
                hub_metric(CERTIFICATE_DAYS_LEFT, "Minimum", Duration.hours(1)),
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                14,
                1,
            ),
            "DataVolumeAlarm": (
                "The hub's data volume (dashboard database, kits, job stores) is over 80% full",
                hub_metric(DATA_VOLUME_USED, "Maximum", Duration.minutes(5)),
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                80,
                2,
            ),
        }
        self.action = action = cloudwatch_actions.SnsAction(self.topic)
        for alarm_id, (description, metric, comparison, threshold, periods) in alarms.items():
            alarm = cloudwatch.Alarm(
                self,
                alarm_id,
                alarm_description=f"NVFlare {project}: {description}. INSUFFICIENT_DATA: the figure stopped arriving (hub stopped, or its health check is not running)",
                metric=metric,
                comparison_operator=comparison,
                threshold=threshold,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                treat_missing_data=cloudwatch.TreatMissingData.MISSING,
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            # A metric that stops (a dead health timer, a failing PutMetricData, a stopped hub)
            # leaves the alarm in INSUFFICIENT_DATA: that is news too, not silence.
            alarm.add_insufficient_data_action(action)

        events.Rule(
            self,
            "BackupFailedRule",
            description=f"NVFlare {project}: a backup job of the hub's data volume failed",
            event_pattern=events.EventPattern(
                source=["aws.backup"],
                detail_type=["Backup Job State Change"],
                detail={"state": ["FAILED", "ABORTED", "EXPIRED"], "backupVaultName": [backup_vault_name]},
            ),
            targets=[
                targets.SnsTopic(
                    self.topic,
                    message=events.RuleTargetInput.from_text(
                        f"NVFlare {project}: backup job {events.EventField.from_path('$.detail.backupJobId')} of the hub's data "
                        f"volume ended {events.EventField.from_path('$.detail.state')}. See AWS Backup > Jobs in the console."
                    ),
                )
            ],
        )

    def watch_refused_logins(self, proxy_log_group: logs.CfnLogGroup) -> None:
        """Count the proxy's refused-login lines (wrong password, or throttled): someone guessing passwords."""
        self.count_lines(
            "RefusedLogins", proxy_log_group, REFUSED_LOGIN_LINE, REFUSED_LOGINS, REFUSED_LOGINS_PER_5_MINUTES,
            "dashboard logins refused in 5 minutes (wrong passwords or throttled guessing; the proxy log group lists the addresses)",
        )  # fmt: skip

    def watch_refused_handshakes(self, fl_server_log_group: logs.CfnLogGroup) -> None:
        """Count the TLS handshakes the FL server refused: clients without a valid kit certificate."""
        self.count_lines(
            "RefusedFlHandshakes", fl_server_log_group, REFUSED_HANDSHAKE_LINE, REFUSED_HANDSHAKES, REFUSED_HANDSHAKES_PER_5_MINUTES,
            "TLS handshakes refused on the FL port in 5 minutes (no kit certificate, or another project's; a site with a wrong "
            "or expired kit, or someone probing)",
        )  # fmt: skip

    def count_lines(self, name: str, group: logs.CfnLogGroup, line: str, metric_name: str, threshold: int, what: str) -> None:
        """A metric filter counting `line` in `group`, and an alarm over `threshold` in 5 minutes.
        No line means nothing happened: missing data is the good case, not INSUFFICIENT_DATA."""
        namespace = f"{NAMESPACE}/{self.project}"
        filter_ = logs.CfnMetricFilter(
            self,
            f"{name}Filter",
            log_group_name=group.ref,
            filter_pattern=f'"{line}"',
            metric_transformations=[
                logs.CfnMetricFilter.MetricTransformationProperty(
                    metric_namespace=namespace, metric_name=metric_name, metric_value="1", unit="Count"
                )
            ],
        )
        alarm = cloudwatch.Alarm(
            self,
            f"{name}Alarm",
            alarm_description=f"NVFlare {self.project}: more than {threshold} {what}",
            metric=cloudwatch.Metric(namespace=namespace, metric_name=metric_name, statistic="Sum", period=Duration.minutes(5)),
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            threshold=threshold,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.node.add_dependency(filter_)
        alarm.add_alarm_action(self.action)
        alarm.add_ok_action(self.action)

    def grant_publish_metrics(self, role: iam.IRole) -> None:
        """What the health check needs to publish its figures: its own namespace only."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"], resources=["*"], conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}}
            )
        )
        acknowledge(
            role,
            {
                "AwsSolutions-IAM5[Resource::*]": f"cloudwatch:PutMetricData has no resource-level permissions; only the {NAMESPACE} namespace."
            },
        )
