"""How big the hub must be for the federation's largest job: the `capacity:` section, the sizing
rule fitted to bench/hub_capacity.py's measurements, and the check `validate` makes.

The rule (bench/fit_capacity.py fits it to bench/results/hub_capacity.csv; a unit test keeps
these constants equal to that fit): the FL server's peak memory during a FedAvg job of N sites
and a model of S MB, with NVFlare 2.9's ScatterAndGather and its in-time accumulating
aggregator, is SERVER_BASE_MIB + SERVER_PER_MODEL_MB * S + SERVER_PER_SITE_MODEL_MB * N * S.
The hub also holds the dashboard (measured beside it) and the operating system with its agents
(SYSTEM_MIB, stated, not measured here), and must keep HEADROOM of its memory free (the
kernel's own share, page cache for the job store, what the fit does not see).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from flarectl.config.fields import Model, within
from flarectl.config.hub import graviton

# Fitted by bench/fit_capacity.py from bench/results/hub_capacity.csv (NVFlare 2.9.0, measured 2026-12-07).
SERVER_BASE_MIB = 258.86
SERVER_PER_MODEL_MB = 4.59
SERVER_PER_SITE_MODEL_MB = 3.53
HELD_OUT_ERROR = 0.205  # the largest relative error of the rule on the measured points not used to fit it
DASHBOARD_MIB = 192.0  # gunicorn with 2 workers, measured beside the server
STORE_MIB_PER_MODEL_MB = 1.004  # what a finished job adds to the data volume per MB of model (its last global model)
SYSTEM_MIB = 700  # Ubuntu 24.04 with systemd, snapd, the SSM and CloudWatch agents and nginx: stated, not measured here
HEADROOM = 0.15  # of the instance's memory, kept free
VOLUME_BASE_GIB = 1  # the dashboard database, certificates and kits
VOLUME_ALARM_FULL = 0.8  # the DataVolumeAlarm fires above 80% full (flare_constructs/hub_alerts.py)

# Memory per instance size: GiB of a `.large` per family (EC2's DescribeInstanceTypes,
# MemoryInfo.SizeInMiB; a test checks every entry against the catalogue moto ships), times the size.
GIB_PER_LARGE = {
    **dict.fromkeys(("t3", "t3a", "t4g", "m5", "m6i", "m6a", "m6g", "m7i", "m7g"), 8),
    **dict.fromkeys(("r5", "r6i", "r6a", "r6g", "r7i", "r7g"), 16),
    **dict.fromkeys(("c6i", "c7i"), 4),
}
SIZES = {"small": 0.25, "medium": 0.5, "large": 1, "xlarge": 2, "2xlarge": 4, "4xlarge": 8, "8xlarge": 16, "12xlarge": 24, "16xlarge": 32}
# The sizes each family has: burstable ones small to 2xlarge, Graviton ones from medium, the others from large.
BURSTABLE, GRAVITON = ("t3", "t3a", "t4g"), ("m6g", "m7g", "r6g", "r7g")
# What validate names when a hub is too small, smallest first: burstable while it lasts, then memory-optimised.
LADDER = (
    "t3.small",
    "t3.medium",
    "t3.large",
    "t3.xlarge",
    "r6i.xlarge",
    "r6i.2xlarge",
    "r6i.4xlarge",
    "r6i.8xlarge",
    "r6i.12xlarge",
    "r6i.16xlarge",
)


def memory_gib(instance_type: str) -> float | None:
    """The instance type's memory, None when it is not in the table."""
    family, _, size = instance_type.partition(".")
    if family not in GIB_PER_LARGE or size not in SIZES:
        return None
    sizes = list(SIZES)
    offered = sizes[:5] if family in BURSTABLE else sizes[1:] if family in GRAVITON else sizes[2:]
    if size not in offered:
        return None
    return GIB_PER_LARGE[family] * SIZES[size]


class Capacity(Model):
    """The largest job the hub must hold."""

    sites: Annotated[int, within(1, 10000, "{value} sites: use {low} to {high} (the most sites one job runs on)")] | None = None
    model_mb: Annotated[int, within(1, 200000, "{value} MB: use {low} to {high} (the largest model's size in MB)")] = 100
    rounds_kept: Annotated[
        int, within(1, 1000000, "{value}: use {low} to {high} (how many global models the hub's job store keeps at once)")
    ] = 100


