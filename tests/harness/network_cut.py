"""A site behind its own network link to the hub, which a test can cut and bound: a network
namespace joined to this host by a veth pair. The site's client keeps its kit's server name
(`localhost`): inside the namespace a relay on 127.0.0.1:<fl_port> forwards to the host's end of
the link, where a second relay forwards to the server (which listens on its kit's `localhost`).
So every byte between that site and the hub crosses the veth pair and nothing else does (the
client's own job processes still talk to it over the namespace's loopback).

The cut is tc's `blackhole` qdisc on both ends: packets vanish silently, as when a hospital's
firewall or uplink drops them (not a refused connection, which a client notices at once).
The bound is tc's `tbf` (a rate limit), the traffic of a thin link. Needs root and iproute2
(`ip`, `tc`; .ci/debian-packages.txt); the kernel's netem is not needed."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

HOST_ADDRESS = "10.231.{index}.1"
SITE_ADDRESS = "10.231.{index}.2"


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


class SiteLink:
    def __init__(self, name: str, *, index: int, fl_port: int):
        self.namespace, self.fl_port = name, fl_port
        self.host_end, self.site_end = f"flare{index}h", f"flare{index}s"  # at most 15 characters
        self.host_address, self.site_address = HOST_ADDRESS.format(index=index), SITE_ADDRESS.format(index=index)
        self.relays: list[subprocess.Popen[bytes]] = []

    def prefix(self) -> list[str]:
        """Run a command in the site's namespace: `[*link.prefix(), "bash", ...]`."""
        return ["ip", "netns", "exec", self.namespace]

    def up(self, log: Path) -> None:
        from tests.conftest import needs  # here: this file also runs alone, as the relay

        needs(os.geteuid() == 0 and shutil.which("tc") is not None, "root and iproute2 (ip, tc): a site's own network link")
        self.down()
        run("ip", "netns", "add", self.namespace)
        run("ip", "link", "add", self.host_end, "type", "veth", "peer", "name", self.site_end)
        run("ip", "link", "set", self.site_end, "netns", self.namespace)
        run("ip", "addr", "add", f"{self.host_address}/30", "dev", self.host_end)
        run("ip", "link", "set", self.host_end, "up")
        run(*self.prefix(), "ip", "addr", "add", f"{self.site_address}/30", "dev", self.site_end)
        run(*self.prefix(), "ip", "link", "set", self.site_end, "up")
        run(*self.prefix(), "ip", "link", "set", "lo", "up")
        for prefix, listen, upstream in (([], self.host_address, "127.0.0.1"), (self.prefix(), "127.0.0.1", self.host_address)):
            relay = [sys.executable, __file__, listen, str(self.fl_port), upstream]
            self.relays.append(subprocess.Popen([*prefix, *relay], stdout=log.open("a"), stderr=subprocess.STDOUT))

    def tc(self, *qdisc: str) -> None:
        """The same root qdisc on both ends of the link (replacing any), or none."""
        for prefix, device in (([], self.host_end), (self.prefix(), self.site_end)):
            subprocess.run([*prefix, "tc", "qdisc", "del", "dev", device, "root"], capture_output=True, timeout=30)
            if qdisc:
                run(*prefix, "tc", "qdisc", "add", "dev", device, "root", *qdisc)

    def cut(self) -> None:
        self.tc("blackhole")

    def bound(self, rate: str) -> None:
        self.tc("tbf", "rate", rate, "burst", "64kb", "latency", "400ms")

    def restore(self) -> None:
        self.tc()

    def down(self) -> None:
        for relay in self.relays:
            relay.kill()
            relay.wait(timeout=30)
        self.relays = []
        subprocess.run(["ip", "link", "del", self.host_end], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, timeout=30)


async def relay(listen: str, port: int, upstream: str) -> None:
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(upstream, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(connect, listen, port)
    print(f"relay: {listen}:{port} -> {upstream}:{port} (pid {os.getpid()})", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(relay(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
