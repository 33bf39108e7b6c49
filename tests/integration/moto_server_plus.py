"""moto_server, plus CloudFormation support for AWS::SecretsManager::Secret.

moto 5.2 implements Secrets Manager but not the Secret resource in CloudFormation, so a
deployed stack would silently lack the dashboard admin secret. This fills exactly that gap,
following AWS's documented behaviour (Ref = ARN, GenerateSecretString merges a random
password into SecretStringTemplate), and then runs the ordinary moto server.
Usage: python moto_server_plus.py -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import json
import sys
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends
from moto.server import main


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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
