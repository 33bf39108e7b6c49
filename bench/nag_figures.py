#!/usr/bin/env python3
"""Compliance figures for a review: cdk-nag findings per pack (all of them, and those left
unacknowledged) and the acknowledgments by CloudFormation resource type, over the default
federation and a `dns:` + Let's Encrypt federation with an AWS site. Prints; asserts nothing.
The gate itself is the test suite (tests/unit/test_nag.py).

Run: .venv/bin/python bench/nag_figures.py [--root CHECKOUT]   (another checkout: "before" figures)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    root = parser.parse_args().root.resolve()
    sys.path.insert(0, str(root))

    import aws_cdk as cdk
    from cdk_nag import NIST80053R5Checks

    import flare_constructs.acknowledge as acknowledge_module
    from app import build_app
    from flarectl.config import DEFAULT_FEDERATION
    from flarectl.federation import load_federation
    from tests.harness.synth_fixtures import CDK_JSON_CONTEXT, DNS, fake_client_kit, federation

    kit = fake_client_kit(Path(tempfile.mkdtemp()), "onc-lab")
    federations = {
        "default": load_federation(DEFAULT_FEDERATION),
        "dns+letsencrypt+aws site": federation(
            dns=DNS,
            certificate={"mode": "letsencrypt"},
            sites=[{"name": "onc-lab", "kind": "aws", "kit": str(kit), "gpus": 1, "gpu_memory_gib": 24}],
        ),
    }

    def findings(fed) -> set[tuple[str, str, str]]:
        outdir = tempfile.mkdtemp(prefix="nag-figures-")
        app = cdk.App(outdir=outdir, context=CDK_JSON_CONTEXT)
        build_app(fed, app=app)
        if "NIST80053R5Checks" not in Path(root / "app.py").read_text():
            cdk.Validations.of(app).add_plugins(NIST80053R5Checks(app))
        quiet = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(1), os.dup(2)
        os.dup2(quiet, 1), os.dup2(quiet, 2)  # the synth prints every finding; the report file has them
        try:
            app.synth()
        except Exception:  # noqa: BLE001 - the report is what we read
            pass
        finally:
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
        report_file = Path(outdir) / "validation-report.json"
        if not report_file.exists():
            return set()
        report = json.loads(report_file.read_text())
        return {(p["pluginName"], v["ruleName"], c["constructPath"]) for p in report["pluginReports"] for v in p["violations"]
                for c in v["violatingConstructs"]}  # fmt: skip

    acknowledged: list[tuple[str, str]] = []
    real = acknowledge_module.Validations

    class Recorder:
        def __init__(self, scope) -> None:
            self.scope = scope

        @classmethod
        def of(cls, scope):
            return cls(scope)

        def acknowledge(self, *items) -> None:
            child = self.scope.node.default_child
            kind = getattr(child, "cfn_resource_type", None) or type(self.scope).__name__
            acknowledged.extend((kind, f"{self.scope.node.path}|{a.id}") for a in items)

    for name, fed in federations.items():
        left = findings(fed)
        setattr(acknowledge_module, "Validations", Recorder)  # noqa: B010 - swapped for this synth only
        everything = findings(fed)
        setattr(acknowledge_module, "Validations", real)  # noqa: B010
        print(f"{name}:")
        for pack in sorted({p for p, _, _ in everything | left}):
            total = sum(1 for p, _, _ in everything if p == pack)
            rules = len({r for p, r, _ in everything if p == pack})
            unacknowledged = sum(1 for p, _, _ in left if p == pack)
            print(f"  {pack}: {total} findings over {rules} rules; {unacknowledged} unacknowledged")
    by_type = collections.Counter(kind for kind, _ in set(acknowledged))
    print(f"acknowledgments (distinct construct x rule, both federations): {len(set(acknowledged))}")
    for kind, count in by_type.most_common():
        print(f"  {kind}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
