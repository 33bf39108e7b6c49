#!/usr/bin/env python3
"""The hub's dashboard behind its proxy (flare-proxy: nginx with flarectl/hosts/hub/nginx.conf, the
dashboard's gunicorn on its socket), run from their own units by the test harness on this
machine: requests per second with and without keep-alive, and latency percentiles with 200
concurrent clients (each from its own loopback address, as 200 people would be; the proxy's
limits count per address). Prints figures; asserts nothing.

Run: .venv/bin/python bench/hub_proxy.py   (needs nginx: Debian package nginx; ~2 minutes)
"""

from __future__ import annotations

import functools
import http.client
import json
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.hub_harness import Hub, https_get, wait_for  # noqa: E402
from tests.harness.local import emulator_client, free_port, start_emulator  # noqa: E402

PATH = "/nvflare-dashboard/api/v1/project"  # a real API answer (the database is read)


@functools.cache  # made once: building a context (loading the CA store) would dominate the figures
def context() -> ssl.SSLContext:
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # self-signed, loopback
    return tls


def rate(port: int, keep_alive: bool, seconds: float = 15) -> float:
    """Requests per second from one client, one at a time, for the start page (the API is
    limited to 20/s per address; the page is not)."""
    done, deadline = 0, time.monotonic() + seconds
    connection = None
    while time.monotonic() < deadline:
        if connection is None or not keep_alive:
            if connection is not None:
                connection.close()
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context(), timeout=30)
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        done += response.status == 200
    if connection is not None:
        connection.close()
    return done / seconds


def concurrent(port: int, clients: int = 200, requests_each: int = 5) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        address = f"127.0.{4 + n // 250}.{n % 250 + 1}"
        for _ in range(requests_each):
            start = time.monotonic()
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context(), timeout=60, source_address=(address, 0))
            try:
                connection.request("GET", PATH)
                ok = connection.getresponse().status == 200
            except OSError:
                ok = False
            finally:
                connection.close()
            with lock:
                latencies.append(time.monotonic() - start if ok else float("inf"))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies)


def main() -> None:
    if not shutil.which("nginx", path="/usr/sbin:/usr/bin"):
        sys.exit("bench/hub_proxy.py needs nginx (Debian package nginx)")
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        emulator_process, emulator = start_emulator(work)
        try:
            emulator_client(emulator, "secretsmanager").create_secret(
                Name="bench/admin", SecretString=json.dumps({"email": "admin@bench.test", "password": "x" * 24})
            )
            port = free_port()
            hub = Hub(work / "hub", {**emulator, "PROJECT": "bench", "ADMIN_SECRET_NAME": "bench/admin", "ADMIN_EMAIL": "admin@bench.test",
                                     "DASHBOARD_NAME": "localhost", "DASHBOARD_PORT": str(port)})  # fmt: skip
            try:
                hub.start_dashboard()
                wait_for(lambda: https_get(f"https://127.0.0.1:{port}/")[0] == 200, timeout=120)
                print(f"keep-alive, one client: {rate(port, keep_alive=True):.0f} requests/s")
                print(f"a new TLS connection per request, one client: {rate(port, keep_alive=False):.0f} requests/s")
                latencies = concurrent(port)
                answered = [s for s in latencies if s != float("inf")]
                p50, p99 = statistics.quantiles(latencies, n=100)[49], statistics.quantiles(latencies, n=100)[98]
                print(f"200 concurrent clients x 5 requests: {len(answered)}/{len(latencies)} answered, "
                      f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, slowest {max(answered) * 1000:.0f} ms")  # fmt: skip
            finally:
                hub.stop_all()
        finally:
            emulator_process.terminate()
            emulator_process.wait(timeout=10)


if __name__ == "__main__":
    main()
