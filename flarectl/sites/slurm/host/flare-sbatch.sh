#!/bin/bash
# Launcher mode: NVFlare's Slurm job launcher submits every FL job through this file
# (slurm.yaml: job_launcher.executables.sbatch). NVFlare itself asks only for what a job's own
# resource_spec says, so the site's request for an FL job (its GPUs, CPUs, memory and extra
# directives) goes first; the launcher's own options follow and win where a job asks for more.
set -euo pipefail

# @SETTINGS@ FL_JOB_OPTIONS

read -ra site_options <<< "${FL_JOB_OPTIONS}"
exec sbatch "${site_options[@]}" "$@"
