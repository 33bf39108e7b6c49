"""What the health check publishes to CloudWatch for the Project Admin's alarms (the stack's
HubAlerts construct watches these names; a test keeps the two in step).

  HealthCheckFailed             1 when the check found (and restarted) something, else 0
  DashboardCertificateDaysLeft  days until the dashboard's HTTPS certificate expires
  DataVolumeUsedPercent         how full the data volume is

Publishing never fails the health check: a CloudWatch outage must not restart services.
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable
from pathlib import Path

NAMESPACE = "NVFlare/Hub"
HEALTH_CHECK_FAILED = "HealthCheckFailed"
CERTIFICATE_DAYS_LEFT = "DashboardCertificateDaysLeft"
DATA_VOLUME_USED = "DataVolumeUsedPercent"


def certificate_days_left(certificate: Path) -> float | None:
    from cryptography import x509

    try:
        expires = x509.load_pem_x509_certificate(certificate.read_bytes()).not_valid_after_utc
    except (OSError, ValueError):
        return None
    return round((expires - datetime.datetime.now(datetime.UTC)).total_seconds() / 86400, 1)


def used_percent(path: Path) -> float:
    usage = shutil.disk_usage(path)
    return round(100 * usage.used / usage.total, 1)


def measurements(*, failed: bool, certificate: Path, data: Path) -> dict[str, tuple[float, str]]:
    values: dict[str, tuple[float, str]] = {
        HEALTH_CHECK_FAILED: (1.0 if failed else 0.0, "Count"),
        DATA_VOLUME_USED: (used_percent(data), "Percent"),
    }
    days = certificate_days_left(certificate)
    if days is not None:
        values[CERTIFICATE_DAYS_LEFT] = (days, "None")
    return values


def publish(project: str, values: dict[str, tuple[float, str]], log: Callable[[str], None]) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("cloudwatch", config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2}))
    data = [
        {"MetricName": name, "Dimensions": [{"Name": "Project", "Value": project}], "Value": value, "Unit": unit}
        for name, (value, unit) in values.items()
    ]
    try:
        client.put_metric_data(Namespace=NAMESPACE, MetricData=data)
    except (BotoCoreError, ClientError) as error:
        log(f"metrics not published to CloudWatch ({error}); the alarms will see missing data")
