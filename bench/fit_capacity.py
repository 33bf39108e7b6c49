#!/usr/bin/env python3
"""Fits the hub's sizing rule (flarectl/config/capacity.py) to bench/hub_capacity.py's
measurements and prints its constants and its error on the points held out of the fit.

  server peak MiB = base + per_model * S + per_site_model * N * S     (N sites, S MB model)

Least squares on relative error (a big model's point does not drown the small ones), on every
point but the held-out ones: each model size's largest N, so the error says how the rule
extrapolates to more sites than it was fitted on. A unit test keeps capacity.py's constants
equal to this fit of the committed CSV.

Run: .venv/bin/python bench/fit_capacity.py [bench/results/hub_capacity.csv]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

CSV = Path(__file__).resolve().parent / "results" / "hub_capacity.csv"


def read(path: Path = CSV) -> list[dict[str, float]]:
    with path.open() as file:
        return [
            {k: float(v) for k, v in row.items() if k != "aggregator"} for row in csv.DictReader(file) if row["aggregator"] == "in-time"
        ]


def held_out(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """Each model size's point with the most sites, when that size has at least three points."""
    out = []
    for size in sorted({r["model_mb"] for r in rows}):
        line = sorted((r for r in rows if r["model_mb"] == size), key=lambda r: r["sites"])
        if len(line) >= 3:
            out.append(line[-1])
    return out


def fit(rows: list[dict[str, float]]) -> dict[str, float]:
    test = held_out(rows)
    train = [r for r in rows if r not in test]
    design = np.array([[1.0, r["model_mb"], r["sites"] * r["model_mb"]] for r in train])
    target = np.array([r["server_peak_mib"] for r in train])
    weights = 1.0 / target  # relative error
    coefficients, *_ = np.linalg.lstsq(design * weights[:, None], target * weights, rcond=None)
    base, per_model, per_site_model = (round(float(c), 2) for c in coefficients)

    def predict(r: dict[str, float]) -> float:
        return base + per_model * r["model_mb"] + per_site_model * r["sites"] * r["model_mb"]

    error = max((abs(predict(r) - r["server_peak_mib"]) / r["server_peak_mib"] for r in test), default=float("nan"))
    store = [r["store_mib_job"] / r["model_mb"] for r in rows if r["model_mb"] >= 100]
    return {
        "SERVER_BASE_MIB": base,
        "SERVER_PER_MODEL_MB": per_model,
        "SERVER_PER_SITE_MODEL_MB": per_site_model,
        "HELD_OUT_ERROR": round(float(error), 3),
        "STORE_MIB_PER_MODEL_MB": round(max(store), 3) if store else float("nan"),
        "DASHBOARD_MIB": max(r["dashboard_mib"] for r in rows),
        "fitted_on": len(train),
        "held_out": len(test),
    }


def main() -> int:
    rows = read(Path(sys.argv[1]) if len(sys.argv) > 1 else CSV)
    result = fit(rows)
    for name, value in result.items():
        print(f"{name} = {value}")
    test = held_out(rows)
    for r in test:
        predicted = (
            result["SERVER_BASE_MIB"]
            + result["SERVER_PER_MODEL_MB"] * r["model_mb"]
            + result["SERVER_PER_SITE_MODEL_MB"] * r["sites"] * r["model_mb"]
        )
        print(
            f"held out: N={r['sites']:.0f} S={r['model_mb']:.0f} MB measured {r['server_peak_mib']:.0f} MiB, predicted {predicted:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
