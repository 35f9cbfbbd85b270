"""The running system, once per test session: a private redis-server, a migrated and seeded
database of its own, two uvicorn processes, a Celery worker, beat, and a fake Telegram Bot
API on loopback. Every process and the database are removed at the end, also on failure.

Tests share one stack and are written so that they do not see each other's traffic: each
uses its own users, customers and message texts.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import pytest

from tests.system import harness
from tests.system.client import LiveLoop, login

T = TypeVar("T")

BOT_TOKEN = "123456:SYSTEM-token"
_update_ids = itertools.count(900_000)

# Written once the database is seeded: the two team inboxes of kind `api` the tests post to,
# a bot token on the demo Telegram inbox, API tokens; printed back as JSON.
SETUP_SCRIPT = """
import json
from accounts.models import Team, User
from chats.models import Inbox
from chats.services.inboxes import inbox_save
from rest_framework.authtoken.models import Token

teams = {t.name: t for t in Team.objects.all()}
telegram = Inbox.objects.get(kind=Inbox.Kind.TELEGRAM, name="Telegram bot")
telegram.bot_token = BOT_TOKEN
inbox_save(inbox=telegram, actor=None)
inboxes = {"telegram": telegram, "partner": Inbox.objects.get(name="Partner API")}
for label, team in (("support", "General support"), ("delivery", "Delivery")):
    inbox = Inbox.objects.filter(name=f"System API {label}").first()
    if inbox is None:
        inbox = inbox_save(
            inbox=Inbox(name=f"System API {label}", kind=Inbox.Kind.API, default_team=teams[team]),
            actor=None,
        )
    inboxes[label] = inbox
