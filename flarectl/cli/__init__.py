"""flarectl: what CDK cannot do for the federation, grouped by who runs it (project_admin.py,
org_admin.py, lead.py; site kinds add their own verbs). A verb imports what it needs when it
runs: a Lead's `flarectl submit` loads neither pydantic nor the site kinds nor a cloud SDK."""

from __future__ import annotations

import argparse
import sys

from flarectl.cli import lead, org_admin, project_admin

ROLES = (project_admin, org_admin, lead)
# A verb's optional dependency, by the top-level module its import names (pyproject.toml extras).
EXTRAS = {"azure": "azure", "boto3": "aws", "botocore": "aws", "nvflare": "lead"}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flarectl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for role in ROLES:
        role.add_verbs(commands)
    if not argv or argv[0] not in commands.choices:  # a kind's verb, or help: the registry loads
        from flarectl.cli.common import load_site
        from flarectl.sites.registry import KINDS

        for kind in KINDS.values():
            if kind.add_commands:
                kind.add_commands(commands, load_site)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    if not getattr(args, "debug", True):
        import logging

        logging.disable(logging.CRITICAL)  # NVFlare's connector errors too: the command says what failed, once
    try:
        return args.run(args)
    except ModuleNotFoundError as error:
        extra = EXTRAS.get((error.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"flarectl: `flarectl {args.command}` needs flarectl[{extra}]: pip install 'flarectl[{extra}]' ({error.name} is not installed)",
              file=sys.stderr)  # fmt: skip
        return 2


if __name__ == "__main__":
    sys.exit(main())
