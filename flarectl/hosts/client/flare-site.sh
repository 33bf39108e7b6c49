#!/bin/bash
# NVFlare client on a machine its Org Admin runs (a Linux GPU server or workstation, or a
# Windows laptop inside WSL 2), through the shared client runtime (flare-client.sh). Run from
# this folder:
#   bash flare-site.sh setup    check the GPU, install NVFlare and the startup kit, and the
#                               systemd unit (starts at boot, restarts always) where systemd runs
#   bash flare-site.sh start    start the client (the systemd unit, else a supervised process)
#   bash flare-site.sh stop     stop it
#   bash flare-site.sh status   is it running? (exit 0 yes, 1 failing, 3 no)
#   bash flare-site.sh doctor   can the client connect, and will jobs run? (exit 0 ok,
#                               1 cannot connect, 2 connects but jobs would fail)
set -euo pipefail

# @SETTINGS@ SITE_DIR SITE_NAME GPUS PLATFORM GPU_HELP

readonly UNIT="flare-client-${SITE_NAME}.service"
readonly UNIT_DIR="${FLARE_ROOT:-}/etc/systemd/system"  # FLARE_ROOT: a test sandbox; empty on a host
readonly LOG="${SITE_DIR}/client.log"
readonly PID_FILE="${SITE_DIR}/supervisor.pid"
[ "${PLATFORM}" != wsl ] || export PATH="/usr/lib/wsl/lib:${PATH}"  # where WSL puts nvidia-smi

log() { echo "flare-site: $*"; }
die() { echo "flare-site: $*" >&2; exit 1; }

has_systemd() { [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; }
unit_installed() { has_systemd && [ -f "${UNIT_DIR}/${UNIT}" ]; }

supervisor_pid() {
  local pid
  pid="$(cat "${PID_FILE}" 2>/dev/null || true)"
  if [ -n "${pid}" ] && kill -0 "${pid}" 2>/dev/null; then
    echo "${pid}"
  fi
}

setup() {
  if [ "${PLATFORM}" = wsl ] && ! grep -qi microsoft /proc/version 2>/dev/null; then
    log "note: this does not look like WSL; continuing anyway"
  fi
  if [ "${GPUS}" -gt 0 ] && ! nvidia-smi -L; then
    die "nvidia-smi finds no GPU. ${GPU_HELP}"
  fi
  if [ "$(id -u)" -eq 0 ]; then
    log "warning: setup runs as root, so the client and its jobs will run as root; run it as the user who owns ${SITE_DIR} (sudo is asked for the unit only)"
  fi
  # A venv with pip needs ensurepip, which Debian and Ubuntu ship apart (python3-venv): try one.
  local probe
  probe="$(mktemp -d)"
  if ! python3 -m venv "${probe}/venv" >/dev/null 2>&1; then
    rm -rf "${probe}"
    die "python3 cannot make a venv with pip (ensurepip is missing): sudo apt install python3-venv"
  fi
  rm -rf "${probe}"
  bash "${SITE_DIR}/flare-client.sh" "${SITE_DIR}/client.env" install
  if has_systemd; then
    sudo tee "${UNIT_DIR}/${UNIT}" >/dev/null <<UNIT
[Unit]
Description=NVFlare client ${SITE_NAME} (${PLATFORM})
After=network-online.target
Wants=network-online.target

[Service]
User=$(id -un)
ExecStart=/bin/bash ${SITE_DIR}/flare-client.sh ${SITE_DIR}/client.env run
Restart=always
RestartSec=30
RestartPreventExitStatus=3

[Install]
WantedBy=multi-user.target
UNIT
    sudo systemctl daemon-reload
    sudo systemctl enable "${UNIT}"
    log "installed ${UNIT}; it starts at boot$([ "${PLATFORM}" = wsl ] && echo " (with WSL)"). Start it now: bash flare-site.sh start"
  else
    log "$([ "${PLATFORM}" = wsl ] && echo "WSL runs" || echo "this machine runs") without systemd: start/stop use a supervised background process (log: ${LOG})"
  fi
}

supervise() {
  # Restart the client when it exits, like systemd's Restart=always, until stopped.
  local child=""
  trap '[ -z "${child}" ] || kill -TERM "${child}" 2>/dev/null; exit 0' TERM INT
  while true; do
    bash "${SITE_DIR}/flare-client.sh" "${SITE_DIR}/client.env" run &
    child=$!
    status=0
    wait "${child}" || status=$?
    if [ "${status}" -eq 3 ]; then  # a registration this machine can never run: flare-client.sh said why
      log "$(date -u +%Y-%m-%dT%H:%M:%SZ) client cannot run here (status 3, above); not restarting"
      exit 3
    fi
    log "$(date -u +%Y-%m-%dT%H:%M:%SZ) client exited (status ${status}); restarting in 10 s"
    sleep 10
  done
}

start() {
  if unit_installed; then
    sudo systemctl start "${UNIT}"
    log "started ${UNIT} (journalctl -u ${UNIT} -f)"
  elif [ -n "$(supervisor_pid)" ]; then
    log "already running (pid $(supervisor_pid)); log: ${LOG}"
  else
    setsid nohup bash "${SITE_DIR}/flare-site.sh" supervise >>"${LOG}" 2>&1 </dev/null &
    echo $! >"${PID_FILE}"
    log "started (pid $!); log: ${LOG}"
  fi
}

stop() {
  if unit_installed; then
    sudo systemctl stop "${UNIT}"
  elif [ -n "$(supervisor_pid)" ]; then
    local pid
    pid="$(supervisor_pid)"
    kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}"
    for _ in $(seq 1 30); do
      kill -0 "${pid}" 2>/dev/null || break
      sleep 1
    done
    rm -f "${PID_FILE}"
  fi
  log "stopped"
}

