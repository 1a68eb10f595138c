"""A local OpenAI-compatible server for the tests: `/v1/chat/completions` answers from a
script of cues, so a test can ask for a 429 with Retry-After, a slow answer, a 500 or a
400, then a normal completion. Loopback only; stopped by the fixture."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Cue:
    """One scripted answer: status, headers, and a delay before answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    text: str = "stub answer"


class StubOpenAI:
    """Serves cues in order, then normal answers. Records every request body."""

    def __init__(self) -> None:
        self.cues: deque[Cue] = deque()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        """Most requests the stub was answering at once."""
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.requests.append(body)
                    cue = stub.cues.popleft() if stub.cues else Cue()
                    stub.in_flight += 1
                    stub.peak_in_flight = max(stub.peak_in_flight, stub.in_flight)
                try:
                    if cue.delay:
                        time.sleep(cue.delay)
                finally:
                    with stub._lock:
                        stub.in_flight -= 1
                payload = _answer(cue, body) if cue.status == 200 else {"error": {"message": "cue"}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(cue.status)
                    for name, value in cue.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout or cancel): what the test wanted

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> StubOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _answer(cue: Cue, body: dict[str, Any]) -> dict[str, Any]:
    prompt = sum(len(m.get("content", "")) for m in body.get("messages", [])) // 4
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "model": body.get("model", "stub"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": cue.text}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": 3},
    }
