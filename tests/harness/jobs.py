"""A small numpy FedAvg job (NVFlare Client API), built from NVFlare's own sag_np template."""

from __future__ import annotations

import shutil
from pathlib import Path

import nvflare

TEMPLATE = Path(nvflare.__file__).parent / "tool" / "job" / "templates" / "sag_np"

TRAIN = '''\
"""Adds one to every weight: enough to see rounds, aggregation and results travel. A round
can stand in for GPU work by computing for SECONDS_PER_ROUND (a benchmark's training time)."""
import time

import nvflare.client as flare

SECONDS_PER_ROUND = 0.0

flare.init()
while flare.is_running():
    model = flare.receive()
    time.sleep(SECONDS_PER_ROUND)
    params = {key: value + 1 for key, value in model.params.items()}
    flare.send(flare.FLModel(params=params, metrics={"accuracy": 0.5}, meta={"NUM_STEPS_CURRENT_ROUND": 1}))
'''


def replaced(text: str, old: str, new: str) -> str:
    assert old in text, f"NVFlare's sag_np template changed: {old!r} not found"
    return text.replace(old, new)


def numpy_job(folder: Path, *, clients: int, rounds: int = 3, seconds_per_round: float = 0.0) -> Path:
    """Job folder `folder` (meta.conf + app/config + app/custom) for `clients` clients."""
    config, custom = folder / "app" / "config", folder / "app" / "custom"
    config.mkdir(parents=True)
    custom.mkdir(parents=True)
    meta = replaced((TEMPLATE / "meta.conf").read_text(), 'name = "sag_np"', f'name = "{folder.name}"')
    (folder / "meta.conf").write_text(replaced(meta, "min_clients = 2", f"min_clients = {clients}"))
    client = replaced((TEMPLATE / "config_fed_client.conf").read_text(), '"app_script": "cifar10.py"', '"app_script": "train.py"')
    (config / "config_fed_client.conf").write_text(client)
    server = replaced((TEMPLATE / "config_fed_server.conf").read_text(), "min_clients = 2", f"min_clients = {clients}")
    (config / "config_fed_server.conf").write_text(replaced(server, "num_rounds = 5", f"num_rounds = {rounds}"))
    (custom / "train.py").write_text(replaced(TRAIN, "SECONDS_PER_ROUND = 0.0", f"SECONDS_PER_ROUND = {float(seconds_per_round)!r}"))
    shutil.copy(TEMPLATE / "info.conf", folder / "info.conf")
    return folder


def starter_job(folder: Path, *, clients: int) -> Path:
    """The Leads' starter job (examples/tabular-fedavg) with min_clients set as its README says."""
    shutil.copytree(Path(__file__).parents[2] / "examples" / "tabular-fedavg", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for config in (folder / "meta.conf", folder / "app" / "config" / "config_fed_server.conf"):
        config.write_text(replaced(config.read_text(), "min_clients = 2", f"min_clients = {clients}"))
    return folder


CLIENT_WITHOUT_CUSTOM_CODE = """{
  format_version = 2
  executors = [
    {
      tasks = ["train"]
      executor { path = "nvflare.app_common.np.np_trainer.NPTrainer", args { delta = 1 } }
    }
  ]
  task_result_filters = []
  task_data_filters = []
  components = []
}
"""


def builtin_numpy_job(folder: Path, *, sites: list[str], rounds: int = 1, scope: str | None = None) -> Path:
    """A job with no custom code (NVFlare's own NPTrainer adds 1 to every weight of the global
    model, [[1,2,3],[4,5,6],[7,8,9]] at first) for `sites` only; `scope`: the privacy scope its
    meta names. What a site whose governance forbids custom code still runs."""
    config = folder / "app" / "config"
    config.mkdir(parents=True)
    deploy = ", ".join(f'"{site}"' for site in ["server", *sites])
    meta = f'name = "{folder.name}"\nresource_spec = {{}}\ndeploy_map {{ app = [{deploy}] }}\nmin_clients = {len(sites)}\n'
    (folder / "meta.conf").write_text(meta + (f'scope = "{scope}"\n' if scope else ""))
    server = replaced((TEMPLATE / "config_fed_server.conf").read_text(), "min_clients = 2", f"min_clients = {len(sites)}")
    (config / "config_fed_server.conf").write_text(replaced(server, "num_rounds = 5", f"num_rounds = {rounds}"))
    (config / "config_fed_client.conf").write_text(CLIENT_WITHOUT_CUSTOM_CODE)
    return folder
