"""moto_server with eleven CloudFormation and EC2 gaps filled, following AWS's documented behaviour.

1. moto 5.2 implements Secrets Manager but not the AWS::SecretsManager::Secret resource, so
   a deployed stack would silently lack the dashboard admin secret. Here Ref = ARN and
   GenerateSecretString merges a random password into SecretStringTemplate.
2. moto does not resolve an instance ImageId of the form `resolve:ssm:NAME` (EC2 reads the
   SSM parameter at launch), nor apply DisableApiTermination from a template; here it does both.
3. moto cannot update an AWS::EC2::Instance (the resource becomes None). AWS changes
   InstanceType and UserData in place (stop/start, same instance id) and replaces the
   instance for a new ImageId (a new `resolve:ssm:` name included) or SubnetId; so does this.
4. On a stack update the CDK CLI sends UsePreviousValue for parameters that kept their
   default (CDK's BootstrapVersion); moto raises KeyError for those. AWS keeps the previous
   value, which for a defaulted parameter is the default: here such parameters are left out
   so the template default applies.
5. moto does not update the resources that refer to a replaced resource. AWS moves an Elastic
   IP whose InstanceId refers to a replaced instance to the new instance; so does this.
6. moto 5.2 has no AWS::CloudWatch::Alarm or AWS::SNS::Subscription resource (they would be
   silently skipped); here they are PutMetricAlarm and Subscribe with the template's properties.
7. moto 5.2 has no AWS::EC2::EIPAssociation resource (a kept Elastic IP would stay unattached);
   here it is AssociateAddress, and DisassociateAddress when it is deleted.
8. EC2 disassociates the Elastic IP of an instance it terminates; moto keeps the association
   (so a kept address looked still in use after `cdk destroy`). Here termination releases it.
9. moto allocates Elastic IPs from 127.0.0.0/8; AWS's are public addresses, which is what the
   federation file takes for `hub.elastic_ip.address`. Here they come from 52.95.0.0/16, an
   AWS range (never reached from here: nothing connects to them).
10. moto 5.2 implements PutMetricFilter but not the AWS::Logs::MetricFilter resource (it would
   be silently skipped); here it is PutMetricFilter with the template's pattern and
   transformations (Ref = the filter's name; AWS makes one up when FilterName is not given).
11. moto takes user data of any size; EC2 refuses more than 16 KiB "in raw form, before it is
   base64-encoded" (EC2 User Guide, "Work with instance user data"), on launch and on update.
   Here so does the instance resource (the stack fails, as a deploy to AWS would).

Everything else is the ordinary moto server. Usage: python moto_server_plus.py -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from moto.cloudformation.models import CloudFormationBackend
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends, elastic_ip_addresses
from moto.ec2.models.instances import Instance
from moto.logs.models import logs_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.server import main
from moto.sns.models import sns_backends


class CloudFormationSecret(CloudFormationModel):
    __module__ = "moto.secretsmanager.cloudformation_secret"  # moto files models by service name

    def __init__(self, arn: str, name: str):
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CloudFormationSecret:
        properties = cloudformation_json["Properties"]
        backend = secretsmanager_backends[account_id][region_name]
        secret_string = properties.get("SecretString")
        generate = properties.get("GenerateSecretString")
        if generate is not None:
            password = json.loads(
                backend.get_random_password(
                    password_length=int(generate.get("PasswordLength", 32)),
                    exclude_characters=generate.get("ExcludeCharacters", ""),
                    exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                    exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                    exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                    exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                    include_space=bool(generate.get("IncludeSpace", False)),
                    require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
                )
            )["RandomPassword"]
            if "SecretStringTemplate" in generate:
                document = json.loads(generate["SecretStringTemplate"])
                document[generate["GenerateStringKey"]] = password
                secret_string = json.dumps(document)
            else:
                secret_string = password
        name = properties.get("Name", resource_name)
        created = json.loads(
            backend.create_secret(
                name=name,
                secret_string=secret_string,
                secret_binary=None,
                description=properties.get("Description"),
                tags=properties.get("Tags", []),
                kms_key_id=properties.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
        )
        return cls(created["ARN"], name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = secretsmanager_backends[account_id][region_name]
        backend.delete_secret(resource_name, recovery_window_in_days=None, force_delete_without_recovery=True)


class CloudFormationAlarm(CloudFormationModel):
    """AWS::CloudWatch::Alarm as PutMetricAlarm with the same properties (Ref = the alarm's name)."""

    __module__ = "moto.cloudwatch.cloudformation_alarm"

    def __init__(self, name: str):
        self.name = name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CloudFormationAlarm:
        p = cloudformation_json["Properties"]
        name = p.get("AlarmName", resource_name)
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name, namespace=p.get("Namespace"), metric_name=p.get("MetricName"), comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]), period=int(p.get("Period", 60)), threshold=float(p["Threshold"]),
            statistic=p.get("Statistic"), description=p.get("AlarmDescription"), dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []), ok_actions=p.get("OKActions", []),
            datapoints_to_alarm=int(p["DatapointsToAlarm"]) if "DatapointsToAlarm" in p else None,
            treat_missing_data=p.get("TreatMissingData"),
        )  # fmt: skip
        return cls(name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


class CloudFormationMetricFilter(CloudFormationModel):
    """AWS::Logs::MetricFilter as PutMetricFilter (the API's camelCase keys for the transformations)."""

    __module__ = "moto.logs.cloudformation_metric_filter"

    def __init__(self, name: str, group: str):
        self.name, self.group = name, group

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Logs::MetricFilter"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "FilterName"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CloudFormationMetricFilter:
        p = cloudformation_json["Properties"]
        name = p.get("FilterName", resource_name)
        transformations = [
            {"metricName": m["MetricName"], "metricNamespace": m["MetricNamespace"], "metricValue": m["MetricValue"],
             **({"unit": m["Unit"]} if "Unit" in m else {}), **({"defaultValue": float(m["DefaultValue"])} if "DefaultValue" in m else {})}
            for m in p["MetricTransformations"]
        ]  # fmt: skip
        logs_backends[account_id][region_name].put_metric_filter(name, p["FilterPattern"], p["LogGroupName"], transformations)  # type: ignore[arg-type]
        return cls(name, p["LogGroupName"])

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        logs_backends[account_id][region_name].delete_metric_filter(resource_name, cloudformation_json["Properties"]["LogGroupName"])


class CloudFormationSubscription(CloudFormationModel):
    """AWS::SNS::Subscription as Subscribe (Ref = the subscription's ARN)."""

    __module__ = "moto.sns.cloudformation_subscription"

    def __init__(self, arn: str):
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CloudFormationSubscription:
        p = cloudformation_json["Properties"]
        subscription = sns_backends[account_id][region_name].subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        return cls(subscription.arn)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        sns_backends[account_id][region_name].unsubscribe(resource_name)


class CloudFormationAddressAssociation(CloudFormationModel):
    """AWS::EC2::EIPAssociation as AssociateAddress (Ref = the association id)."""

    __module__ = "moto.ec2.cloudformation_eip_association"

    def __init__(self, association_id: str):
        self.association_id = association_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::EIPAssociation"

    @property
    def physical_resource_id(self) -> str:
        return self.association_id

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CloudFormationAddressAssociation:
        p = cloudformation_json["Properties"]
        backend = ec2_backends[account_id][region_name]
        address = backend.associate_address(
            instance=backend.get_instance(p["InstanceId"]), address=p.get("EIP"), allocation_id=p.get("AllocationId"), reassociate=True
        )
        return cls(address.association_id)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = ec2_backends[account_id][region_name]
        if any(address.association_id == resource_name for address in backend.addresses):
            backend.disassociate_address(association_id=resource_name)


terminate_instance = Instance.terminate


def terminate_releasing_addresses(self: Instance) -> Any:
    state = terminate_instance(self)
    for address in self.ec2_backend.addresses:
        if address.instance is not None and address.instance.id == self.id:
            self.ec2_backend.disassociate_address(address=address.public_ip)
    return state


Instance.terminate = terminate_releasing_addresses  # type: ignore[method-assign]


create_instance = Instance.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


USER_DATA_LIMIT = 16384


def check_user_data(properties: dict[str, Any]) -> None:
    import base64

    raw = base64.b64decode(properties.get("UserData") or "")
    if len(raw) > USER_DATA_LIMIT:
        from moto.ec2.exceptions import EC2ClientError

        raise EC2ClientError("InvalidParameterValue", f"User data is limited to {USER_DATA_LIMIT} bytes")


def create_instance_resolving_ssm(
    cls: type[Instance], resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
) -> Instance:
    check_user_data(cloudformation_json["Properties"])
    image = cloudformation_json["Properties"]["ImageId"]
    if isinstance(image, str) and image.startswith("resolve:ssm:"):
        from moto.ssm.models import ssm_backends

        parameter = ssm_backends[account_id][region_name].get_parameter(image.removeprefix("resolve:ssm:"))
        cloudformation_json = {**cloudformation_json, "Properties": {**cloudformation_json["Properties"], "ImageId": parameter.value}}
    instance = create_instance(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    instance.image_property = image  # what the template said, to tell a changed ImageId on update
    instance.disable_api_termination = str(cloudformation_json["Properties"].get("DisableApiTermination", "false")).lower() == "true"
    return instance


Instance.create_from_cloudformation_json = classmethod(create_instance_resolving_ssm)  # type: ignore[assignment]


def update_instance(
    cls: type[Instance],
    original_resource: Instance,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Instance:
    properties = cloudformation_json["Properties"]
    check_user_data(properties)
    image_changed = properties["ImageId"] != getattr(original_resource, "image_property", original_resource.image_id)
    if image_changed or properties.get("SubnetId", original_resource.subnet_id) != original_resource.subnet_id:
        replacement = Instance.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        backend = ec2_backends[account_id][region_name]
        for address in backend.addresses:
            if address.instance is not None and address.instance.id == original_resource.id:
                backend.associate_address(replacement, address=address.public_ip, reassociate=True)
        # AWS terminates the old instance after the update; termination protection makes that fail.
        backend.terminate_instances([original_resource.id])
        return replacement
    original_resource.instance_type = properties.get("InstanceType", original_resource.instance_type)
    original_resource.user_data = properties.get("UserData", original_resource.user_data)
    return original_resource


Instance.update_from_cloudformation_json = classmethod(update_instance)  # type: ignore[assignment]


def resolve_update_parameters(self: CloudFormationBackend, instance: Any, incoming_params: list[dict[str, Any]]) -> dict[str, str]:
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in incoming_params if "ParameterValue" in p}
    for parameter in incoming_params:
        key = parameter["ParameterKey"]
        if parameter.get("UsePreviousValue", False) and key in instance.parameters:
            parameters[key] = instance.parameters[key]
    return parameters


CloudFormationBackend._resolve_update_parameters = resolve_update_parameters  # type: ignore[method-assign]


def public_elastic_ip() -> str:
    return f"52.95.{random.randint(0, 255)}.{random.randint(1, 254)}"


elastic_ip_addresses.random_ip = public_elastic_ip  # the name the Elastic IP model calls


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
