#!/bin/bash
# Launcher mode (NVFlare >= 2.9, Slurm >= 23.02.3 with sacct): run once on the login node.
# Installs the client through the shared runtime, then lets NVFlare prepare the kit for its
# Slurm job launcher: the client parent runs as a small CPU-only job, and every FL job
# becomes its own GPU job, so a GPU is held only while an FL job runs.
set -euo pipefail

# @SETTINGS@ SITE_DIR

bash "${SITE_DIR}/flare-client.sh" "${SITE_DIR}/client.env" install
# shellcheck source=/dev/null
. "${SITE_DIR}/client.env"
rm -rf "${SITE_DIR}/prepared"
"${VENV}/bin/nvflare" deploy prepare "${SITE_ROOT}/kit" --config "${SITE_DIR}/slurm.yaml" --output "${SITE_DIR}/prepared"
echo "flare-launcher: prepared ${SITE_DIR}/prepared; start it with: bash ${SITE_DIR}/flare-watchdog.sh"
