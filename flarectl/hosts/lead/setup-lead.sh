#!/bin/bash
# The researcher's (Lead's) environment for one federation, in one command (Linux, Mac, and
# Windows inside WSL):
#   bash setup-lead.sh
# It installs uv (from PyPI) into a small venv of its own, makes a venv with the pinned Python
# (uv uses this machine's Python of that version, or installs its own), installs flarectl for
# Leads from the wheel beside this script with exactly the federation's NVFlare version, and
# activates that venv at login (~/.profile). No CDK, no Node, no clone of the repository.
# Running it again updates what differs and changes nothing else.
set -euo pipefail

# @SETTINGS@ PROJECT NVFLARE_VERSION PYTHON_VERSION UV_VERSION

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly LEAD_HOME="${FLARE_LEAD_HOME:-${HOME}/.local/flare-${PROJECT}}"
readonly PROFILE="${FLARE_LEAD_PROFILE:-${HOME}/.profile}"
# zsh (a Mac's login shell since 2019) reads ~/.zprofile, not ~/.profile.
readonly ZSH_PROFILE="${FLARE_LEAD_ZSH_PROFILE:-${HOME}/.zprofile}"
readonly UV_TOOLS="${LEAD_HOME}/uv" PYTHON=python3 VENV="${LEAD_HOME}/venv"

log() { echo "setup-lead: $*"; }
die() { echo "setup-lead: $*" >&2; exit 1; }

# @INCLUDE@ common/venv-install.sh

wheels=("${HERE}"/flarectl-*.whl)
[ -f "${wheels[0]}" ] || die "no flarectl wheel beside this script in ${HERE}; ask the Project Admin for the lead/ folder that \`make synth\` writes"
command -v python3 >/dev/null || die "python3 is needed once, to install uv: sudo apt install python3-venv (Ubuntu, WSL) or xcode-select --install (Mac)"

python3 -m venv --help >/dev/null 2>&1 || die "python3 cannot make a venv: sudo apt install python3-venv (Ubuntu, WSL)"
find_uv  # the Leads' venv is made by uv, with the pinned Python: here uv is needed, not only faster
[ "${UV}" != pip ] || die "uv ${UV_VERSION} could not be installed from the package index; check the network (or its proxy) and run again"

if ! "${VENV}/bin/python" - "${PYTHON_VERSION}" 2>/dev/null <<'PYTHON'; then
import sys
sys.exit(".".join(map(str, sys.version_info[:2])) != sys.argv[1])
PYTHON
  "${UV}" venv --quiet --python "${PYTHON_VERSION}" "${VENV}"
  log "made ${VENV} with Python $("${VENV}/bin/python" -c 'import platform; print(platform.python_version())')"
fi

venv_install "${VENV}" "flarectl[lead] @ file://${wheels[0]}" "nvflare==${NVFLARE_VERSION}"
installed="$("${VENV}/bin/python" -c 'import importlib.metadata as m; print(m.version("nvflare"))')"
[ "${installed}" = "${NVFLARE_VERSION}" ] || die "the venv has NVFlare ${installed}, the federation runs ${NVFLARE_VERSION}"
"${VENV}/bin/flarectl" --help >/dev/null

activate="source '${VENV}/bin/activate'  # flarectl for federation ${PROJECT}"
profiles=("${PROFILE}")
if [ -f "${ZSH_PROFILE}" ] || [ "$(basename "${SHELL:-}")" = zsh ]; then
  profiles+=("${ZSH_PROFILE}")
fi
for profile in "${profiles[@]}"; do
  if ! grep -qxF "${activate}" "${profile}" 2>/dev/null; then
    echo "${activate}" >>"${profile}"
    log "added to ${profile}: ${activate}"
  fi
done
log "ready: flarectl and NVFlare ${NVFLARE_VERSION} (Python ${PYTHON_VERSION}) in ${VENV}; it is active in every new login shell"
log "now: source ${VENV}/bin/activate"
