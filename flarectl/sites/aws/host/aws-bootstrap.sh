#!/bin/bash
# AWS client site bootstrap: cloud-init runs it as root at every boot. It fetches this site's
# bundle (startup kit + the shared client runtime), writes the client settings rendered at
# synth (CLIENT_SETTINGS, the text of client.env), then lets the shared runtime install the
# client and a systemd unit run it. Every step checks first: a second run changes nothing.
# The paths come from flarectl/client_runtime.py; FLARE_ROOT (empty on a host) lets the tests
# run it inside a sandbox directory.
set -euo pipefail

# @SETTINGS@ CLIENT_SETTINGS SETTINGS_PATH BUNDLE_PATH VENV_PATH BUNDLE_BUCKET BUNDLE_KEY

readonly ROOT="${FLARE_ROOT:-}"
readonly TOOLS="${ROOT}${VENV_PATH}-bootstrap"  # boto3, to fetch the bundle; the client's venvs are the runtime's
readonly BUNDLE="${ROOT}${BUNDLE_PATH}"
readonly SETTINGS_FILE="${ROOT}${SETTINGS_PATH}"

log() { echo "flare-client-bootstrap: $*"; }

install_packages() {
  if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed"; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends python3-venv
  fi
}

fetch_bundle() {
  if [ "$(cat "${BUNDLE}/.asset" 2>/dev/null || true)" = "${BUNDLE_KEY}" ]; then
    return 0
  fi
  [ -x "${TOOLS}/bin/python" ] || python3 -m venv "${TOOLS}"
  "${TOOLS}/bin/python" -c 'import boto3' 2>/dev/null || "${TOOLS}/bin/pip" install --quiet boto3
  rm -rf "${BUNDLE}"
  "${TOOLS}/bin/python" "${ROOT}/opt/nvflare/bin/fetch_s3_zip.py" "${BUNDLE_BUCKET}" "${BUNDLE_KEY}" "${BUNDLE}"
  echo "${BUNDLE_KEY}" >"${BUNDLE}/.asset"
  log "fetched site bundle ${BUNDLE_KEY}"
}

write_settings() {
  install -d -m 0755 "$(dirname "${SETTINGS_FILE}")"
  printf '%s' "${CLIENT_SETTINGS}" >"${SETTINGS_FILE}.new"
  if cmp -s "${SETTINGS_FILE}.new" "${SETTINGS_FILE}"; then
    rm "${SETTINGS_FILE}.new"
  else
    mv "${SETTINGS_FILE}.new" "${SETTINGS_FILE}"
  fi
}

install_client() {
  # Redo the install when the bundle or the settings changed, or when it never finished.
  bash "${BUNDLE}/runtime/install-service.sh" "${SETTINGS_FILE}" "${BUNDLE_KEY} $(sha256sum "${SETTINGS_FILE}" | cut -d' ' -f1)"
}

main() {
  log "starting (bundle ${BUNDLE_KEY:-none})"
  install_packages
  fetch_bundle
  write_settings
  install_client
  log "done"
}

main "$@"
