#!/usr/bin/env python3
"""hubctl: what the hub's systemd units run.

  proxy         make a certificate if there is none, write nginx's configuration and exec nginx
                (HTTPS on 443 in front of the dashboard; nginx.conf says why each setting)
  dashboard     prepare and exec the NVFlare dashboard (gunicorn on a local socket)
  server        write local/resources.json and exec the FL server from the current kit
  health        check the proxy, the dashboard and the FL port; restart a unit that failed twice
                in a row (hub_health.py); publish the figures the alarms watch (hub_metrics.py)
  cert-renew    issue or renew the Let's Encrypt certificate (timer, twice a day)
  cert-deploy   certbot deploy hook: install the renewed lineage and reload the proxy
  kit-sync      install the server kit the Project Admin published in the kit store
  project       set the dashboard's project from the federation file, then make and install
                the hub's own server kit (dashboard_project.py)

Settings come from the environment (systemd's EnvironmentFile=/etc/nvflare/hub.env).
Only the standard library, boto3 and cryptography (an NVFlare dependency) are used.
"""

from __future__ import annotations

import argparse
import sys

from hub_certificates import cert_deploy, cert_renew
from hub_kits import kit_sync, project
from hub_services import dashboard, health, proxy, server
from hub_settings import Hub

COMMANDS = {
    "proxy": proxy,
    "dashboard": dashboard,
    "server": server,
    "health": health,
    "cert-renew": cert_renew,
    "cert-deploy": cert_deploy,
    "kit-sync": kit_sync,
    "project": project,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args()
    return COMMANDS[args.command](Hub.from_env())


if __name__ == "__main__":
    sys.exit(main())
