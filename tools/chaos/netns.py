"""A network namespace joined to the host by a veth pair: a second "machine" whose only
link is the one the chaos run cuts. Created and removed by the run (needs root and `ip`);
addresses 10.200.0.0/24 exist only on these veths."""

from __future__ import annotations

import os
import shutil
import subprocess
from types import TracebackType

NAMESPACE = "medley-chaos"
HOST_IF = "mchaos-h"
NS_IF = "mchaos-n"
HOST_IP = "10.200.0.1"
NS_IP = "10.200.0.2"
PREFIX = 24


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def unavailable() -> str | None:
    """Why namespaces cannot be used here, or None if they can."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)"
    probe = f"{NAMESPACE}-probe"
    added = _ip("netns", "add", probe, check=False)
    if added.returncode != 0:
        return f"`ip netns add` failed: {added.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


class Namespace:
    """`with Namespace() as ns:` sets up the namespace and veth pair, removes them after."""

    exec_prefix = ("ip", "netns", "exec", NAMESPACE)

    def __enter__(self) -> Namespace:
        self.remove()  # leftovers of an interrupted run
        try:
            _ip("netns", "add", NAMESPACE)
            _ip("link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
            _ip("link", "set", NS_IF, "netns", NAMESPACE)
            _ip("addr", "add", f"{HOST_IP}/{PREFIX}", "dev", HOST_IF)
            _ip("link", "set", HOST_IF, "up")
            inside = ("netns", "exec", NAMESPACE, "ip")
            _ip(*inside, "addr", "add", f"{NS_IP}/{PREFIX}", "dev", NS_IF)
            _ip(*inside, "link", "set", NS_IF, "up")
            _ip(*inside, "link", "set", "lo", "up")
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    @staticmethod
    def remove() -> None:
        _ip("link", "del", HOST_IF, check=False)  # removes the peer too
        _ip("netns", "del", NAMESPACE, check=False)

    @staticmethod
    def cut() -> None:
        """Take the host end of the link down: nothing passes either way."""
        _ip("link", "set", HOST_IF, "down")

    @staticmethod
    def restore() -> None:
        _ip("link", "set", HOST_IF, "up")