# A client that keeps exiting is failing, not running: this many restarts within the window.
readonly CRASH_LOOP_RESTARTS=3 CRASH_LOOP_MINUTES=10

last_error() { # the last line of the client's output that says what went wrong
  grep -E 'flare-client: |Error|Exception|refuse' | tail -n 1
}

status() {
  if unit_installed; then
    local restarts state
    restarts="$(systemctl show "${UNIT}" -p NRestarts --value 2>/dev/null || echo 0)"
    state="$(systemctl show "${UNIT}" -p ActiveState --value 2>/dev/null || true)"
    if [ "${state}" = failed ] || { [ "${restarts:-0}" -ge "${CRASH_LOOP_RESTARTS}" ] && restarted_recently_unit; }; then
      log "failing: ${UNIT} is ${state} after ${restarts:-0} restart(s); last error: $(journalctl -u "${UNIT}" -n 200 -o cat --no-pager 2>/dev/null | last_error)"
      return 1
    fi
    systemctl is-active --quiet "${UNIT}" && { log "running (${UNIT})"; return 0; }
  elif tail -n 1 "${LOG}" 2>/dev/null | grep -q 'client cannot run here'; then  # the supervisor's last word
    log "failing: the client cannot run on this machine; last error: $(last_error <"${LOG}")"
    return 1
  elif [ -n "$(supervisor_pid)" ]; then
    local since recent
    since="$(date -u -d "-${CRASH_LOOP_MINUTES} minutes" +%Y-%m-%dT%H:%M:%SZ)"
    recent="$(awk -v since="${since}" '/client exited \(status/ && $2 >= since' "${LOG}" 2>/dev/null | wc -l)"
    if [ "${recent}" -ge "${CRASH_LOOP_RESTARTS}" ]; then
      log "failing: the client exited ${recent} time(s) in the last ${CRASH_LOOP_MINUTES} minutes; last error: $(last_error <"${LOG}")"
      return 1
    fi
    log "running (pid $(supervisor_pid)); last log lines:"
    tail -n 5 "${LOG}" || true
    return 0
  fi
  log "not running"
  return 3
}

restarted_recently_unit() { # the unit's current run began within the window
  local started now
  started="$(systemctl show "${UNIT}" -p ExecMainStartTimestampMonotonic --value 2>/dev/null || echo 0)"
  now="$(awk '{ printf "%d", $1 * 1000000 }' /proc/uptime)"
  [ $((now - ${started:-0})) -lt $((CRASH_LOOP_MINUTES * 60 * 1000000)) ]
}

doctor() {
  exec bash "${SITE_DIR}/flare-client.sh" "${SITE_DIR}/client.env" doctor
}

case "${1:-}" in
  setup | start | stop | status | doctor | supervise) "$1" ;;
  *) die "usage: bash flare-site.sh setup|start|stop|status|doctor" ;;
esac
