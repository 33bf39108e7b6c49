#!/bin/bash
# Hub bootstrap: EC2 runs it as root from user data at first boot. Safe to run again:
# every step checks before it changes anything.
set -euo pipefail

# @SETTINGS@ PROJECT NVFLARE_VERSION SERVER_REQUIREMENTS FL_PORT KIT_BUCKET ADMIN_SECRET_NAME AWS_REGION DASHBOARD_NAME SERVER_NAME CERTIFICATE_MODE

readonly SERVICE_USER=nvflare
readonly INSTALL_ROOT=/opt/nvflare
readonly DATA_DIR=/var/lib/nvflare
readonly VENV="${INSTALL_ROOT}/venv-${NVFLARE_VERSION}"

log() { echo "flare-bootstrap: $*"; }

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends python3-venv python3-pip ca-certificates curl unzip
}

create_service_user() {
  if ! id "${SERVICE_USER}" >/dev/null 2>&1; then
    useradd --system --home-dir "${DATA_DIR}" --shell /usr/sbin/nologin "${SERVICE_USER}"
    log "created system user ${SERVICE_USER}"
  fi
  install -d -o "${SERVICE_USER}" -g "${SERVICE_USER}" -m 0750 "${DATA_DIR}"
}

installed_nvflare_version() {
  "${VENV}/bin/python" -c 'import importlib.metadata as m; print(m.version("nvflare"))' 2>/dev/null || true
}

install_nvflare() {
  if [ "$(installed_nvflare_version)" = "${NVFLARE_VERSION}" ]; then
    log "nvflare ${NVFLARE_VERSION} already installed in ${VENV}"
  else
    install -d -m 0755 "${INSTALL_ROOT}"
    python3 -m venv "${VENV}"
    "${VENV}/bin/pip" install --quiet --upgrade pip
    "${VENV}/bin/pip" install --quiet "nvflare==${NVFLARE_VERSION}" boto3
    log "installed nvflare ${NVFLARE_VERSION} into ${VENV}"
  fi
  if [ -n "${SERVER_REQUIREMENTS}" ]; then
    # Jobs whose code imports e.g. torch on the server fail without it ("Error 113").
    read -r -a requirements <<<"${SERVER_REQUIREMENTS}"
    "${VENV}/bin/pip" install --quiet "${requirements[@]}"
    log "installed server requirements: ${SERVER_REQUIREMENTS}"
  fi
  ln -sfn "${VENV}" "${INSTALL_ROOT}/venv"
}

write_hub_settings() {
  install -d -m 0755 /etc/nvflare
  cat >/etc/nvflare/hub.env <<SETTINGS
PROJECT=${PROJECT}
NVFLARE_VERSION=${NVFLARE_VERSION}
FL_PORT=${FL_PORT}
KIT_BUCKET=${KIT_BUCKET}
ADMIN_SECRET_NAME=${ADMIN_SECRET_NAME}
AWS_REGION=${AWS_REGION}
DASHBOARD_NAME=${DASHBOARD_NAME}
SERVER_NAME=${SERVER_NAME}
CERTIFICATE_MODE=${CERTIFICATE_MODE}
SETTINGS
  chmod 0644 /etc/nvflare/hub.env
}

main() {
  log "starting (project ${PROJECT}, nvflare ${NVFLARE_VERSION})"
  install_packages
  create_service_user
  install_nvflare
  write_hub_settings
  log "done"
}

main "$@"
