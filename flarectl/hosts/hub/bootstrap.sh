#!/bin/bash
# Hub bootstrap: cloud-init runs it as root at every boot (scripts-user: always), so a
# changed deploy takes effect after the instance restarts. Every step checks before it
# changes anything: a second run installs, formats, rewrites and restarts nothing.
# FLARE_ROOT (empty on a host) lets the tests run it inside a sandbox directory.
set -euo pipefail

# HUB_ENV is the text of hub.env, rendered by flarectl/hub_env.py (what the services read).
# @SETTINGS@ PROJECT NVFLARE_VERSION CERTBOT_VERSION SERVER_REQUIREMENTS AWS_REGION CERTIFICATE_MODE DATA_VOLUME_ID RUNTIME_BUCKET RUNTIME_KEY UV_VERSION LOG_GROUP_PREFIX HUB_ENV

readonly ROOT="${FLARE_ROOT:-}"
readonly SERVICE_USER=nvflare
readonly PROXY_USER=flare-proxy  # nginx's workers (flare-proxy.service); may use the dashboard's socket
readonly INSTALL_ROOT="${ROOT}/opt/nvflare"
readonly DATA_DIR="${ROOT}/var/lib/nvflare"
readonly VENV="${INSTALL_ROOT}/venv-${NVFLARE_VERSION}"
readonly CERTBOT_VENV="${INSTALL_ROOT}/certbot"
readonly UV_TOOLS="${INSTALL_ROOT}/uv" PYTHON=python3
readonly RUNTIME_DIR="${INSTALL_ROOT}/hub"
readonly UNIT_DIR="${ROOT}/etc/systemd/system"
readonly SETTINGS_FILE="${ROOT}/etc/nvflare/hub.env"
# zip: the dashboard zips startup kits; nginx: the proxy on 443 (flare-proxy.service, not Debian's nginx.service)
readonly PACKAGES=(python3-venv python3-pip ca-certificates e2fsprogs zip curl gpg nginx)
readonly UNITS=(flare-proxy.service flare-dashboard.socket flare-dashboard.service flare-server.service flare-health.service flare-health.timer
  flare-cert-renew.service flare-cert-renew.timer flare-kit-sync.service flare-kit-sync.timer flare-project.service
  flare-.service.d/10-sandbox.conf)

# AWS's agent package bucket and its signing key's fingerprint (AWS's "Verify the signature of
# the CloudWatch agent package"); 1.300070.0 is the first agent that reads the systemd journal.
readonly CLOUDWATCH_AGENT_URL="https://amazoncloudwatch-agent.s3.amazonaws.com"
readonly CLOUDWATCH_AGENT_KEY="937616F3450B7D806CBD9725D58167303B789C72"
readonly CLOUDWATCH_AGENT_MIN="1.300070.0"
readonly CLOUDWATCH_AGENT_DIR="${ROOT}/opt/aws/amazon-cloudwatch-agent"

log() { echo "flare-bootstrap: $*"; }

install_packages() {
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q "install ok installed" || missing+=("${package}")
  done
  # Debian's own nginx.service would start on port 80 with a default site the moment nginx is installed.
  if [ "$(readlink "${UNIT_DIR}/nginx.service" || true)" != /dev/null ]; then
    install -d -m 0755 "${UNIT_DIR}"
    ln -sfn /dev/null "${UNIT_DIR}/nginx.service"  # what `systemctl mask` does
    systemctl daemon-reload
    systemctl stop nginx.service 2>/dev/null || true
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    log "installed ${missing[*]}"
  fi
}

data_device() {
  # Nitro instances name EBS volumes by id; Xen instances use the attachment name.
  local by_id="${ROOT}/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${DATA_VOLUME_ID//-/}"
  local attempt
  for attempt in $(seq 1 60); do
    for candidate in "${by_id}" "${ROOT}/dev/xvdf" "${ROOT}/dev/sdf"; do
      if [ -e "${candidate}" ]; then
        echo "${candidate}"
        return 0
      fi
    done
    [ "${attempt}" -eq 1 ] && log "waiting for data volume ${DATA_VOLUME_ID} to attach"
    sleep 5
  done
  return 1
}

attach_data_volume() {
  # The instance role attaches it, not the template: a replacement instance waits here until
  # the instance it replaces has released the volume (instance.py says why).
  AWS_DEFAULT_REGION="${AWS_REGION}" "${VENV}/bin/python" "${RUNTIME_DIR}/instance.py" attach "${DATA_VOLUME_ID}" /dev/sdf ||
    { log "data volume ${DATA_VOLUME_ID} not attached; not starting services"; exit 1; }
}

