"""Entry point of a CPU-bound job process: `python -m` this module with two pipe fds."""

from __future__ import annotations

import importlib
import sys
import traceback
from multiprocessing.connection import Connection

from medley.infrastructure.jobs.registry import DEFAULT_REGISTRY


def _child_main(reader: Connection, writer: Connection) -> None:
    """Serve jobs one at a time until the parent closes the pipe."""
    while True:
        try:
            module, name, args, kwargs = reader.recv()
        except EOFError:
            return
        try:
            importlib.import_module(module)
            result = DEFAULT_REGISTRY.get(name).func(*args, **kwargs)
            writer.send((True, result))
        except Exception as exc:
            writer.send((False, (type(exc).__name__, str(exc), traceback.format_exc())))


def main(argv: list[str]) -> None:
    reader = Connection(int(argv[1]), writable=False)
    writer = Connection(int(argv[2]), readable=False)
    _child_main(reader, writer)


if __name__ == "__main__":
    main(sys.argv)
