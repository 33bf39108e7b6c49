#!/bin/bash
# Install the Amazon CloudWatch agent from AWS's package bucket, only after its signature
# verifies against AWS's agent signing key (pinned by fingerprint, as AWS documents), and
# only when the installed agent is missing or older than the version that reads journald.
#   install-cloudwatch-agent.sh BASE_URL KEY_FINGERPRINT MIN_VERSION
# Exit 0 installed or already new enough, 1 not installed (the reason is printed).
set -euo pipefail

readonly BASE_URL="$1" FINGERPRINT="$2" MIN_VERSION="$3"
readonly ROOT="${FLARE_ROOT:-}"
readonly VERSION_FILE="${ROOT}/opt/aws/amazon-cloudwatch-agent/bin/CWAGENT_VERSION"

log() { echo "flare-bootstrap: cloudwatch agent: $*"; }

installed="$(cat "${VERSION_FILE}" 2>/dev/null || true)"
if [ -n "${installed}" ] && [ "$(printf '%s\n%s\n' "${MIN_VERSION}" "${installed}" | sort -V | head -n 1)" = "${MIN_VERSION}" ]; then
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
arch="$(dpkg --print-architecture)"
package="${BASE_URL}/ubuntu/${arch}/latest/amazon-cloudwatch-agent.deb"
for url in "${package}" "${package}.sig" "${BASE_URL}/assets/amazon-cloudwatch-agent.gpg"; do
  if ! curl -fsS --retry 3 --max-time 300 -o "${work}/$(basename "${url}")" "${url}"; then
    log "could not download ${url}; not installed (the next boot tries again)"
    exit 1
  fi
done
export GNUPGHOME="${work}/gnupg"
install -d -m 0700 "${GNUPGHOME}"
gpg --batch --quiet --import "${work}/amazon-cloudwatch-agent.gpg" 2>/dev/null
# VALIDSIG carries the full fingerprint of the key that made a good signature.
if ! gpg --batch --status-fd 1 --verify "${work}/amazon-cloudwatch-agent.deb.sig" "${work}/amazon-cloudwatch-agent.deb" 2>/dev/null |
  grep -q "^\[GNUPG:\] VALIDSIG ${FINGERPRINT} "; then
  log "the package's signature does not verify against key ${FINGERPRINT}; not installed"
  exit 1
fi
dpkg -i "${work}/amazon-cloudwatch-agent.deb" >/dev/null
log "installed $(cat "${VERSION_FILE}" 2>/dev/null || echo "(version unknown)")"
