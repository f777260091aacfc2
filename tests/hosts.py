"""Several hosts on this machine, for tests: each a network namespace joined to a bridge by a
veth pair, as machines are joined by a switch. The broker, the stores and the API stay in the
machine's own namespace, listening on the bridge's address, which every host reaches; a host
is cut off the network by taking its link down, as when a machine's cable is pulled or its
switch port fails.

Needs root (CAP_NET_ADMIN) and ``ip``; :func:`unavailable` says why not, for a test to skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: The hosts' network; the bridge holds its first address.
SUBNET = "10.231.77"
GATEWAY = f"{SUBNET}.1"


def _ip(*args: str, netns: str | None = None) -> subprocess.CompletedProcess[str]:
    command = ["ip", *(("netns", "exec", netns, "ip") if netns else ()), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True)


def unavailable() -> str | None:
    """Why hosts cannot be made here (None when they can)."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN)"
    probe = f"va-probe-{uuid.uuid4().hex[:6]}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"cannot create a network namespace: {exc.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@dataclass
class Host:
    """One machine: its namespace, address and link (the switch port's end)."""

    name: str
    netns: str
    address: str
    #: The veth end on the bridge: down = the host is cut off.
    link: str

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run on this host."""
        return ["ip", "netns", "exec", self.netns, *argv]


@dataclass
class Network:
    tag: str
    bridge: str
    hosts: dict[str, Host] = field(default_factory=dict)

    def add_host(self, name: str) -> Host:
        index = len(self.hosts) + 2
        netns = f"va-{self.tag}-{name}"
        link, inner = f"va{self.tag}{index}a", f"va{self.tag}{index}b"
        _ip("netns", "add", netns)
        _ip("link", "add", link, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", netns)
        _ip("link", "set", link, "master", self.bridge)
        _ip("link", "set", link, "up")
        address = f"{SUBNET}.{index}"
        _ip("addr", "add", f"{address}/24", "dev", inner, netns=netns)
        _ip("link", "set", inner, "up", netns=netns)
        _ip("link", "set", "lo", "up", netns=netns)
        _ip("route", "add", "default", "via", GATEWAY, netns=netns)
        host = self.hosts[name] = Host(name, netns, address, link)
        return host

    def cut(self, name: str) -> None:
        """Take the host's link down: nothing goes in or out of it."""
        _ip("link", "set", self.hosts[name].link, "down")

    def remove(self) -> None:
        for host in self.hosts.values():
            subprocess.run(["ip", "link", "del", host.link], capture_output=True)
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


@contextmanager
def network() -> Iterator[Network]:
    """A bridge holding ``GATEWAY``; hosts are added with :meth:`Network.add_host`."""
    tag = uuid.uuid4().hex[:4]
    net = Network(tag=tag, bridge=f"vabr{tag}")
    try:
        _ip("link", "add", net.bridge, "type", "bridge")
        _ip("addr", "add", f"{GATEWAY}/24", "dev", net.bridge)
        _ip("link", "set", net.bridge, "up")
        yield net
    finally:
        net.remove()
