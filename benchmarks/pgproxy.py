"""A counting TCP proxy in front of PostgreSQL, for row 6 (idle cost).

pg_stat_statements needs `shared_preload_libraries` (absent on a stock server), and
`pg_stat_database` counters are flushed by backends lazily (up to 10 s late in PG 15),
so instead the worker under test connects through this proxy, which forwards bytes
unchanged and parses the frontend (client -> server) protocol messages:

* statements = simple-protocol `Query` ('Q') + extended-protocol `Execute` ('E') messages,
* round trips = `Query` + `Sync` ('S') messages,
* connections = TCP connections opened.

Proxied URLs force `sslmode=disable` (the proxy cannot read TLS); an SSLRequest or
GSSENCRequest refused by the server is skipped like the startup message.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_UNTYPED_PRELUDE = {80877103, 80877104}  # SSLRequest, GSSENCRequest: startup follows


def _cstrings(body: bytes, count: int) -> list[str]:
    """The first `count` NUL-terminated strings of a message body."""
    out: list[str] = []
    start = 0
    for _ in range(count):
        end = body.find(b"\0", start)
        if end < 0:
            break
        out.append(body[start:end].decode(errors="replace"))
        start = end + 1
    return out


def _shorten(query: str) -> str:
    return " ".join(query.split())[:120]


class FrontendParser:
    """Splits a client byte stream into protocol messages, counts their types, and counts
    executed statements by their (shortened) SQL text."""

    def __init__(self, counts: Counter[str], statements: Counter[str]) -> None:
        self.counts = counts
        self.statements = statements
        self._buffer = bytearray()
        self._startup = True
        self._prepared: dict[str, str] = {}  # statement name -> SQL
        self._portals: dict[str, str] = {}  # portal name -> SQL

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if self._startup:
                if len(self._buffer) < 8:
                    return
                length = int.from_bytes(self._buffer[:4], "big")
                if len(self._buffer) < length:
                    return
                code = int.from_bytes(self._buffer[4:8], "big")
                self._startup = code in _UNTYPED_PRELUDE
                del self._buffer[:length]
                continue
            if len(self._buffer) < 5:
                return
            length = int.from_bytes(self._buffer[1:5], "big")
            if len(self._buffer) < 1 + length:
                return
            kind = chr(self._buffer[0])
            self.counts[kind] += 1
            if kind in "QPBE":
                self._track(kind, bytes(self._buffer[5 : 1 + length]))
            del self._buffer[: 1 + length]

    def _track(self, kind: str, body: bytes) -> None:
        if kind == "Q":
            self.statements[_shorten(_cstrings(body, 1)[0])] += 1
        elif kind == "P":
            name, query = [*_cstrings(body, 2), "", ""][:2]
            self._prepared[name] = _shorten(query)
        elif kind == "B":
            portal, name = [*_cstrings(body, 2), "", ""][:2]
            self._portals[portal] = self._prepared.get(name, "?")
        else:
            portal = _cstrings(body, 1)[0] if body else ""
            self.statements[self._portals.get(portal, "?")] += 1


@dataclasses.dataclass(frozen=True)
class Traffic:
    statements: int
    round_trips: int
    connections: int

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(
            self.statements - other.statements,
            self.round_trips - other.round_trips,
            self.connections - other.connections,
        )


class CountingProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream_url = upstream_url
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 5432
        self.counts: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self) -> str:
        """The upstream URL rewritten to go through this proxy."""
        parts = urlsplit(self._upstream_url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        query = dict(parse_qsl(parts.query))
        query["sslmode"] = "disable"
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))

    def snapshot(self) -> Traffic:
        return Traffic(
            statements=self.counts["Q"] + self.counts["E"],
            round_trips=self.counts["Q"] + self.counts["S"],
            connections=self.connections,
        )

    async def close(self) -> None:
        """Stop listening and cut every proxied connection."""
        if self._server is not None:
            self._server.close()
        for pump in list(self._pumps):
            pump.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        self.connections += 1
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
            except OSError:
                writer.close()
                return
            parser = FrontendParser(self.counts, self.statements)
            pumps = {
                asyncio.create_task(_pump(reader, up_writer, parser)),
                asyncio.create_task(_pump(up_reader, writer, None)),
            }
            self._pumps |= pumps
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.wait(pumps)
                self._pumps -= pumps
                for w in (writer, up_writer):
                    w.close()
        finally:
            self._handlers.discard(handler)


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: FrontendParser | None
) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            if parser is not None:
                parser.feed(data)
            writer.write(data)
            await writer.drain()
