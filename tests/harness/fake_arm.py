"""A stand-in for Azure Resource Manager, as an azure-core HttpTransport: the real SDK
clients build, sign and send every request, and this records it and answers like ARM does
(201 + Azure-AsyncOperation polling for PUTs, 202 + Location polling for DELETEs, 404 for
what does not exist, write-only fields such as customData left out of GETs). No socket is
opened. There is no Azure emulator; this checks what we send, not what Azure would accept.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import CaseInsensitiveDict

ARM = "https://management.azure.com"
# The one subscription this ARM knows; any other is ARM's 404 SubscriptionNotFound, "The
# subscription '<id>' could not be found." (Azure's "Resolve errors for subscription not found").
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
# Locations whose resource SKUs this ARM lists. ARM answers `location eq '<not a location>'`
# with an empty list, not an error (as `az vm list-skus --location nowhere` prints []).
SKU_LOCATIONS = frozenset({"westeurope", "northeurope", "eastus", "westus2"})
NAT_ADDRESS = "203.0.113.42"


class FakeCredential:
    """A TokenCredential that hands out a fixed token (DefaultAzureCredential is never built)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-token", 4102444800)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo("fake-token", 4102444800)


class _Connection:
    def close(self) -> None:
        pass


class _Response(HttpResponseImpl):
    def __init__(self, request: Any, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(
            request=request,
            internal_response=_Connection(),
            status_code=status,
            reason="OK" if status < 400 else "Error",
            content_type="application/json",
            headers=CaseInsensitiveDict({"Content-Type": "application/json", **(headers or {})}),
            stream_download_generator=None,
        )
        self._content = b"" if body is None else json.dumps(body).encode()


@dataclass
class Request:
    method: str
    path: str
    api_version: str | None
    body: Any

    @property
    def resource_type(self) -> str:
        """Microsoft.Network/natGateways for .../providers/Microsoft.Network/natGateways/x."""
        parts = self.path.split("/")
        if "providers" not in parts:
            return "Microsoft.Resources/resourceGroups"
        provider = parts.index("providers")
        rest = parts[provider + 1 :]
        return "/".join([rest[0], *rest[1::2]])


class FakeArm(HttpTransport):
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.resources: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self._operations: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        self._ids = itertools.count(1)
        self._failures: dict[str, str] = {}
        self.polls = 0  # long-running-operation status requests answered
        # What the preflight reads: the subscription's EncryptionAtHost feature and the VM sizes' SKUs.
        self.encryption_feature = "Registered"
        self.size_capabilities: dict[str, str] = {"EncryptionAtHostSupported": "True"}
        self.sizes_not_offered: set[str] = set()
        self.sizes_not_in_zone_1: set[str] = set()  # a Zone restriction: offered in the location, not in zone 1

    # HttpTransport
    def __enter__(self) -> FakeArm:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def fail_next_put(self, type_: str, message: str) -> None:
        """The next PUT of this resource type fails in its long-running operation."""
        self._failures[type_] = message

    @property
    def changing(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("PUT", "PATCH", "DELETE", "POST")]

    def send(self, request: Any, **kwargs: Any) -> _Response:
        url = urlparse(request.url)
        body = json.loads(request.content) if request.content else None
        recorded = Request(request.method, url.path, parse_qs(url.query).get("api-version", [None])[0], copy.deepcopy(body))
        if url.path.startswith("/operations/"):
            return self._poll(request, url.path)
        self.requests.append(recorded)
        key = url.path.lower()
        if key.startswith("/subscriptions/") and not key.startswith(f"/subscriptions/{SUBSCRIPTION}"):
            subscription = url.path.split("/")[2]
            return _Response(
                request,
                404,
                {"error": {"code": "SubscriptionNotFound", "message": f"The subscription '{subscription}' could not be found."}},
            )
        if key.endswith("/providers/microsoft.features/providers/microsoft.compute/features/encryptionathost"):
            return _Response(request, 200, {"name": "Microsoft.Compute/EncryptionAtHost", "properties": {"state": self.encryption_feature}})
        if key.endswith("/providers/microsoft.compute/skus"):
            return self._skus(request, parse_qs(url.query).get("$filter", [""])[0])
        if "/providers/" not in key:
            return self._group(request, key, body)
        if request.method == "GET":
            if key in self.resources:
                return _Response(request, 200, self._visible(self.resources[key]))
            return _Response(request, 404, {"error": {"code": "ResourceNotFound", "message": f"The Resource '{url.path}' was not found."}})
        if request.method == "PUT":
            return self._put(request, recorded, key, body)
        if request.method == "DELETE":
            self.resources.pop(key, None)
            return self._accepted(request, [{"status": "InProgress"}, {"status": "Succeeded"}])
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    def _skus(self, request: Any, location_filter: str) -> _Response:
        from flarectl.sites.azure.sizes import GPU_SIZES

        location = location_filter.split("'")[1]
        if location not in SKU_LOCATIONS:
            return _Response(request, 200, {"value": []})
        skus = [
            {
                "resourceType": "virtualMachines", "name": size, "locations": [location],
                "capabilities": [{"name": name, "value": value} for name, value in self.size_capabilities.items()],
                # ResourceSkuRestrictions as ARM writes them: type Location, or type Zone with the zones.
                "restrictions": ([{"type": "Location", "values": [location], "reasonCode": "NotAvailableForSubscription"}]
                                 if size in self.sizes_not_offered else [])
                + ([{"type": "Zone", "values": [location], "restrictionInfo": {"locations": [location], "zones": ["1"]},
                     "reasonCode": "NotAvailableForSubscription"}] if size in self.sizes_not_in_zone_1 else []),
            }
            for size in sorted(GPU_SIZES)
        ]  # fmt: skip
        # ARM lists every resource type's SKUs in one answer (availability sets, disks, ...), not
        # only VM sizes; its order is not documented, so here the sizes come in name order.
        others = [{"resourceType": "availabilitySets", "name": "Aligned", "locations": [location], "capabilities": [], "restrictions": []},
                  {"resourceType": "disks", "name": "Premium_LRS", "locations": [location], "capabilities": [], "restrictions": []}]  # fmt: skip
        return _Response(request, 200, {"value": others + skus})

    def _group(self, request: Any, key: str, body: Any) -> _Response:
        name = key.rsplit("/", 1)[1]
        if request.method == "GET":
            if key in self.groups:
                return _Response(request, 200, self.groups[key])
            return _Response(
                request, 404, {"error": {"code": "ResourceGroupNotFound", "message": f"Resource group '{name}' could not be found."}}
            )
        if request.method == "PUT":
            status = 200 if key in self.groups else 201
            self.groups[key] = {
                **body,
                "id": request.url.split("?")[0].removeprefix(ARM),
                "name": name,
                "properties": {"provisioningState": "Succeeded"},
            }
            return _Response(request, status, self.groups[key])
        if request.method == "DELETE":
            self.groups.pop(key)
            for resource in [k for k in self.resources if k.startswith(key + "/")]:
                del self.resources[resource]
            return self._accepted(request, [{"status": "InProgress"}, {"status": "Succeeded"}])
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    def _put(self, request: Any, recorded: Request, key: str, body: dict[str, Any]) -> _Response:
        failure = self._failures.pop(recorded.resource_type, None)
        path = recorded.path
        stored = copy.deepcopy(body)
        stored.update(id=path, name=path.rsplit("/", 1)[1], type=recorded.resource_type)
        properties = stored.setdefault("properties", {})
        properties["provisioningState"] = "Failed" if failure else "Succeeded"
        if recorded.resource_type == "Microsoft.Network/publicIPAddresses":
            properties["ipAddress"] = NAT_ADDRESS
        creating = key not in self.resources
        self.resources[key] = stored
        final = {"status": "Failed", "error": {"code": "DeploymentFailed", "message": failure}} if failure else {"status": "Succeeded"}
        operation = self._new_operation("async", [{"status": "InProgress"}, final])
        answer = {
            **self._visible(stored),
            "properties": {**self._visible(stored)["properties"], "provisioningState": "Creating" if creating else "Updating"},
        }
        return _Response(request, 201 if creating else 200, answer, {"Azure-AsyncOperation": operation})

    @staticmethod
    def _visible(resource: dict[str, Any]) -> dict[str, Any]:
        """What a GET shows: ARM never returns custom data or passwords."""
        shown = copy.deepcopy(resource)
        profile = shown.get("properties", {}).get("osProfile", {})
        profile.pop("customData", None)
        profile.pop("adminPassword", None)
        return shown

    def _new_operation(self, kind: str, statuses: list[dict[str, Any]]) -> str:
        path = f"/operations/{next(self._ids)}"
        self._operations[path] = (kind, statuses)
        return f"{ARM}{path}?api-version=2025-01-01"

    def _accepted(self, request: Any, statuses: list[dict[str, Any]]) -> _Response:
        return _Response(request, 202, None, {"Location": self._new_operation("location", statuses)})

    def _poll(self, request: Any, path: str) -> _Response:
        """Azure-AsyncOperation answers a status body; a Location answers 202 until done."""
        self.polls += 1
        kind, statuses = self._operations[path]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        if kind == "async":
            return _Response(request, 200, status)
        if status["status"] == "InProgress":
            return _Response(request, 202, None, {"Location": request.url})
        return _Response(
            request,
            200 if status["status"] == "Succeeded" else 500,
            None if status["status"] == "Succeeded" else {"error": status.get("error")},
        )
