#!/bin/bash
# Launcher mode (NVFlare >= 2.9, Slurm with accounting: sacct must answer): run once on the
# login node, and again after a new kit or a changed slurm.yaml. Installs the client through
# the shared runtime, then lets NVFlare prepare the kit for its Slurm job launcher: the client
# parent runs as a small CPU-only job, and every FL job becomes its own GPU job, submitted
# through flare-sbatch.sh with the site's GPU request, so a GPU is held only while it trains.
set -euo pipefail

# @SETTINGS@ SITE_DIR

bash "${SITE_DIR}/flare-client.sh" "${SITE_DIR}/client.env" install
# shellcheck source=/dev/null
. "${SITE_DIR}/client.env"
if ! sacct -X -n --starttime=now --format=JobIDRaw > /dev/null; then
  echo "flare-launcher: sacct does not answer; NVFlare's Slurm launcher needs Slurm accounting (slurmdbd). Ask the cluster's admins, or use mode: allocation." >&2
  exit 1
fi
# NVFlare runs it directly and checks that it is executable; a copied folder may have lost the bit.
chmod 0700 "${SITE_DIR}/flare-sbatch.sh"
rm -rf "${SITE_DIR}/prepared"
"${VENV}/bin/nvflare" deploy prepare "${SITE_ROOT}/kit" --config "${SITE_DIR}/slurm.yaml" --output "${SITE_DIR}/prepared"
echo "flare-launcher: prepared ${SITE_DIR}/prepared; start it with: bash ${SITE_DIR}/flare-watchdog.sh"