print(json.dumps({
    "inboxes": {
        label: {"id": i.pk, "key": i.key, "secret": i.secret, "team_id": i.default_team_id}
        for label, i in inboxes.items()
    },
    "users": {
        u.username: {"id": u.pk, "token": Token.objects.get_or_create(user=u)[0].key}
        for u in User.objects.all()
    },
    "teams": {name: t.pk for name, t in teams.items()},
}))
"""


def _peer_gone(connection: socket.socket) -> bool:
    """Whether the client closed its end (readable with nothing to read), without consuming."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class SlowBotApi:
    """The Telegram Bot API on loopback: answers `POST /bot<token>/<method>` as Telegram does
    (sendMessage returns a message with a fresh id) and records each call.

    With `delay` set, each call takes that long *before* Telegram acts on it, and a call
    whose client has gone by then (a worker killed mid-request) is dropped unrecorded, as a
    request lost in transit is. So a worker killed mid-batch leaves no call in doubt except in
    the instant between Telegram answering and the worker recording the answer: Telegram takes
    no idempotency key, so a call cut off there is sent again (at least once, by design).
    `hold(n)` keeps that instant out of a test: once n more messages went, each further
    sendMessage waits until `release()`, then is dropped if its client has gone; `held` counts
    the calls waiting now whose client is still there (a client that gave up waiting is not
    mid-call any more).
    """

    def __init__(self) -> None:
        self.delay = 0.0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.dropped = 0
        self._held: list[socket.socket] = []
        self._hold_from: int | None = None
        self._prefix = ""
        self._released = threading.Event()
        self.lock = threading.Lock()
        self.next_message_id = 5000
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def sent(self) -> Counter[tuple[int, str]]:
        """sendMessage calls by (chat id, text)."""
        with self.lock:
            return Counter(
                (int(params.get("chat_id", 0)), str(params.get("text", "")))
                for method, params in self.calls
                if method == "sendMessage"
            )

    def _sends(self) -> int:
        return sum(
            1
            for name, params in self.calls
            if name == "sendMessage" and str(params.get("text", "")).startswith(self._prefix)
        )

    def hold(self, after: int, *, prefix: str = "") -> None:
        """Once `after` more messages whose text starts with `prefix` went, each further
        sendMessage waits inside Telegram until `release()`."""
        with self.lock:
            self._released.set()  # a hold not released frees its callers first
            self._released = threading.Event()
            self._prefix = prefix
            self._hold_from = self._sends() + after

    def release(self) -> None:
        with self.lock:
            self._hold_from = None
            self._released.set()

    @property
    def waiting(self) -> int:
        """The calls waiting now, their client there or not."""
        with self.lock:
            return len(self._held)

    @property
    def held(self) -> int:
        with self.lock:
            return sum(not _peer_gone(connection) for connection in self._held)

    def _wait_if_held(self, method: str, connection: socket.socket) -> bool:
        with self.lock:
            if method != "sendMessage" or self._hold_from is None:
                return False
            if self._sends() < self._hold_from:
                return False
            self._held.append(connection)
            released = self._released
        try:
            released.wait(120)
        finally:
            with self.lock:
                self._held.remove(connection)
        return True

    def _act(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls.append((method, params))
            if method == "sendMessage":
                self.next_message_id += 1
                chat = {"id": int(params.get("chat_id", 0)), "type": "private"}
                result: Any = {"message_id": self.next_message_id, "chat": chat, "date": 0}
                return {"ok": True, "result": result}
        return {"ok": True, "result": True}

    @contextlib.contextmanager
    def running(self) -> Iterator[SlowBotApi]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                method = self.path.rsplit("/", 1)[-1]
                try:
                    params = json.loads(body or b"{}")
                except ValueError:
                    params = {}
                delay = fake.delay
                if delay:
                    time.sleep(delay)
                held = fake._wait_if_held(method, self.connection)
                if (held or delay) and _peer_gone(self.connection):
                    with fake.lock:
                        fake.dropped += 1
                    self.close_connection = True
                    return
                data = json.dumps(fake._act(method, params)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(5)


@dataclass
class Stack:
    database_url: str
    redis: harness.RedisServer
    env: dict[str, str]
    bot: SlowBotApi
    data: dict[str, Any]
    webs: list[harness.Proc] = field(default_factory=list)
    workers: list[harness.Proc] = field(default_factory=list)
    beat: harness.Proc | None = None
    extra: list[harness.Proc] = field(default_factory=list)
    _db: Any = None
    _db_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- processes --

    @property
    def procs(self) -> list[harness.Proc]:
        beat = [self.beat] if self.beat is not None else []
        return [*self.webs, *self.workers, *beat, *self.extra]

    def tails(self, chars: int = 2500) -> str:
        return "\n".join(p.tail(chars) for p in self.procs)

    def wait(self, predicate: Callable[[], T], timeout: float, what: str) -> T:
        """`wait_until`, with the processes' log tails in the failure."""
        try:
            return harness.wait_until(predicate, timeout, what, interval=0.2)
        except AssertionError as problem:
            raise AssertionError(f"{problem}\n{self.tails()}") from None

    def web(self, index: int = 0) -> str:
        return self.webs[index].base_url

    def start_web(self, **env: str) -> harness.Proc:
        """A web process of this stack's, with `env` over the stack's environment."""
        proc = harness.start_web({**self.env, **env}, harness.free_port())
        self.extra.append(proc)
        return proc

    def start_worker(self, queues: str = "celery,background") -> harness.Proc:
        proc = harness.start_worker(self.env, queues=queues)
        self.workers.append(proc)
        return proc

    def ensure_worker(self) -> None:
        """A live worker, as a supervisor would keep one (a dead one is reported by the test
        that killed it)."""
        if not any(worker.alive for worker in self.workers):
            self.start_worker()

    # -- the database (read-only from the tests: writes go through the system) --

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self._db_lock:
            if self._db is None or self._db.closed:
                self._db = harness.db_connect(self.database_url)
            return self._db.execute(sql, params).fetchall()

    def latest_event_id(self) -> int:
        return int(self.query("SELECT coalesce(max(seq), 0) FROM smartdesk_liveevent")[0][0])

    def user(self, username: str) -> dict[str, Any]:
        return self.data["users"][username]

    def inbox(self, label: str) -> dict[str, Any]:
        return self.data["inboxes"][label]

    # -- HTTP, as the outside world uses it --

    def inbound(
        self, web: str, label: str, *, external_id: str, text: str, customer: str
    ) -> httpx.Response:
        """A customer's message posted to an `api` inbox through the inbound API."""
        inbox = self.inbox(label)
        return httpx.post(
            f"{web}/api/v1/inboxes/{inbox['key']}/messages/",
            json={
                "external_id": external_id,
                "text": text,
                "customer": {"kind": "email", "value": customer, "first_name": "System"},
            },
            headers={"Authorization": f"Bearer {inbox['secret']}"},
            timeout=30,
        )

    def telegram_update(self, web: str, *, chat_id: int, text: str) -> httpx.Response:
        """A private-chat message from Telegram user `chat_id`, through the inbox's webhook."""
        inbox = self.inbox("telegram")
        update_id = next(_update_ids)
        payload = {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {"id": chat_id, "is_bot": False, "first_name": f"Tg{chat_id}"},
                "chat": {"id": chat_id, "first_name": f"Tg{chat_id}", "type": "private"},
                "date": int(time.time()),
                "text": text,
            },
        }
        return httpx.post(
            f"{web}/integrations/telegram/{inbox['id']}/webhook",
            json=payload,
            headers={"X-Telegram-Bot-Api-Secret-Token": inbox["secret"]},
            timeout=30,
        )

    def reply(self, web: str, username: str, conversation_id: int, body: str) -> httpx.Response:
        """An operator's reply through the REST API (token auth)."""
        return httpx.post(
            f"{web}/api/v1/conversations/{conversation_id}/messages/",
            json={"kind": "reply", "body": body},
            headers={"Authorization": f"Token {self.user(username)['token']}"},
            timeout=30,
        )

    def telegram_conversation(self, chat_id: int, timeout: float = 60) -> int:
        """The conversation of Telegram user `chat_id`, once the worker has processed their
        first update."""

        def found() -> int | None:
            rows = self.query(
                "SELECT c.id FROM chats_conversation c JOIN chats_telegramchat t"
                " ON t.customer_id = c.customer_id AND t.inbox_id = c.inbox_id"
                " WHERE t.chat_id = %s ORDER BY c.id DESC LIMIT 1",
                [chat_id],
            )
            return rows[0][0] if rows else None

        return self.wait(found, timeout, f"the conversation of Telegram chat {chat_id}")

    def metrics(self, web: str) -> str:
        return httpx.get(f"{web}/metrics", timeout=10).text

    def login(self, web: str, username: str) -> dict[str, str]:
        return login(web, username)


def pytest_configure(config: pytest.Config) -> None:
    # Registered by xdist; named here too so that `-p no:xdist` runs pass --strict-markers.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")


def _database_name() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"system_{worker}_{os.getpid()}"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    name = _database_name()
    bot = SlowBotApi()
    redis = harness.RedisServer()
    procs: list[harness.Proc] = []
    built: Stack | None = None
    with bot.running():
        try:
            redis.start()
            database_url = harness.system_database(name)
            env = harness.base_env(database_url, redis.url, TELEGRAM_API_BASE=bot.url)
            harness.seed_demo(env)
            out = harness.manage(
                ["shell", "-c", f"BOT_TOKEN = {BOT_TOKEN!r}\n{SETUP_SCRIPT}"], env, timeout=120
            )
            data = json.loads(out.strip().splitlines()[-1])
            built = Stack(database_url, redis, env, bot, data)
            for _ in range(2):
                proc = harness.start_web(env, harness.free_port())
                procs.append(proc)
                built.webs.append(proc)
            built.workers.append(harness.start_worker(env))
            built.beat = harness.start_beat(env, harness.log_dir() / f"beat-{name}")
            yield built
        finally:
            for proc in [*(built.procs if built else []), *procs]:
                proc.terminate(timeout=5)
            redis.stop()
            if built is not None and built._db is not None:
                built._db.close()
            harness.drop_database(name)


@pytest.fixture
def live() -> Iterator[LiveLoop]:
    """Sockets for one test, all closed at its end."""
    with LiveLoop() as loop:
        yield loop