mount_data_volume() {
  if mountpoint -q "${DATA_DIR}"; then
    return 0
  fi
  local device uuid
  attach_data_volume
  device="$(data_device)" || { log "data volume ${DATA_VOLUME_ID} never attached; not starting services"; exit 1; }
  if ! blkid "${device}" >/dev/null 2>&1; then
    mkfs.ext4 -q -L flare-data "${device}"
    log "formatted new data volume ${DATA_VOLUME_ID}"
  fi
  uuid="$(blkid -s UUID -o value "${device}")"
  install -d -m 0755 "${DATA_DIR}"
  if ! grep -q "UUID=${uuid}" "${ROOT}/etc/fstab" 2>/dev/null; then
    echo "UUID=${uuid} /var/lib/nvflare ext4 defaults,nofail 0 2" >>"${ROOT}/etc/fstab"
  fi
  mount "${DATA_DIR}"
  log "mounted data volume ${DATA_VOLUME_ID} at /var/lib/nvflare"
}

create_service_user() {
  if ! id "${SERVICE_USER}" >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/nvflare --shell /usr/sbin/nologin "${SERVICE_USER}"
    log "created system user ${SERVICE_USER}"
  fi
  if ! id "${PROXY_USER}" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "${PROXY_USER}"
    log "created system user ${PROXY_USER}"
  fi
  # By number: a data volume from another host (a replacement, a restore) may carry files of
  # an nvflare user with another uid; then the whole tree is re-owned, not only its top.
  if [ "$(stat -c %u "${DATA_DIR}")" != "$(id -u "${SERVICE_USER}")" ]; then
    chown -R "${SERVICE_USER}:${SERVICE_USER}" "${DATA_DIR}"
    chmod 0750 "${DATA_DIR}"
    log "gave ${DATA_DIR} to ${SERVICE_USER} (uid $(id -u "${SERVICE_USER}"))"
  fi
}

prepare_data_dir() {
  # What the units need before they start: the proxy binds the certificate folder; the dashboard
  # loads its token-signing key as a systemd credential. Both private to nvflare (hubctl keeps
  # the folders and the database private from then on).
  local folder
  for folder in "${DATA_DIR}/certs" "${DATA_DIR}/dashboard"; do
    if [ ! -d "${folder}" ]; then
      install -d -m 0700 "${folder}"
      chown "${SERVICE_USER}:${SERVICE_USER}" "${folder}"
    fi
    chmod 0700 "${folder}"  # made 755 by releases before the proxy
  done
  if [ ! -s "${DATA_DIR}/dashboard/secret_key" ]; then
    (umask 077 && "${VENV}/bin/python" -c 'import secrets; print(secrets.token_hex(32))' >"${DATA_DIR}/dashboard/secret_key")
    chown "${SERVICE_USER}:${SERVICE_USER}" "${DATA_DIR}/dashboard/secret_key"
    log "made the dashboard's token-signing key"
  fi
}

package_version() { # venv package
  "$1/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$2" 2>/dev/null || true
}

# @INCLUDE@ common/venv-install.sh

install_nvflare() {
  if [ "$(package_version "${VENV}" nvflare)" != "${NVFLARE_VERSION}" ]; then
    install -d -m 0755 "${INSTALL_ROOT}"
    python3 -m venv "${VENV}"
    venv_install "${VENV}" "nvflare==${NVFLARE_VERSION}" boto3
    log "installed nvflare ${NVFLARE_VERSION} into ${VENV}"
  fi
  # Jobs whose server-side code imports e.g. torch fail without it (the guide's "Error 113").
  # One PEP 508 requirement per line, installed from a file: never split into words.
  if [ -n "${SERVER_REQUIREMENTS}" ] && ! printf '%s\n' "${SERVER_REQUIREMENTS}" | cmp -s - "${VENV}/.server-requirements"; then
    printf '%s\n' "${SERVER_REQUIREMENTS}" >"${VENV}/.server-requirements.new"
    venv_install "${VENV}" -r "${VENV}/.server-requirements.new"
    mv "${VENV}/.server-requirements.new" "${VENV}/.server-requirements"
    CHANGED=yes
    log "installed server requirements: $(paste -sd ' ' "${VENV}/.server-requirements")"
  fi
  if [ "$(readlink "${INSTALL_ROOT}/venv" || true)" != "${VENV}" ]; then
    ln -sfn "${VENV}" "${INSTALL_ROOT}/venv"
    # The services started at boot run the release the link named then: restart them below.
    CHANGED=yes
  fi
}

