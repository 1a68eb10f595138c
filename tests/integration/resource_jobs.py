"""Jobs of the resource-management tests (`it.res.*`): per-queue slots, queue order,
throttling, and child-process recycling.

The async jobs run in the test's process and report through module state that
`reset()` clears; the `cpu_bound` ones run in child processes and report through their
results.
"""

from __future__ import annotations

import os
from collections import Counter

import medley
from tests.integration.jobs import gate

MB = 1024 * 1024

started: list[str] = []
"""Labels of `it.res.hold` jobs, in the order they started."""
running: Counter[str] = Counter()
peak: Counter[str] = Counter()
"""The most `it.res.hold` jobs of each label seen running at once."""
_leaked: list[bytes] = []


def reset() -> None:
    started.clear()
    running.clear()
    peak.clear()


@medley.job(name="it.res.hold")
async def hold(label: str, gate_name: str) -> str:
    """Counts itself running under `label` until the gate opens ('' : finish at once)."""
    started.append(label)
    running[label] += 1
    peak[label] = max(peak[label], running[label])
    try:
        if gate_name:
            await gate(gate_name).wait()
    finally:
        running[label] -= 1
    return label


@medley.job(name="it.res.pid", cpu_bound=True)
def child_pid() -> int:
    return os.getpid()


@medley.job(name="it.res.leak", cpu_bound=True)
def leak(mb: int) -> int:
    """Keeps `mb` MiB of touched memory alive in its child, as a leaky library would."""
    _leaked.append(b"\x01" * (mb * MB))
    return os.getpid()
