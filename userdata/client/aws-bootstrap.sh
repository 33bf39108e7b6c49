#!/bin/bash
# AWS client site bootstrap: cloud-init runs it as root at every boot. It fetches this site's
# bundle (startup kit + the shared client runtime), then lets the shared runtime install the
# client and a systemd unit run it. Every step checks first: a second run changes nothing.
# FLARE_ROOT (empty on a host) lets the tests run it inside a sandbox directory.
set -euo pipefail

# @SETTINGS@ SITE_NAME NVFLARE_VERSION REQUIREMENTS GPUS GPU_MEMORY_GIB BUNDLE_BUCKET BUNDLE_KEY

readonly ROOT="${FLARE_ROOT:-}"
readonly INSTALL_ROOT="${ROOT}/opt/nvflare-client"
readonly SITE_ROOT="${ROOT}/var/lib/nvflare-client"
readonly VENV="${INSTALL_ROOT}/venv"
readonly BUNDLE="${INSTALL_ROOT}/bundle"
readonly SETTINGS_FILE="${ROOT}/etc/nvflare-client/client.env"

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
  [ -x "${VENV}/bin/python" ] || python3 -m venv "${VENV}"
  "${VENV}/bin/python" -c 'import boto3' 2>/dev/null || "${VENV}/bin/pip" install --quiet boto3
  rm -rf "${BUNDLE}"
  "${VENV}/bin/python" "${ROOT}/opt/nvflare/bin/fetch_s3_zip.py" "${BUNDLE_BUCKET}" "${BUNDLE_KEY}" "${BUNDLE}"
  echo "${BUNDLE_KEY}" >"${BUNDLE}/.asset"
  log "fetched site bundle ${BUNDLE_KEY}"
}

write_settings() {
  install -d -m 0755 "$(dirname "${SETTINGS_FILE}")"
  {
    printf '# Written by the AWS site bootstrap for userdata/client/flare-client.sh\n'
    printf 'SITE_NAME=%q\nNVFLARE_VERSION=%q\nREQUIREMENTS=%q\nGPUS=%q\nGPU_MEMORY_GIB=%q\n' \
      "${SITE_NAME}" "${NVFLARE_VERSION}" "${REQUIREMENTS}" "${GPUS}" "${GPU_MEMORY_GIB}"
    printf 'SITE_ROOT=%q\nKIT_SOURCE=%q\nVENV=%q\n' "${SITE_ROOT}" "${BUNDLE}/kit" "${VENV}"
  } >"${SETTINGS_FILE}.new"
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
  log "starting (site ${SITE_NAME}, nvflare ${NVFLARE_VERSION})"
  install_packages
  fetch_bundle
  write_settings
  install_client
  log "done"
}

main "$@"
