"""Jobs the web tests enqueue by name (`web.*`). The server (and its worker) runs in a
thread of the test process, so sync jobs here block on `threading.Event` gates that the
test opens; a gate is keyed by a value the test passes as an argument."""

from __future__ import annotations

import threading
from typing import Any

import medley

_gates: dict[str, threading.Event] = {}
GATE_TIMEOUT = 30.0


def gate(key: str) -> threading.Event:
    return _gates.setdefault(key, threading.Event())


@medley.job(name="web.add")
def add(a: int, b: int) -> int:
    return a + b


@medley.job(name="web.echo")
def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Returns what it was given: attacker-controlled text ends up in results too."""
    return {"args": list(args), "kwargs": kwargs}


@medley.job(name="web.fail", max_attempts=1)
def fail(message: str) -> None:
    raise ValueError(message)


@medley.job(name="web.gated")
def gated(ctx: medley.JobContext, key: str) -> str:
    """Reports half progress, then waits until the test opens the gate `key`."""
    ctx.set_progress(0.5, "halfway")
    if not gate(key).wait(GATE_TIMEOUT):
        raise TimeoutError(f"gate {key!r} never opened")
    ctx.set_progress(1.0, "done")
    return key
