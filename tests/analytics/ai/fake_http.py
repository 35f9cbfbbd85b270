"""A local HTTP peer for the AI tests: an LLM endpoint or a chat-ops webhook.

A threaded `http.server` on a free port records every POST and answers from a script:
a status with a JSON body, raw bytes, or a hold — the answer waits on an event the test sets
at its end, so a client with a short timeout meets a peer that never answers in time.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakePeer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.answers: deque[tuple[int, bytes] | str] = deque()
        self.release = threading.Event()
        self.received = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer_json(self, status: int, body: Any) -> None:
        self.answers.append((status, json.dumps(body, ensure_ascii=False).encode()))

    def answer_raw(self, status: int, body: bytes) -> None:
        self.answers.append((status, body))

    def hold(self) -> None:
        """The next request gets no answer until the test ends."""
        self.answers.append("hold")

    def chat(self, text: str) -> None:
        """An OpenAI-style chat completion whose message is `text`."""
        self.answer_json(
            200,
            {
                "id": "cmpl-1",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            },
        )


@contextmanager
def fake_peer() -> Iterator[FakePeer]:
    peer = FakePeer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            peer.requests.append(Request(self.path, dict(self.headers.items()), body))
            peer.received.set()
            answer = peer.answers.popleft() if peer.answers else (200, b"{}")
            if answer == "hold":
                peer.release.wait(30)
                return
            status, payload = answer
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    peer.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        peer.release.set()
        server.shutdown()
        server.server_close()
