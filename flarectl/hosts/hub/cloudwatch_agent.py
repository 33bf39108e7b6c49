#!/usr/bin/env python3
"""The Amazon CloudWatch agent's configuration on the hub: which log goes to which log group.

  cloudwatch_agent.py PREFIX    print the agent's JSON configuration for log groups PREFIX/<name>

The stack creates one log group per name in LOGS (flare_constructs/hub_audit_logs.py reads
them from this file), encrypted with the project key and kept for audit.log_retention_days.
The agent (>= 1.300070.0) reads the systemd journal itself, so the services keep logging to
the journal only. Standard library only: it runs before anything else is installed.
"""

from __future__ import annotations

import json
import sys

# log group name (under the prefix): a file the agent tails, or the units whose journal it reads
LOGS: dict[str, dict[str, str | list[str]]] = {
    # Who submitted, aborted, listed or downloaded which job, from which admin certificate.
    "fl-server-audit": {"file": "/var/lib/nvflare/kits/current/audit.log"},
    "fl-server": {"units": ["flare-server.service"]},
    "dashboard": {"units": ["flare-dashboard.service"]},
    # nginx's access log, and the refused logins the RefusedLogins metric counts (hub_alerts.py).
    "proxy": {"units": ["flare-proxy.service"]},
    "health": {"units": ["flare-health.service"]},
    "certificates": {"units": ["flare-cert-renew.service"]},
    "kits": {"units": ["flare-kit-sync.service", "flare-project.service"]},
    "bootstrap": {"file": "/var/log/cloud-init-output.log"},
}


def render(prefix: str) -> dict:
    files, journald = [], []
    for name, source in LOGS.items():
        target = {"log_group_name": f"{prefix}/{name}", "log_stream_name": "{instance_id}"}
        if "file" in source:
            files.append({"file_path": source["file"], **target})
        else:
            journald.append({**target, "units": source["units"]})
    # root: audit.log and the data volume are readable by nvflare and root only.
    return {
        "agent": {"run_as_user": "root"},
        "logs": {"logs_collected": {"files": {"collect_list": files}, "journald": {"collect_list": journald}}},
    }


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].startswith("/"):
        sys.exit("usage: cloudwatch_agent.py /LOG/GROUP/PREFIX")
    print(json.dumps(render(sys.argv[1]), indent=2, sort_keys=True))
