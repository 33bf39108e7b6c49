#!/usr/bin/env python3
"""How big must the hub be (issue 31)? Runs the hub's own FL server unit (as in the hub
sandbox: its resources.json, job store on the data folder) and N real NVFlare clients as
processes on loopback, and a FedAvg job (NVFlare's ScatterAndGather with its in-time
accumulating aggregator, NVFlare's own NPTrainer at the sites) whose model is a synthetic
float32 array of S MB. For each (N, S) it records, from the real processes:

  server_peak_mib       peak RSS of the FL server (its parent process plus the job's process)
  server_cpu_s_round    CPU seconds of those per round
  round_s               wall time per round
  store_mib_job         what the job adds to the data folder (job store and workspace)
  dashboard_mib         RSS of the dashboard (gunicorn, 2 workers) beside it, once

Prints a table, writes bench/results/hub_capacity.csv and .svg (server memory against N x S,
one line per S). Points that this machine cannot hold (the clients need memory too) are
skipped and listed. `--aggregator all` measures NVFlare's holding aggregator too
(collect-then-average; see the README).

Run: .venv/bin/python bench/hub_capacity.py [--quick]   (the full sweep takes about an hour on 2 cores)
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from tests.harness.hub_harness import Hub, wait_for  # noqa: E402
from tests.harness.local import free_port  # noqa: E402
from tests.harness.provision import ADMIN, client_command, provision  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SITES = [2, 5, 10, 20, 40]
MODELS_MB = [10, 100, 500, 1000]
QUICK = ([2, 5], [10, 100])
ROUNDS = 3
MACHINE_BUDGET_MIB = 20 * 1024  # of 24 GiB: what the clients and the server may take here
MIN_AVAILABLE_MIB = 1536  # a job that leaves less on this machine is stopped: the machine's limit, not the hub's

PERSISTOR = '''\
"""A model of MEGABYTES MB (float32 zeros): NVFlare's NPModelPersistor with another first model."""
import numpy as np
from nvflare.app_common.abstract.model import make_model_learnable
from nvflare.app_common.np.constants import NPConstants
from nvflare.app_common.np.np_model_persistor import NPModelPersistor


