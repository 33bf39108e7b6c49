"""flarectl: what CDK cannot do for the federation (validation, the synth summary, ...)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flarectl.config import DEFAULT_FEDERATION, ConfigError, load_federation
from flarectl.summary import summarize


def _validate(args: argparse.Namespace) -> int:
    try:
        federation = load_federation(args.config)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    print(f"{args.config}: OK (project {federation.project}, NVFlare {federation.nvflare_version}, {len(federation.sites)} sites)")
    return 0


def _summary(args: argparse.Namespace) -> int:
    print(summarize(Path(args.cdk_out)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flarectl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a federation file; one line per problem")
    validate.add_argument("config", nargs="?", default=str(DEFAULT_FEDERATION))
    validate.set_defaults(run=_validate)
    summary = commands.add_parser("summary", help="describe what `cdk synth` produced")
    summary.add_argument("cdk_out", nargs="?", default="cdk.out")
    summary.set_defaults(run=_summary)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