install_certbot() {
  [ "${CERTIFICATE_MODE}" = "letsencrypt" ] || return 0
  if [ "$(package_version "${CERTBOT_VENV}" certbot)" != "${CERTBOT_VERSION}" ]; then
    python3 -m venv "${CERTBOT_VENV}"
    venv_install "${CERTBOT_VENV}" "certbot==${CERTBOT_VERSION}" "certbot-dns-route53==${CERTBOT_VERSION}"
    log "installed certbot ${CERTBOT_VERSION}"
  fi
}

fetch_runtime() {
  # hubctl.py and the units travel as a CDK asset; its key changes whenever they do.
  if [ "$(cat "${RUNTIME_DIR}/.asset" 2>/dev/null || true)" = "${RUNTIME_KEY}" ]; then
    return 0
  fi
  "${VENV}/bin/python" "${ROOT}/opt/nvflare/bin/fetch_s3_zip.py" "${RUNTIME_BUCKET}" "${RUNTIME_KEY}" "${RUNTIME_DIR}"
  echo "${RUNTIME_KEY}" >"${RUNTIME_DIR}/.asset"
  CHANGED=yes
  log "installed hub runtime ${RUNTIME_KEY}"
}

write_settings() {
  if ! printf '%s' "${HUB_ENV}" | cmp -s - "${SETTINGS_FILE}"; then
    install -d -m 0755 "$(dirname "${SETTINGS_FILE}")"
    printf '%s' "${HUB_ENV}" >"${SETTINGS_FILE}"
    chmod 0644 "${SETTINGS_FILE}"
    CHANGED=yes
  fi
}

install_units() {
  local unit
  install -d -m 0755 "${UNIT_DIR}"
  for unit in "${UNITS[@]}"; do
    if ! cmp -s "${RUNTIME_DIR}/units/${unit}" "${UNIT_DIR}/${unit}"; then
      install -D -m 0644 "${RUNTIME_DIR}/units/${unit}" "${UNIT_DIR}/${unit}"
      CHANGED=yes
    fi
  done
  if [ "${CHANGED}" = yes ]; then
    systemctl daemon-reload
    systemctl enable flare-proxy.service flare-dashboard.socket flare-dashboard.service flare-server.service \
      flare-project.service flare-health.timer flare-cert-renew.timer flare-kit-sync.timer
    systemctl restart flare-dashboard.socket flare-dashboard.service flare-proxy.service
    # A running FL server (started at boot before this ran) picks up its new unit, runtime or release now.
    systemctl try-restart flare-server.service
    systemctl start flare-health.timer flare-cert-renew.timer flare-kit-sync.timer
    log "installed and (re)started the hub services"
  fi
  # Issue a certificate, configure the project and fetch a published kit now, not at the first tick;
  # start the FL server if a kit is already on the volume (a replacement host: kit-sync finds
  # nothing new to install, so it would not; without a kit the unit's condition skips it).
  systemctl start --no-block flare-cert-renew.service flare-project.service flare-kit-sync.service flare-server.service
}

ship_logs() {
  # The FL server's audit trail and the services' journals to CloudWatch Logs. It never stops
  # the hub: without the agent the logs stay in the journal and the next boot tries again.
  if ! bash "${RUNTIME_DIR}/install-cloudwatch-agent.sh" "${CLOUDWATCH_AGENT_URL}" "${CLOUDWATCH_AGENT_KEY}" "${CLOUDWATCH_AGENT_MIN}"; then
    log "logs are not shipped to CloudWatch Logs this boot"
    return 0
  fi
  local config file="${CLOUDWATCH_AGENT_DIR}/etc/flare-hub.json"
  config="$("${VENV}/bin/python" "${RUNTIME_DIR}/cloudwatch_agent.py" "${LOG_GROUP_PREFIX}")"
  if [ "$(cat "${file}" 2>/dev/null || true)" != "${config}" ] || ! systemctl is-active --quiet amazon-cloudwatch-agent.service; then
    install -d -m 0755 "$(dirname "${file}")"
    echo "${config}" >"${file}"
    "${CLOUDWATCH_AGENT_DIR}/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s -c "file:${file}"
    log "shipping the audit trail and service logs to CloudWatch Logs under ${LOG_GROUP_PREFIX}"
  fi
}

main() {
  CHANGED=no
  log "starting (project ${PROJECT}, nvflare ${NVFLARE_VERSION})"
  install_packages
  install_nvflare
  fetch_runtime
  mount_data_volume
  create_service_user
  prepare_data_dir
  install_certbot
  write_settings
  # The agent's journal input starts at the journal's end: running it before the services
  # start keeps the first boot's zero-touch, certificate and kit lines, the boot most worth auditing.
  ship_logs
  install_units
  log "done"
}

main "$@"
