"""A stand-in for `nvidia-smi` on a machine with `count` GPUs of one model, answering from
flarectl/gpu_models.py (what the real tool reports for that model, never more): the queries
NVFlare makes (nvflare/fuel/utils/gpu_utils.py: `--query-gpu=index|memory.total --format=csv`),
the site doctor's (`name,memory.total --format=csv,noheader,nounits`), the runtime's
(`memory.total --format=csv,noheader,nounits`) and `-L`. Output follows nvidia-smi's CSV
format: a header naming each field with its unit ("memory.total [MiB]"), values "15360 MiB"."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flarectl.gpu_models import GPU_MODELS


def fake_nvidia_smi(model: str, count: int) -> str:
    gpu = GPU_MODELS[model]
    return f"""#!/bin/sh
# Stand-in nvidia-smi: {count} x {gpu.name}, {gpu.memory_mib} MiB each (tests/harness/fake_nvidia_smi.py).
name='{gpu.name}'; mib={gpu.memory_mib}; count={count}
query=""; header=1; units=1; list=""
for arg in "$@"; do
  case "$arg" in
    --query-gpu=*) query="${{arg#--query-gpu=}}" ;;
    --format=*) case "$arg" in *noheader*) header="" ;; esac; case "$arg" in *nounits*) units="" ;; esac ;;
    -L) list=1 ;;
  esac
done
i=0
if [ -n "$list" ]; then
  while [ "$i" -lt "$count" ]; do echo "GPU $i: $name (UUID: GPU-00000000-0000-0000-0000-00000000000$i)"; i=$((i+1)); done
  exit 0
fi
if [ -z "$query" ]; then
  echo "GPU ${{CUDA_VISIBLE_DEVICES:-0}}: $name (stand-in for tests)"
  exit 0
fi
if [ -n "$header" ]; then
  echo "$query" | sed -e 's/memory.total/memory.total [MiB]/' -e 's/memory.free/memory.free [MiB]/' -e 's/,/, /g'
fi
while [ "$i" -lt "$count" ]; do
  line=""
  for field in $(echo "$query" | tr ',' ' '); do
    case "$field" in
      index) value="$i" ;;
      name) value="$name" ;;
      memory.total|memory.free) value="$mib${{units:+ MiB}}" ;;
      uuid) value="GPU-00000000-0000-0000-0000-00000000000$i" ;;
      *) echo "Field \\"$field\\" is not a valid field to query." >&2; exit 2 ;;
    esac
    line="${{line:+$line, }}$value"
  done
  echo "$line"
  i=$((i+1))
done
"""


def nvflare_accepts(model: str, count: int, gpus: int, gpu_memory_gib: float) -> bool:
    """Whether NVFlare's own GPUResourceManager (the one a client's resources.json names) starts
    with this registration on a machine whose nvidia-smi is the stand-in for `count` x `model`."""
    from nvflare.app_common.resource_managers.gpu_resource_manager import GPUResourceManager

    with tempfile.TemporaryDirectory() as directory:
        smi = Path(directory) / "nvidia-smi"
        smi.write_text(fake_nvidia_smi(model, count))
        smi.chmod(0o755)
        saved = {name: os.environ.get(name) for name in ("PATH", "CUDA_VISIBLE_DEVICES")}
        os.environ["PATH"] = f"{directory}:{saved['PATH']}"
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        try:
            GPUResourceManager(num_of_gpus=gpus, mem_per_gpu_in_GiB=gpu_memory_gib)
        except ValueError:
            return False
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    return True
