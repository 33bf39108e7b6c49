"""A real federation's startup kits, made with the installed NVFlare's `nvflare provision`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ADMIN = "admin@hospital.test"


def provision(workdir: Path, *, project: str, fl_port: int, clients: list[str] | dict[str, str], server: str = "localhost",
              admins: list[tuple[str, str, str]] = ()) -> Path:  # fmt: skip
    """Kits for `server`, the given clients (a list: all of org "hospital"; a dict: name -> org),
    a project admin and `admins` (email, org, role); returns prod_00."""
    orgs = clients if isinstance(clients, dict) else dict.fromkeys(clients, "hospital")
    participants = [{"name": server, "type": "server", "org": "hospital", "fed_learn_port": fl_port}]
    participants += [{"name": name, "type": "client", "org": org} for name, org in orgs.items()]
    participants.append({"name": ADMIN, "type": "admin", "org": "hospital", "role": "project_admin"})
    participants += [{"name": email, "type": "admin", "org": org, "role": role} for email, org, role in admins]
    project_file = workdir / "project.yml"
    project_file.write_text(
        yaml.safe_dump(
            {
                "api_version": 3,
                "name": project,
                "description": "test federation",
                "participants": participants,
                "builders": [
                    {"path": "nvflare.lighter.impl.workspace.WorkspaceBuilder", "args": {"template_file": ["master_template.yml"]}},
                    {"path": "nvflare.lighter.impl.static_file.StaticFileBuilder", "args": {"config_folder": "config"}},
                    {"path": "nvflare.lighter.impl.cert.CertBuilder"},
                    {"path": "nvflare.lighter.impl.signature.SignatureBuilder"},
                ],
            }
        )
    )
    env = {**os.environ, "HOME": str(workdir)}  # the CLI writes ~/.nvflare
    nvflare = Path(sys.executable).parent / "nvflare"
    subprocess.run([str(nvflare), "provision", "-p", str(project_file), "-w", str(workdir / "workspace")], env=env, check=True,
                   capture_output=True, cwd=workdir)  # fmt: skip
    return workdir / "workspace" / project / "prod_00"


def client_command(kit: Path, site: str) -> list[str]:
    """NVFlare's foreground client (what sub_start.sh --once runs), from the kit root."""
    return [sys.executable, "-u", "-m", "nvflare.private.fed.app.client.client_train", "-m", str(kit), "-s", "fed_client.json",
            "--set", "secure_train=true", f"uid={site}", "org=hospital", "config_folder=config"]  # fmt: skip