@dataclass(frozen=True)
class Need:
    sites: int
    server_mib: float
    memory_mib: float  # server, dashboard and system
    volume_gib: int

    def instance_fits(self, instance_type: str) -> bool | None:
        gib = memory_gib(instance_type)
        return None if gib is None else self.memory_mib <= gib * 1024 * (1 - HEADROOM)

    def smallest_instance(self, arm64: bool = False) -> str | None:
        """The first of LADDER that holds it (its Graviton twins, t4g and r6g, for an arm64 hub)."""
        ladder = [name.replace("t3.", "t4g.").replace("r6i.", "r6g.") for name in LADDER] if arm64 else LADDER
        return next((candidate for candidate in ladder if self.instance_fits(candidate)), None)


def need(capacity: Capacity, listed_sites: int) -> Need:
    sites = capacity.sites or max(listed_sites, 1)
    server = SERVER_BASE_MIB + SERVER_PER_MODEL_MB * capacity.model_mb + SERVER_PER_SITE_MODEL_MB * sites * capacity.model_mb
    store_gib = capacity.rounds_kept * capacity.model_mb * STORE_MIB_PER_MODEL_MB / 1024
    return Need(sites, server, server + DASHBOARD_MIB + SYSTEM_MIB, math.ceil((VOLUME_BASE_GIB + store_gib) / VOLUME_ALARM_FULL))


def count_sites(count: int) -> str:
    return f"{count} site" if count == 1 else f"{count} sites"


def problems(capacity: Capacity, *, instance_type: str, data_volume_gib: int, listed_sites: int) -> list[str]:
    """What the hub cannot hold, each naming the field and the fix."""
    found = []
    if capacity.sites is not None and capacity.sites < listed_sites:
        found.append(f"capacity.sites {capacity.sites} is fewer than the {listed_sites} sites listed; leave it out or raise it")
        return found
    needed = need(capacity, listed_sites)
    job = f"a job of {count_sites(needed.sites)} with a {capacity.model_mb} MB model"
    if needed.instance_fits(instance_type) is False:
        smallest = needed.smallest_instance(arm64=graviton(instance_type))
        fix = f"use {smallest} ({memory_gib(smallest):g} GiB) or larger" if smallest else "no single hub in the table holds it"
        found.append(
            f"hub.instance_type {instance_type} ({memory_gib(instance_type):g} GiB) cannot hold {job}: the sizing rule predicts "
            f"{needed.memory_mib / 1024:.1f} GiB at its peak (FL server {needed.server_mib / 1024:.1f}, dashboard and system "
            f"{(DASHBOARD_MIB + SYSTEM_MIB) / 1024:.1f}) and {HEADROOM:.0%} is kept free; {fix}"
        )
    if data_volume_gib < needed.volume_gib:
        found.append(
            f"hub.data_volume_gib {data_volume_gib} cannot keep {capacity.rounds_kept} global models of {capacity.model_mb} MB "
            f"below the DataVolumeAlarm's {VOLUME_ALARM_FULL:.0%}; set hub.data_volume_gib: {needed.volume_gib} (or lower capacity.rounds_kept)"
        )
    return found


def describe(capacity: Capacity, *, instance_type: str, data_volume_gib: int, listed_sites: int) -> list[str]:
    """The synth summary's lines: the predicted peak and the headroom."""
    needed = need(capacity, listed_sites)
    gib = memory_gib(instance_type)
    memory = (
        f"{instance_type} has {gib:g} GiB: {gib - needed.memory_mib / 1024:.1f} GiB to spare"
        if gib is not None
        else f"{instance_type} is not in the sizing table: not checked"
    )
    return [
        f"largest job: {count_sites(needed.sites)} x {capacity.model_mb} MB model: predicted peak {needed.memory_mib / 1024:.1f} GiB "
        f"(FL server {needed.server_mib / 1024:.1f}, dashboard and system {(DASHBOARD_MIB + SYSTEM_MIB) / 1024:.1f}); {memory}",
        f"data volume: {capacity.rounds_kept} global models kept need {needed.volume_gib} GiB below the alarm's "
        f"{VOLUME_ALARM_FULL:.0%}; {data_volume_gib} GiB: {data_volume_gib - needed.volume_gib} GiB to spare",
    ]


TABLE_MODELS_MB = (10, 100, 250, 500, 1000, 2000)
TABLE_SITES = (2, 5, 10, 20, 50, 100)


def sizing_table() -> str:
    """The README's table: the smallest hub (LADDER) for sites x model size, by the rule."""
    lines = ["| model \\ sites | " + " | ".join(str(n) for n in TABLE_SITES) + " |", "|---" * (len(TABLE_SITES) + 1) + "|"]
    for megabytes in TABLE_MODELS_MB:
        cells = [need(Capacity(model_mb=megabytes), n).smallest_instance() or "none" for n in TABLE_SITES]
        lines.append(f"| {megabytes} MB | " + " | ".join(cells) + " |")
    return "\n".join(lines)
