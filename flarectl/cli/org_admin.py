"""The Org Admin's verbs: a site's files without CDK, its kit from the dashboard, and the
doctor that says whether this machine's client will connect and run jobs."""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

from flarectl.cli.common import CONFIG_HELP, load_site


def _site_files(args: argparse.Namespace) -> int:
    """The files `cdk synth` writes for one site, without CDK (for an Org Admin with only flarectl)."""
    found = load_site(args.config, args.site)
    if found is None:
        return 2
    federation, _, site = found
    from flarectl.sites.registry import KINDS

    emit = KINDS[site.kind].emit
    if emit is None:
        print(f"flarectl: {site.kind} sites are CloudFormation stacks, not files; `make synth` builds them", file=sys.stderr)
        return 2
    directory = Path(args.output or Path("cdk.out") / "sites" / site.name)
    written = emit(site, federation, directory)
    print(f"{directory}: {', '.join(path.name for path in written)} (see README.md)")
    return 0


def _site_kit(args: argparse.Namespace) -> int:
    """An Org Admin's site kit from the dashboard, into the federation file's `kit:` folder."""
    import getpass
    import os

    from flarectl import site_kit

    found = load_site(args.config, args.site)
    if found is None:
        return 2
    federation, index, site = found
    target = Path(args.output or site.kit or "")
    if not (args.output or site.kit):
        print(f"flarectl: sites[{index}].kit is not set; set it in the federation file or pass -o DIR", file=sys.stderr)
        return 2
    dashboard = args.dashboard or (f"https://{federation.dns.dashboard_name}" if federation.dns else None)
    if not dashboard:
        print("flarectl: the federation file has no dns: pass --dashboard https://<the hub's address>", file=sys.stderr)
        return 2
    server_name = federation.dns.server_name if federation.dns else None
    try:
        # Nothing is asked for before the dashboard answers and the target can take the kit.
        if target.exists() and any(target.iterdir()):
            raise site_kit.SiteKitError(
                f"{target} already holds files; move them away first (a kit is a private key: nothing is overwritten)"
            )
        client = site_kit.DashboardClient(dashboard, fingerprint=args.fingerprint)
        client.check_reachable()
        email = args.email or os.environ.get("FLARE_DASHBOARD_EMAIL") or input("dashboard email: ")
        password = os.environ.get("FLARE_DASHBOARD_PASSWORD") or getpass.getpass(f"dashboard password for {email}: ")
        dials = site_kit.fetch(client, email=email, password=password, site=site.name, target=target, server_name=server_name,
                               fl_port=federation.hub.fl_port)  # fmt: skip
    except site_kit.SiteKitError as error:
        print(f"flarectl: {error}", file=sys.stderr)
        return 2
    print(f"{target}: the startup kit of {site.name} (dials {dials}); its private key is startup/client.key (mode 600)")
    repository = site_kit.unignored_in_git(target)
    if repository:
        print(f"flarectl: WARNING: {target} is inside the git work tree {repository} and not ignored; add it to .gitignore "
              "so the private key is never committed", file=sys.stderr)  # fmt: skip
    return 0


def kit_site_name(kit: Path, password: str | None) -> str | None:
    """The site a client kit was made for (its sub_start.sh's uid=), from the folder or the zip."""
    import re

    try:
        if kit.is_dir():
            text = (kit / "startup" / "sub_start.sh").read_text()
        else:
            with zipfile.ZipFile(kit) as bundle:
                name = next(n for n in bundle.namelist() if n.endswith("startup/sub_start.sh"))
                text = bundle.read(name, pwd=password.encode() if password else None).decode()
    except (OSError, StopIteration, RuntimeError, zipfile.BadZipFile, UnicodeDecodeError):
        return None
    match = re.search(r"uid=([A-Za-z0-9_-]+)", text)
    return match.group(1) if match else None


