#!/bin/bash
# Cron watchdog for one Slurm site (the guide's nvflare-check-run.sh, made robust): submits
# the site's job (the client job, or in launcher mode NVFlare's parent job) only when no job
# of this name is pending or running. A lock keeps two runs
# from submitting twice. Exit codes: 0 nothing to do or submitted, 1 submission failed,
# 2 Slurm did not answer.
set -euo pipefail

# @SETTINGS@ SITE_DIR JOB_NAME JOB_SCRIPT JOB_OPTIONS

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) flare-watchdog ${JOB_NAME}: $*"; }

exec 9>"${SITE_DIR}/.watchdog.lock"
if ! flock -n 9; then
  log "another watchdog run holds the lock; nothing to do"
  exit 0
fi

if ! jobs="$(squeue -h --me -n "${JOB_NAME}" -t PENDING,RUNNING,CONFIGURING,COMPLETING,REQUEUED,RESIZING,SUSPENDED -o '%i %T')"; then
  log "squeue failed; is Slurm reachable from here?"
  exit 2
fi
if [ -n "${jobs}" ]; then
  log "already queued or running: $(echo "${jobs}" | tr '\n' ' ')"
  exit 0
fi
# JOB_OPTIONS: what the job script cannot say itself (launcher mode: the parent's CPUs, memory
# and log, which NVFlare's parent.slurm has no place for); command-line options win over #SBATCH.
read -ra options <<< "${JOB_OPTIONS}"
if job="$(sbatch --parsable --job-name="${JOB_NAME}" "${options[@]}" "${JOB_SCRIPT}")"; then
  log "no job was queued or running; submitted job ${job}"
  exit 0
fi
log "sbatch failed"
exit 1
