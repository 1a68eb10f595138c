"""`--processes P`: a supervisor that runs P worker child processes and restarts any that
crash (with backoff, so a child that dies at start cannot spin the machine). SIGTERM and
SIGINT are passed on, so each child shuts down gracefully and gives back what it holds."""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("medley.supervisor")

RESTART_DELAY_MIN = 0.5
RESTART_DELAY_MAX = 30.0
HEALTHY_AFTER = 60.0
"""A child that lived this long resets its restart backoff."""


@dataclass
class _Child:
    slot: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    delay: float = RESTART_DELAY_MIN
    restart_at: float | None = None
    """When a dead child's replacement is due."""


class Supervisor:
    """Keeps `count` copies of `command` running until told to stop."""

    def __init__(
        self,
        command: Sequence[str],
        count: int,
        *,
        stop_timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.env = dict(env) if env is not None else None
        """The children's environment (None: this process's)."""
        self.count = count
        self.stop_timeout = stop_timeout
        self.restarts = 0
        self._stopping = False
        self._children: dict[int, _Child] = {}

    def _spawn(self, slot: int, delay: float = RESTART_DELAY_MIN) -> None:
        process = subprocess.Popen(self.command, env=self.env)
        self._children[slot] = _Child(slot, process, delay=delay)
        log.info("started worker process %d (pid %d)", slot, process.pid)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("supervisor got %s: stopping workers", signal.Signals(signum).name)
        self._stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for slot in range(self.count):
            self._spawn(slot)
        while not self._stopping:
            self.check_children()
            time.sleep(0.2)
        return self.stop()

    def check_children(self) -> None:
        """Restart children that exited, with per-slot exponential backoff. Never blocks:
        a pending restart is due at `restart_at`, so signals and other slots stay served."""
        now = time.monotonic()
        for slot, child in list(self._children.items()):
            if self._stopping:
                return
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self.restarts += 1
                    self._spawn(slot, child.delay)
                continue
            code = child.process.poll()
            if code is None:
                continue
            lived = now - child.started
            delay = (
                RESTART_DELAY_MIN
                if lived > HEALTHY_AFTER
                else min(child.delay * 2, RESTART_DELAY_MAX)
            )
            log.error(
                "worker process %d (pid %d) exited with %s after %.1fs; restarting in %.1fs",
                slot,
                child.process.pid,
                code,
                lived,
                delay,
            )
            child.delay = delay
            child.restart_at = now + delay

    def stop(self) -> int:
        for child in self._children.values():
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        worst = 0
        for child in self._children.values():
            try:
                code = child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.error("worker pid %d did not stop in time: killing it", child.process.pid)
                child.process.kill()
                code = child.process.wait()
            worst = max(worst, abs(code))
        return 0 if worst in (0, signal.SIGTERM) else 1
