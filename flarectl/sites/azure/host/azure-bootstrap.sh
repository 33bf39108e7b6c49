#!/bin/bash
# Azure client site bootstrap: cloud-init runs it once per VM, as root, after writing the
# site's files from the VM's custom data (the shared client runtime, its settings and the
# startup kit) and installing python3-venv. It installs Canonical's signed NVIDIA driver from
# Ubuntu's archive (ubuntu-drivers; it loads with Secure Boot on, and no extension races
# cloud-init's apt for the dpkg lock), unless nvidia-smi already answers. Then the shared
# runtime is installed as flare-client.service, which starts
# at every boot. FLARE_ROOT (empty on a host) lets the tests run it inside a sandbox directory.
set -euo pipefail

# @SETTINGS@ NVIDIA_DRIVER_BRANCH SETTINGS_PATH BUNDLE_PATH

readonly ROOT="${FLARE_ROOT:-}"
readonly BUNDLE="${ROOT}${BUNDLE_PATH}"
readonly SETTINGS_FILE="${ROOT}${SETTINGS_PATH}"

log() { echo "flare-client-bootstrap: $*"; }

install_driver() {
  if nvidia-smi -L >/dev/null 2>&1; then
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends ubuntu-drivers-common
  # Signed, precompiled kernel modules for the Azure kernel plus nvidia-smi; no DKMS build.
  ubuntu-drivers install --gpgpu "nvidia:${NVIDIA_DRIVER_BRANCH}"
  apt-get install -y -q --no-install-recommends "nvidia-utils-${NVIDIA_DRIVER_BRANCH}"
  modprobe nvidia
  log "installed the NVIDIA ${NVIDIA_DRIVER_BRANCH} driver from Ubuntu's archive"
}

main() {
  log "starting"
  install_driver
  bash "${BUNDLE}/runtime/install-service.sh" "${SETTINGS_FILE}" "$(sha256sum "${SETTINGS_FILE}" "${BUNDLE}/kit.zip" | sha256sum | cut -d' ' -f1)"
  log "done"
}

main "$@"
