"""Real local HTTP servers standing in for the outside world: the Telegram Bot API, and the
app backend that receives push webhooks. The code under test reaches them over HTTP through
its configurable base URL (`TELEGRAM_API_BASE`, an inbox's `push_url`)."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    at: float
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    params, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            files[name] = payload
        else:
            params[name] = payload.decode()
    return params, files


class FakeBotApi:
    """Answers `POST /bot<token>/<method>` from scripted responses (default: ok), records
    every call, and serves `GET /file/bot<token>/<path>` from `files`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.scripts: dict[str, deque[tuple[int, dict[str, Any]]]] = defaultdict(deque)
        self.files: dict[str, bytes] = {}
        self.next_message_id = 1000
        self.lock = threading.Lock()
        # Cleared, every call is held (recorded, not answered) until it is set again: a
        # delivery caught in flight.
        self.open = threading.Event()
        self.open.set()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, method: str, status: int, body: dict[str, Any]) -> None:
        self.scripts[method].append((status, body))

    def called(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.scripts[method]:
                return self.scripts[method].popleft()
            if method == "sendMessage" and len(str(params.get("text", ""))) > 4096:
                # As the real Bot API answers a text over its limit.
                return 400, {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: message is too long",
                }
            if method in ("sendMessage", "sendPhoto", "sendDocument"):
                self.next_message_id += 1
                chat = {"id": int(params.get("chat_id", 0)), "type": "private"}
                return 200, {
                    "ok": True,
                    "result": {"message_id": self.next_message_id, "chat": chat, "date": 0},
                }
            if method == "getFile":
                file_id = params["file_id"]
                return 200, {
                    "ok": True,
                    "result": {"file_id": file_id, "file_path": f"files/{file_id}"},
                }
            return 200, {"ok": True, "result": True}

    @contextmanager
    def running(self) -> Iterator[FakeBotApi]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("/", 3)[-1] if self.path.startswith("/file/") else ""
                content = fake.files.get(path)
                if content is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                method = self.path.rsplit("/", 1)[-1]
                content_type = self.headers.get("Content-Type", "")
                files: dict[str, bytes] = {}
                if content_type.startswith("multipart/"):
                    params, files = _parse_multipart(content_type, body)
                else:
                    params = json.loads(body or b"{}")
                with fake.lock:
                    fake.calls.append(Call(method, params, files, time.monotonic()))
                fake.open.wait(30)
                status, answer = fake._answer(method, params)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.open.set()  # release any call a failed test left held
            self.server.shutdown()
            self.server.server_close()
            thread.join(5)


class PushReceiver:
    """The app backend: records each webhook request and answers the scripted statuses in
    order (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = deque(statuses or [])
        self.requests: list[Call] = []
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/push"

    @contextmanager
    def running(self) -> Iterator[PushReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(
                    Call("push", json.loads(body), {}, time.monotonic(), dict(self.headers), body)
                )
                status = receiver.statuses.popleft() if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(5)
