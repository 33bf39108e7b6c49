#!/bin/bash
# The shared NVFlare client runtime. Every site kind (AWS, Azure, Slurm, WSL) installs and
# runs its client through this one script; each platform only wraps it (a systemd unit, a
# Slurm job script, a start script) and writes its settings file.
#
#   flare-client.sh SETTINGS_FILE install   venv with the pinned NVFlare + the site's requirements,
#                                            the startup kit in place, local/resources.json and the
#                                            site's governance (local/authorization.json, privacy.json)
#   flare-client.sh SETTINGS_FILE run       wait until the GPUs answer, then run the client in
#                                            the foreground (NVFlare's client_train; no fork loop)
#   flare-client.sh SETTINGS_FILE doctor    check the kit, the server name, port, TLS and clock,
#                                            the GPUs, NVFlare and the disk (flare-doctor.py, beside
#                                            this script); exit 0 ok, 1 cannot connect, 2 jobs would fail
#
# SETTINGS_FILE holds shell-quoted NAME=value lines: SITE_NAME NVFLARE_VERSION REQUIREMENTS
# GPUS GPU_MEMORY_GIB SITE_ROOT KIT_SOURCE and optionally VENV, VENV_MANAGED, PYTHON, UV_VERSION,
# GPU_WAIT_SECONDS, AUTHORIZATION_JSON, PRIVACY_JSON.
set -euo pipefail

log() { echo "flare-client: $*"; }
die() { echo "flare-client: $*" >&2; exit 1; }

[ "$#" -eq 2 ] || die "usage: flare-client.sh SETTINGS_FILE install|run|doctor"
readonly SETTINGS_FILE="$1" COMMAND="$2"
[ -r "${SETTINGS_FILE}" ] || die "settings file ${SETTINGS_FILE} not found"
# shellcheck source=/dev/null
. "${SETTINGS_FILE}"
: "${SITE_NAME:?}" "${NVFLARE_VERSION:?}" "${GPUS:?}" "${GPU_MEMORY_GIB:?}" "${SITE_ROOT:?}" "${KIT_SOURCE:?}"
readonly REQUIREMENTS="${REQUIREMENTS:-}"
readonly VENV="${VENV:-${SITE_ROOT}/venv}"
# VENV_MANAGED=true: VENV is a link to the venv of NVFLARE_VERSION, and each version keeps its
# own venv beside it (VENV-<version>). An upgrade installs the new one while the client runs,
# then switches the link; a rollback is a switch back, with nothing to install. Otherwise
# (a venv the site names itself) VENV is upgraded in place, as the site's own.
readonly VENV_MANAGED="${VENV_MANAGED:-false}"
if [ "${VENV_MANAGED}" = true ]; then
  readonly TARGET_VENV="${VENV}-${NVFLARE_VERSION}"
else
  readonly TARGET_VENV="${VENV}"
fi
readonly PYTHON="${PYTHON:-python3}"
readonly KIT_DIR="${SITE_ROOT}/kit"
readonly GPU_WAIT_SECONDS="${GPU_WAIT_SECONDS:-30}"
readonly UV_VERSION="${UV_VERSION:-}"  # the pinned uv installs the venv; empty: pip

nvflare_in() { # VENV_DIR: the NVFlare version installed there, or nothing
  "$1/bin/python" -c 'import importlib.metadata as m; print(m.version("nvflare"))' 2>/dev/null || true
}

# shellcheck disable=SC2034  # venv-install.sh reads it
readonly UV_TOOLS="${SITE_ROOT}/.uv"
# venv_install and find_uv: the pinned uv, else pip (one file for every host).
# shellcheck source=venv-install.sh disable=SC1091
. "$(dirname "$0")/venv-install.sh"

keep_unversioned_venv() {
  # A managed venv made before each version had its own: kept under its version's name (its
  # scripts still work, VENV links to it).
  [ "${VENV_MANAGED}" = true ] && [ -d "${VENV}" ] && [ ! -L "${VENV}" ] || return 0
  local version
  version="$(nvflare_in "${VENV}")"
  [ -n "${version}" ] || die "${VENV} is a directory without NVFlare; move it away and install again"
  [ ! -e "${VENV}-${version}" ] || die "${VENV} and ${VENV}-${version} both hold nvflare ${version}; remove one and install again"
  mv "${VENV}" "${VENV}-${version}"
  ln -s "${VENV}-${version}" "${VENV}"
  log "kept the venv of nvflare ${version} as ${VENV}-${version}"
}

