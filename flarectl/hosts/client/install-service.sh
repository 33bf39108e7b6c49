#!/bin/bash
# Installs the shared client runtime as a systemd service on a cloud VM (AWS and Azure sites),
# as root: the nvflare user, the client (flare-client.sh install), and flare-client.service
# enabled and (re)started. The install is redone only when STAMP changes (the bootstrap passes
# what the install depends on), so a second run changes nothing.
#
#   install-service.sh SETTINGS_FILE STAMP
#
# The runtime (flare-client.sh, flare-client.service) sits next to this script.
# FLARE_ROOT (empty on a host) lets the tests run it inside a sandbox directory.
set -euo pipefail

[ "$#" -eq 2 ] || { echo "usage: install-service.sh SETTINGS_FILE STAMP" >&2; exit 1; }
readonly SETTINGS_FILE="$1" STAMP="$2"
readonly RUNTIME_DIR="${BASH_SOURCE[0]%/*}"
readonly ROOT="${FLARE_ROOT:-}"
readonly SERVICE_USER=nvflare
readonly UNIT="${ROOT}/etc/systemd/system/flare-client.service"
# The site root is the runtime's (client.env, rendered by flarectl/client_runtime.py).
SITE_ROOT="$(
  # shellcheck source=/dev/null
  . "${SETTINGS_FILE}"
  echo "${SITE_ROOT}"
)"
readonly SITE_ROOT

log() { echo "flare-client-install: $*"; }

id "${SERVICE_USER}" >/dev/null 2>&1 || useradd --system --home-dir "${SITE_ROOT#"${ROOT}"}" --shell /usr/sbin/nologin "${SERVICE_USER}"
install -d -m 0750 "${SITE_ROOT}"
if [ "$(cat "${SITE_ROOT}/.installed" 2>/dev/null || true)" = "${STAMP}" ]; then
  exit 0
fi
# Through bash: unzipping does not keep the execute bit.
bash "${RUNTIME_DIR}/flare-client.sh" "${SETTINGS_FILE}" install
chown -R "${SERVICE_USER}:${SERVICE_USER}" "${SITE_ROOT}"
install -d -m 0755 "$(dirname "${UNIT}")"
install -m 0644 "${RUNTIME_DIR}/flare-client.service" "${UNIT}"
systemctl daemon-reload
systemctl enable flare-client.service
systemctl restart flare-client.service
echo "${STAMP}" >"${SITE_ROOT}/.installed"
log "client installed and (re)started"
