"""Jobs of the global-limit e2e test (`--import tests.e2e.limit_jobs`). Each run appends
`start end` (unix seconds) to a shared file in one `O_APPEND` write, so the test can
count how many ran at once across worker processes."""

from __future__ import annotations

import asyncio
import os
import time

import medley

LIMIT = 3

medley.limit("e2e-probe", max_running=LIMIT)


@medley.job(name="e2e.limited_probe", limit="e2e-probe")
async def limited_probe(path: str, hold: float) -> None:
    start = time.time()  # after the claim took the slot
    await asyncio.sleep(hold)
    line = f"{start:.6f} {time.time():.6f}\n".encode()  # before the outcome frees it
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