install_venv() {
  keep_unversioned_venv
  if [ "$(nvflare_in "${TARGET_VENV}")" != "${NVFLARE_VERSION}" ]; then
    [ -x "${TARGET_VENV}/bin/python" ] || "${PYTHON}" -m venv "${TARGET_VENV}"
    venv_install "${TARGET_VENV}" "nvflare==${NVFLARE_VERSION}"
    log "installed nvflare ${NVFLARE_VERSION} into ${TARGET_VENV} (with ${INSTALLED_WITH})"
  fi
  # One PEP 508 requirement per line, installed from a file: never split into words.
  if [ -n "${REQUIREMENTS}" ] && ! printf '%s\n' "${REQUIREMENTS}" | cmp -s - "${TARGET_VENV}/.site-requirements"; then
    printf '%s\n' "${REQUIREMENTS}" >"${TARGET_VENV}/.site-requirements.new"
    venv_install "${TARGET_VENV}" -r "${TARGET_VENV}/.site-requirements.new"
    mv "${TARGET_VENV}/.site-requirements.new" "${TARGET_VENV}/.site-requirements"
    log "installed site requirements: $(paste -sd ' ' "${TARGET_VENV}/.site-requirements")"
  fi
  # Switched only now, everything installed: a failed install leaves the running version be.
  if [ "${TARGET_VENV}" != "${VENV}" ] && [ "$(readlink "${VENV}" || true)" != "${TARGET_VENV}" ]; then
    ln -sfn "${TARGET_VENV}" "${VENV}"
    log "nvflare ${NVFLARE_VERSION} is the site's now (${VENV} -> ${TARGET_VENV}); other versions' venvs are kept for a rollback"
  fi
}

kit_site() { # the site name a kit was made for
  grep -o 'uid=[^ ]*' "$1/startup/sub_start.sh" | head -n 1 | cut -d= -f2
}

install_kit() {
  local source="${KIT_SOURCE}" staging=""
  if [ -f "${source}" ]; then
    staging="$(mktemp -d)"
    "${VENV}/bin/python" -m zipfile -e "${source}" "${staging}"
    source="$(dirname "$(find "${staging}" -path '*/startup/fed_client.json' | head -n 1)")/.."
  fi
  [ -f "${source}/startup/fed_client.json" ] || die "${KIT_SOURCE} is not a client startup kit (no startup/fed_client.json)"
  local kit_for
  kit_for="$(kit_site "${source}")"
  [ "${kit_for}" = "${SITE_NAME}" ] || die "the startup kit in ${KIT_SOURCE} is for site '${kit_for}', not '${SITE_NAME}'; download this site's kit from the dashboard"
  mkdir -p "${KIT_DIR}"
  cp -a "${source}/." "${KIT_DIR}/"
  chmod 600 "${KIT_DIR}/startup/client.key"
  [ -z "${staging}" ] || rm -rf "${staging}"
  log "installed the startup kit for ${SITE_NAME} in ${KIT_DIR}"
}

write_resources() {
  # What the site registered on the dashboard: NVFlare schedules jobs against these numbers.
  "${VENV}/bin/python" - "${KIT_DIR}/local" "${GPUS}" "${GPU_MEMORY_GIB}" <<'PYTHON'
import json, pathlib, sys
local, gpus, memory = pathlib.Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
resources = json.loads((local / "resources.json.default").read_text())
for component in resources["components"]:
    if component["id"] == "resource_manager":
        component["args"].update(num_of_gpus=gpus, mem_per_gpu_in_GiB=memory)
(local / "resources.json").write_text(json.dumps(resources, indent=2))
PYTHON
}

# The site's governance (the federation file's governance section, as flarectl rendered it):
# NVFlare reads local/authorization.json and local/privacy.json when the client starts. A copy
# of what was written last (local/.flarectl-<file>) tells a local edit from ours, and an edit
# is never overwritten: install stops and shows it, before writing either file.
readonly POLICY_FILES="authorization.json privacy.json"

policy_json() { # FILE: its wanted content from the settings (empty: no such file)
  case "$1" in
    authorization.json) printf '%s' "${AUTHORIZATION_JSON:-}" ;;
    privacy.json) printf '%s' "${PRIVACY_JSON:-}" ;;
  esac
}

check_policy_edits() {
  local name target record edited=""
  for name in ${POLICY_FILES}; do
    target="${KIT_DIR}/local/${name}" record="${KIT_DIR}/local/.flarectl-${name}"
    [ -e "${target}" ] || continue
    if [ ! -f "${record}" ]; then
      edited+="local/${name} is this site's own (flarectl did not write it)"$'\n'
    elif ! cmp -s "${record}" "${target}"; then
      edited+="local/${name} was edited here since flarectl wrote it:"$'\n'
      edited+="$(diff -u --label "as flarectl wrote it" --label "${target}" "${record}" "${target}" || true)"$'\n'
    fi
  done
  [ -z "${edited}" ] || die "$(printf '%s' "${edited}")
not overwritten: put the change into the federation file's governance section (flarectl validate, then emit this site's files again), or move the file away; then install again"
}