class SizedPersistor(NPModelPersistor):
    def __init__(self, megabytes=10, **kwargs):
        super().__init__(**kwargs)
        self.megabytes = megabytes

    def load_model(self, fl_ctx):
        data = np.zeros(self.megabytes * 1024 * 1024 // 4, dtype=np.float32)
        return make_model_learnable(weights={NPConstants.NUMPY_KEY: data}, meta_props={})
'''

ASSEMBLER = '''\
"""Holds every site's result until the round ends, then averages: the collect-then-average
pattern (NVFlare's CollectAndAssembleAggregator, which leaves the averaging to an Assembler)."""
from nvflare.apis.dxo import DXO, DataKind
from nvflare.app_common.aggregators.assembler import Assembler


class MeanAssembler(Assembler):
    def __init__(self):
        super().__init__(data_kind=DataKind.WEIGHTS)

    def get_model_params(self, dxo):
        return dxo.data

    def assemble(self, data, fl_ctx):
        results = list(data.values())
        return DXO(data_kind=DataKind.WEIGHTS, data={key: sum(r[key] for r in results) / len(results) for key in results[0]})
'''

AGGREGATORS = {
    # NVFlare's sag_np template: adds each result into one sum as it arrives.
    "in-time": 'path = "nvflare.app_common.aggregators.intime_accumulate_model_aggregator.InTimeAccumulateWeightedAggregator"\n'
    '      args.expected_data_kind = "WEIGHTS"',
    # Holds every site's result until the round ends (NVFlare's CollectAndAssembleAggregator with its weighted-average assembler).
    "hold-all": 'path = "nvflare.app_common.aggregators.collect_and_assemble_aggregator.CollectAndAssembleAggregator"\n'
    '      args.assembler_id = "assembler"',
}


def job(folder: Path, *, sites: int, megabytes: int, aggregator: str) -> Path:
    config, custom = folder / "app" / "config", folder / "app" / "custom"
    config.mkdir(parents=True)
    custom.mkdir(parents=True)
    (folder / "meta.conf").write_text(
        f'name = "{folder.name}"\nresource_spec = {{}}\ndeploy_map {{ app = ["@ALL"] }}\nmin_clients = {sites}\n'
    )
    (custom / "sized_persistor.py").write_text(PERSISTOR)
    components = [
        f'{{ id = "persistor", path = "sized_persistor.SizedPersistor", args.megabytes = {megabytes} }}',
        '{ id = "shareable_generator", path = "nvflare.app_common.shareablegenerators.full_model_shareable_generator.FullModelShareableGenerator" }',
        f'{{ id = "aggregator", {AGGREGATORS[aggregator]} }}',
    ]
    if aggregator == "hold-all":
        (custom / "mean_assembler.py").write_text(ASSEMBLER)
        components.append('{ id = "assembler", path = "mean_assembler.MeanAssembler" }')
    (config / "config_fed_server.conf").write_text(
        "{ format_version = 2, task_data_filters = [], task_result_filters = [],\n"
        '  workflows = [{ id = "sag", path = "nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather",\n'
        f"    args {{ min_clients = {sites}, num_rounds = {ROUNDS}, start_round = 0, wait_time_after_min_received = 0,\n"
        '      aggregator_id = "aggregator", persistor_id = "persistor", shareable_generator_id = "shareable_generator",\n'
        '      train_task_name = "train", train_timeout = 0 } }],\n' + "  components = [\n    " + ",\n    ".join(components) + "\n  ] }\n"
    )
    (config / "config_fed_client.conf").write_text(
        '{ format_version = 2, executors = [{ tasks = ["train"], executor { path = "nvflare.app_common.np.np_trainer.NPTrainer",'
        " args { delta = 1 } } }], task_result_filters = [], task_data_filters = [], components = [] }\n"
    )
    return folder


def tree(pid: int) -> dict[int, tuple[int, float]]:
    """pid -> (RSS bytes, CPU seconds) of a process and all its descendants."""
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    found = {}
    for process in processes:
        try:
            times = process.cpu_times()
            found[process.pid] = (process.memory_info().rss, times.user + times.system)
        except psutil.NoSuchProcess:
            pass
    return found


class Sampler(threading.Thread):
    """Every 0.1 s: the tree's summed RSS (its peak) and each process's CPU time (the last seen,
    so a job process that has ended still counts)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0, False
        self.start_cpu = {p: cpu for p, (_, cpu) in tree(pid).items()}
        self.last_cpu = dict(self.start_cpu)

    def run(self) -> None:
        while not self.stopped:
            sample = tree(self.pid)
            self.peak = max(self.peak, sum(rss for rss, _ in sample.values()))
            self.last_cpu.update({p: cpu for p, (_, cpu) in sample.items()})
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        return sum(cpu - self.start_cpu.get(p, 0.0) for p, cpu in self.last_cpu.items())


def folder_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def fits(sites: int, megabytes: int) -> bool:
    """A prior from the first measurements (each client ~300 MiB + 5 model copies, the server ~12
    copies): skip what this machine plainly cannot hold. The watch in run_job stops the rest."""
    return sites * (300 + 5 * megabytes) + 400 + 12 * megabytes <= MACHINE_BUDGET_MIB


class MachineLimit(RuntimeError):
    pass


def run_job(hub: Hub, prod: Path, workdir: Path, *, sites: int, megabytes: int, aggregator: str) -> dict[str, float]:
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    server = hub.pid("flare-server.service")
    assert server is not None
    before_store = folder_mib(hub.data)
    sampler = Sampler(server)
    sampler.start()
    session = new_secure_session(ADMIN, str(prod / ADMIN), timeout=300)
    try:
        job_id = session.submit_job(str(job(workdir / f"n{sites}-s{megabytes}-{aggregator}", sites=sites, megabytes=megabytes,
                                            aggregator=aggregator)))  # fmt: skip
        wait_for(lambda: session.get_job_meta(job_id).get("status") == "RUNNING", timeout=600, interval=0.5)
        started = time.monotonic()

        def finished() -> bool:
            if psutil.virtual_memory().available < MIN_AVAILABLE_MIB * 2**20:
                session.abort_job(job_id)
                raise MachineLimit(f"N={sites} S={megabytes} MB {aggregator}: less than {MIN_AVAILABLE_MIB} MiB left on this machine")
            return str(session.get_job_meta(job_id).get("status", "")).startswith("FINISHED")

        wait_for(finished, timeout=3600, interval=0.5)
        elapsed = time.monotonic() - started
        status = session.get_job_meta(job_id)["status"]
    finally:
        session.close()
    sampler.stopped = True
    sampler.join()
    if status != "FINISHED:COMPLETED":
        raise RuntimeError(f"job {job_id} ended {status} (N={sites}, S={megabytes} MB)")
    return {
        "server_peak_mib": round(sampler.peak / 2**20),
        "server_cpu_s_round": round(sampler.cpu_seconds() / ROUNDS, 1),
        "round_s": round(elapsed / ROUNDS, 1),
        "store_mib_job": round(folder_mib(hub.data) - before_store, 1),
    }


def dashboard_mib(hub: Hub, workdir: Path) -> float:
    """The dashboard's database made as the hub makes it (NVFlare's init_app), then its unit started."""
    env = {**os.environ, "NVFL_WEB_ROOT": str(hub.data / "dashboard"), "NVFL_CREDENTIAL": f"{ADMIN}:bench-Passw0rd:capacity"}
    subprocess.run([sys.executable, "-c", "from nvflare.dashboard.application import init_app; init_app()"], env=env, check=True,
                   capture_output=True, cwd=workdir)  # fmt: skip
    hub.systemctl("start", "flare-dashboard.service")
    time.sleep(8)  # gunicorn and its two workers up, the app imported
    pid = hub.pid("flare-dashboard.service")
    return round(sum(rss for rss, _ in tree(pid).values()) / 2**20) if pid else float("nan")


def wait_connected(prod: Path, sites: int) -> None:
    from nvflare.fuel.flare_api.flare_api import new_secure_session

    session = new_secure_session(ADMIN, str(prod / ADMIN), timeout=300)
    try:
        wait_for(lambda: len(session.get_system_info().client_info) == sites, timeout=600, interval=2)
    finally:
        session.close()


def sweep(sites_list: list[int], models: list[int], aggregators: list[str]) -> tuple[list[dict], list[str], float]:
    rows, skipped, dashboard = [], [], float("nan")
    for sites in sites_list:
        todo = [(megabytes, aggregator) for megabytes in models for aggregator in aggregators]
        if not any(fits(sites, megabytes) for megabytes, _ in todo):
            skipped += [f"N={sites} S={megabytes} MB" for megabytes, _ in todo]
            continue
        with tempfile.TemporaryDirectory(prefix="bench-capacity-") as temporary:
            workdir = Path(temporary)
            fl_port = free_port()
            names = [f"site-{index + 1}" for index in range(sites)]
            (workdir / "provision").mkdir()
            prod = provision(workdir / "provision", project="capacity", fl_port=fl_port, clients=names)
            hub = Hub(workdir / "hub", {"PROJECT": "capacity", "FL_PORT": str(fl_port), "DASHBOARD_PORT": str(free_port())})
            hub.serve(prod / "localhost")
            clients = [subprocess.Popen(client_command(prod / name, name), cwd=prod / name, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL) for name in names]  # fmt: skip
            try:
                wait_connected(prod, sites)
                idle = sum(rss for rss, _ in tree(hub.pid("flare-server.service") or 0).values()) / 2**20
                for megabytes, aggregator in todo:
                    if not fits(sites, megabytes):
                        skipped.append(f"N={sites} S={megabytes} MB {aggregator}")
                        continue
                    row = {"sites": sites, "model_mb": megabytes, "aggregator": aggregator, "server_idle_mib": round(idle)}
                    try:
                        row.update(run_job(hub, prod, workdir, sites=sites, megabytes=megabytes, aggregator=aggregator))
                    except MachineLimit as limit:
                        skipped.append(str(limit))
                        print(f"stopped: {limit}", flush=True)
                        break
                    rows.append(row)
                    print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                if dashboard != dashboard:  # not measured yet (nan)
                    dashboard = dashboard_mib(hub, workdir)
            finally:
                for client in clients:
                    client.kill()
                hub.stop_all()
    return rows, skipped, dashboard


def plot(rows: list[dict], path: Path) -> None:
    """An SVG line chart: server peak MiB against N x S (GB), one line per model size (in-time aggregator)."""
    width, height, margin = 720, 440, 60
    points = [r for r in rows if r["aggregator"] == "in-time"]
    if not points:
        return
    xmax = max(r["sites"] * r["model_mb"] / 1024 for r in points) or 1
    ymax = max(r["server_peak_mib"] for r in points) or 1
    colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<line x1="{margin}" y1="{height - margin}" x2="{width - 20}" y2="{height - margin}" stroke="black"/>',
           f'<line x1="{margin}" y1="20" x2="{margin}" y2="{height - margin}" stroke="black"/>',
           f'<text x="{width / 2}" y="{height - 15}" text-anchor="middle">sites x model size (GB)</text>',
           f'<text x="15" y="{height / 2}" transform="rotate(-90 15 {height / 2})" text-anchor="middle">FL server peak memory (MiB)</text>']  # fmt: skip
    for tick in range(5):
        x, y = xmax * tick / 4, ymax * tick / 4
        px = margin + (width - margin - 20) * tick / 4
        py = height - margin - (height - margin - 20) * tick / 4
        svg += [f'<text x="{px}" y="{height - margin + 15}" text-anchor="middle">{x:.1f}</text>',
                f'<text x="{margin - 5}" y="{py + 4}" text-anchor="end">{y:.0f}</text>']  # fmt: skip
    for index, megabytes in enumerate(sorted({r["model_mb"] for r in points})):
        line = sorted((r for r in points if r["model_mb"] == megabytes), key=lambda r: r["sites"])
        coords = [(margin + (width - margin - 20) * r["sites"] * megabytes / 1024 / xmax,
                   height - margin - (height - margin - 20) * r["server_peak_mib"] / ymax) for r in line]  # fmt: skip
        colour = colours[index % len(colours)]
        svg.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(f"{x:.0f},{y:.0f}" for x, y in coords)}"/>')
        svg += [f'<circle cx="{x:.0f}" cy="{y:.0f}" r="3" fill="{colour}"/>' for x, y in coords]
        svg.append(f'<text x="{width - 150}" y="{30 + 16 * index}" fill="{colour}">model {megabytes} MB</text>')
    svg.append("</svg>")
    path.write_text("\n".join(svg) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"N in {QUICK[0]}, S in {QUICK[1]} MB only")
    parser.add_argument("--sites", type=int, nargs="*", help="numbers of sites to sweep")
    parser.add_argument("--models", type=int, nargs="*", help="model sizes in MB to sweep")
    parser.add_argument("--aggregator", choices=["in-time", "hold-all", "all"], default="in-time")
    parser.add_argument("--out", default=str(RESULTS / "hub_capacity.csv"))
    args = parser.parse_args()
    sites_list, models = QUICK if args.quick else (SITES, MODELS_MB)
    sites_list, models = args.sites or sites_list, args.models or models
    aggregators = list(AGGREGATORS) if args.aggregator == "all" else [args.aggregator]
    import nvflare

    print(f"hub capacity: NVFlare {nvflare.__version__}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"{time.strftime('%Y-%m-%d')}", flush=True)  # fmt: skip
    rows, skipped, dashboard = sweep(sites_list, models, aggregators)
    for row in rows:
        row["dashboard_mib"] = dashboard  # measured once, beside the first federation
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]) if rows else ["sites"])
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out.with_suffix(".svg"))
    header = f"{'N':>3} {'S MB':>5} {'aggregator':<9} {'idle MiB':>8} {'peak MiB':>8} {'CPU s/rnd':>9} {'round s':>7} {'store MiB':>9}"
    print("\n" + header)
    for r in rows:
        print(f"{r['sites']:>3} {r['model_mb']:>5} {r['aggregator']:<9} {r['server_idle_mib']:>8} {r['server_peak_mib']:>8} "
              f"{r['server_cpu_s_round']:>9} {r['round_s']:>7} {r['store_mib_job']:>9}")  # fmt: skip
    print(f"\ndashboard (gunicorn, 2 workers): {dashboard} MiB")
    if skipped:
        print(f"not measured (this machine's {MACHINE_BUDGET_MIB // 1024} GiB budget would not hold the clients): {', '.join(skipped)}")
    print(f"written: {', '.join(str(path) for path in (out, out.with_suffix('.svg')) if path.exists())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