def _site_doctor(args: argparse.Namespace) -> int:
    """The doctor the site's runtime runs (flare-doctor.py), here before setup. A kit zip's PIN
    is asked for once (kit_install.ask_pin) and handed to the doctor on its standard input."""
    from flarectl.client_runtime import exact
    from flarectl.host_scripts import HOSTS_DIR
    from flarectl.kit_install import ask_pin

    command = [sys.executable, str(HOSTS_DIR / "client" / "flare-doctor.py"), "--kit", args.kit, "--workdir", args.workdir]
    try:
        pin = ask_pin(Path(args.kit))
    except (OSError, zipfile.BadZipFile):
        pin = None  # the doctor names what is wrong with the kit
    if args.config:
        if not args.site:
            args.site = kit_site_name(Path(args.kit), pin)  # the help's default: the site the kit was made for
        if not args.site:
            print("flarectl: cannot tell from the kit which site it is for; pass --site NAME (the site's name in the federation file)",
                  file=sys.stderr)  # fmt: skip
            return 2
        found = load_site(args.config, args.site)
        if found is None:
            return 2
        federation, _, site = found
        command += ["--gpus", str(site.gpus), "--gpu-memory-gib", exact(site.gpu_memory_gib), "--port", str(federation.hub.fl_port)]
        if federation.dns:
            command += ["--server", federation.dns.server_name]
        if args.venv:
            command += ["--venv", args.venv, "--nvflare-version", federation.nvflare_version]
    elif args.venv:
        print("flarectl: --venv needs --config (the federation file names the NVFlare version)", file=sys.stderr)
        return 2
    if args.site:
        command += ["--site", args.site]
    return subprocess.run(command, input=None if pin is None else f"{pin}\n", text=True).returncode


def add_verbs(commands: argparse._SubParsersAction) -> None:
    files = commands.add_parser("site-files", help="write one site's files (what `cdk synth` writes to cdk.out/sites/<site>/)")
    files.add_argument("site", help="the site's name in the federation file")
    files.add_argument("-c", "--config", help=CONFIG_HELP)
    files.add_argument("-o", "--output", help="directory to write to (default: cdk.out/sites/<site>)")
    files.set_defaults(run=_site_files)
    kit_fetch = commands.add_parser("site-kit", help="an Org Admin's site startup kit").add_subparsers(
        dest="site_kit_command", required=True
    )
    fetch = kit_fetch.add_parser("fetch", help="download the site's kit from the dashboard into its kit: folder (no browser)")
    fetch.add_argument("--site", required=True, help="the site's name in the federation file and on the dashboard")
    fetch.add_argument("-c", "--config", help=CONFIG_HELP)
    fetch.add_argument("--dashboard", help="the dashboard's URL (default: https://<dns.dashboard_name>)")
    fetch.add_argument("--email", help="your dashboard login (default: $FLARE_DASHBOARD_EMAIL, else asked)")
    fetch.add_argument("-o", "--output", help="folder to unzip into (default: the site's kit: in the federation file)")
    fetch.add_argument("--fingerprint", metavar="SHA256",
                       help="a hub without DNS (self-signed certificate): accept exactly the certificate with this SHA-256 "
                            "fingerprint, which the Project Admin reads off the hub (stack output DashboardFingerprintCommand)")  # fmt: skip
    fetch.set_defaults(run=_site_kit)
    site = commands.add_parser("site", help="checks for a client site").add_subparsers(dest="site_command", required=True)
    doctor = site.add_parser(
        "doctor", help="can this machine's client connect, and will jobs run? (exit 0 ok, 1 cannot connect, 2 jobs would fail)"
    )
    doctor.add_argument("--kit", required=True, help="the site's startup kit: folder or the dashboard's zip")
    doctor.add_argument("--site", help="the site's name (default: the site the kit was made for)")
    doctor.add_argument("-c", "--config", help="federation file: check the site's registered GPUs (and --venv's NVFlare version)")
    doctor.add_argument("--venv", help="the site's venv, to check its NVFlare version")
    doctor.add_argument("--workdir", default=".", help="where jobs will run, for the disk check (default: here)")
    doctor.set_defaults(run=_site_doctor)