write_policy() {
  [ -n "${AUTHORIZATION_JSON:-}" ] || { log "no governance policy in ${SETTINGS_FILE}: NVFlare's defaults apply"; return 0; }
  check_policy_edits
  local name target record wanted changed=""
  for name in ${POLICY_FILES}; do
    target="${KIT_DIR}/local/${name}" record="${KIT_DIR}/local/.flarectl-${name}"
    if [ -z "$(policy_json "${name}")" ]; then
      [ ! -e "${target}" ] || { rm -f "${target}" "${record}"; changed+=" ${name} (removed)"; }
      continue
    fi
    wanted="${target}.new"
    policy_json "${name}" | "${VENV}/bin/python" -c 'import json, sys; print(json.dumps(json.load(sys.stdin), indent=2))' >"${wanted}"
    if cmp -s "${wanted}" "${target}"; then
      rm -f "${wanted}"
      continue
    fi
    cp "${wanted}" "${record}"
    mv "${wanted}" "${target}"
    changed+=" ${name}"
  done
  if [ -n "${changed}" ]; then
    log "governance policy written:${changed}; a running client enforces it after a restart"
  fi
}

wait_for_gpus() {
  [ "${GPUS}" -gt 0 ] || return 0
  until nvidia-smi -L >/dev/null 2>&1; do
    log "waiting for the NVIDIA driver: nvidia-smi does not answer yet (retrying in ${GPU_WAIT_SECONDS}s)"
    sleep "${GPU_WAIT_SECONDS}"
  done
  log "GPUs: $(nvidia-smi -L | tr '\n' ';')"
}

check_gpu_memory() {
  # NVFlare's GPUResourceManager refuses to start when GPU_MEMORY_GIB * 1024 exceeds what
  # nvidia-smi reports (MiB) for a GPU: say so once, in one line, and exit 3 (a unit with
  # RestartPreventExitStatus=3 stays failed) instead of a restart loop of its tracebacks.
  [ "${GPUS}" -gt 0 ] || return 0
  local smallest
  smallest="$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | sort -n | head -n 1 | tr -d ' ')" || true
  case "${smallest}" in
    '' | *[!0-9]*) log "nvidia-smi did not report GPU memory (${smallest:-nothing}); NVFlare checks it at start"; return 0 ;;
  esac
  if awk -v gib="${GPU_MEMORY_GIB}" -v mib="${smallest}" 'BEGIN { exit !(gib * 1024 > mib) }'; then
    echo "flare-client: gpu_memory_gib ${GPU_MEMORY_GIB} is more than nvidia-smi reports for a GPU here (${smallest} MiB);" \
      "NVFlare would refuse to start: register at most $(awk -v mib="${smallest}" 'BEGIN { printf "%g", int(mib / 102.4) / 10 }') in the federation file" >&2
    exit 3
  fi
}

run_client() {
  [ -f "${KIT_DIR}/startup/fed_client.json" ] || die "no startup kit in ${KIT_DIR}; run: flare-client.sh ${SETTINGS_FILE} install"
  wait_for_gpus
  check_gpu_memory
  local org
  org="$(grep -o 'org=[^ ]*' "${KIT_DIR}/startup/sub_start.sh" | head -n 1 | cut -d= -f2)"
  # Job processes run `python3`: it must be this venv's, with NVFlare and the site's requirements.
  export PATH="${VENV}/bin:${PATH}"
  cd "${KIT_DIR}"
  log "starting client ${SITE_NAME} (org ${org}) with NVFlare ${NVFLARE_VERSION}"
  exec "${VENV}/bin/python" -u -m nvflare.private.fed.app.client.client_train -m "${KIT_DIR}" -s fed_client.json \
    --set secure_train=true "uid=${SITE_NAME}" "org=${org}" config_folder=config
}

doctor() {
  local kit="${KIT_DIR}"
  [ -f "${kit}/startup/fed_client.json" ] || kit="${KIT_SOURCE}"  # before install: the kit as delivered
  exec "${PYTHON}" "$(dirname "$0")/flare-doctor.py" --site "${SITE_NAME}" --kit "${kit}" --gpus "${GPUS}" \
    --gpu-memory-gib "${GPU_MEMORY_GIB}" --venv "${VENV}" --nvflare-version "${NVFLARE_VERSION}" --workdir "${SITE_ROOT}"
}

case "${COMMAND}" in
  install)
    mkdir -p "${SITE_ROOT}"
    install_venv
    install_kit
    write_resources
    write_policy
    ;;
  run) run_client ;;
  doctor) doctor ;;
  *) die "unknown command ${COMMAND}; use install, run or doctor" ;;
esac
