# shellcheck shell=bash
# The pinned uv, else pip: how every host installs Python packages. The hub's bootstrap and the
# Leads' setup get this file inlined where they say `# @INCLUDE@ common/venv-install.sh`; the
# client runtime sources it from beside itself. The including script sets UV_VERSION (empty:
# pip only), UV_TOOLS (uv's own small venv), PYTHON (the python3 that makes it) and log().
# shellcheck disable=SC2154  # those are the including script's

UV=""             # the pinned uv once found or installed; "pip" when it cannot be had
# shellcheck disable=SC2034  # the including script reads it
INSTALLED_WITH="" # what the last venv_install used: uv or pip

find_uv() { # sets UV, trying to install the pinned uv once (several times faster than pip)
  [ -z "${UV}" ] || return 0
  UV=pip
  [ -n "${UV_VERSION}" ] || return 0
  if [ "$("${UV_TOOLS}/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "${UV_VERSION}" ]; then
    if "${PYTHON}" -m venv "${UV_TOOLS}" && "${UV_TOOLS}/bin/pip" install --quiet "uv==${UV_VERSION}"; then
      log "installed uv ${UV_VERSION}"
    fi
  fi
  if [ "$("${UV_TOOLS}/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" = "${UV_VERSION}" ]; then
    UV="${UV_TOOLS}/bin/uv"
  else
    log "uv ${UV_VERSION} could not be installed; installing with pip"
  fi
}

venv_install() { # VENV ARGS...: pip install ARGS into VENV, with the pinned uv when it is there
  local venv="$1"
  shift
  find_uv
  if [ "${UV}" != pip ]; then
    # shellcheck disable=SC2034  # the including script reads it
    INSTALLED_WITH=uv
    # --system-certs: trust the host's CA store as pip does (a hospital proxy's CA is there, not in uv's own list).
    "${UV}" pip install --quiet --system-certs --python "${venv}/bin/python" "$@" && return 0
    log "uv could not install $*; trying pip"
  fi
  # shellcheck disable=SC2034
  INSTALLED_WITH=pip
  "${venv}/bin/pip" install --quiet "$@"
}
