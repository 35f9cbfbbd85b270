"""A small asyncio client for the Asterisk Manager Interface (AMI).

Why our own (docs/telephony.md has the comparison): the listener needs only login, a stream
of events, Ping, Logoff and Originate, and it needs to control framing errors (a line that
cannot be parsed is logged and skipped), reconnects and shutdown itself. Panoramisk (last
release 1.4, 2021) owns its own reconnect and ping loop and callback registry, which we would
have to work around; the other PyPI clients are thread-based or unmaintained.

The protocol, as Asterisk speaks it over TCP (port 5038):

- on connect the server sends one banner line alone, e.g. ``Asterisk Call Manager/9.0.0``,
  before any framed message;
- then every message, either way, is ``Key: Value`` lines ended by CRLF and terminated by an
  empty line;
- a client action carries ``Action:`` and an ``ActionID:`` that the ``Response:`` repeats;
  events carry ``Event:``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

CRLF = b"\r\n"
# A line longer than this is not AMI: it is dropped rather than buffered without bound.
MAX_LINE = 64 * 1024
# Messages longer than this (in lines) are cut off; Asterisk's longest events have ~60 fields.
MAX_FIELDS = 500

Message = dict[str, str]


class AmiError(Exception):
    """The connection failed or the server refused us."""


class AmiLoginError(AmiError):
    pass


@dataclass
class AmiParser:
    """Turns the byte stream into messages. Feed it whatever `read()` returned.

    Lines without ``": "`` (or over `MAX_LINE`) are counted in `garbage`, logged and skipped;
    the message they sat in keeps its other fields.
    """

    banner: str | None = None
    garbage: int = 0
    _buffer: bytearray = field(default_factory=bytearray)
    _current: Message = field(default_factory=dict)
    _lines: int = 0
    _skipping_long_line: bool = False

    def feed(self, data: bytes) -> list[Message]:
        self._buffer.extend(data)
        messages: list[Message] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    # No end of line in sight: drop what we hold and the rest of that line.
                    self._skip("an over-long line", bytes(self._buffer[:80]))
                    self._buffer.clear()
                    self._skipping_long_line = True
                return messages
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipping_long_line:
                self._skipping_long_line = False
                continue
            if len(raw) > MAX_LINE:
                self._skip("an over-long line", raw[:80])
                continue
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            message = self._line(line)
            if message is not None:
                messages.append(message)

    def _line(self, line: str) -> Message | None:
        if self.banner is None and not self._current:
            # The banner comes alone, before any framed message, and ends with no blank line.
            self.banner = line
            return None
        if line == "":
            if not self._current:
                return None  # blank lines between messages
            message, self._current, self._lines = self._current, {}, 0
            return message
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":") and line[:-1] and " " not in line:
                key, value = line[:-1], ""  # "Key:" with an empty value
            else:
                self._skip("a line that is not 'Key: Value'", line[:80].encode())
                return None
        self._lines += 1
        if self._lines <= MAX_FIELDS:
            self._current.setdefault(key.strip(), value)
        return None

    def _skip(self, what: str, sample: bytes) -> None:
        self.garbage += 1
        logger.warning("AMI: skipped %s: %r", what, sample)


def encode(fields: Mapping[str, object] | Sequence[tuple[str, object]]) -> bytes:
    """One framed message. Values must not contain line breaks (an injected header could
    turn a customer's number into a second AMI action)."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    out = bytearray()
    for key, value in items:
        text = str(value)
        if "\r" in text or "\n" in text or "\r" in key or "\n" in key:
            raise ValueError(f"AMI field {key!r} contains a line break")
        out.extend(f"{key}: {text}".encode())
        out.extend(CRLF)
    out.extend(CRLF)
    return bytes(out)


class AmiConnection:
    """One logged-in AMI session: `events()` yields events, `action()` awaits its response.

    A Ping every `ping_interval` seconds with no answer within `ping_timeout` ends the event
    stream with `AmiError`: a silent half-open TCP connection must not look like a quiet PBX.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float = 5.0,
        ping_interval: float = 20.0,
        ping_timeout: float = 10.0,
    ) -> None:
        self.host, self.port = host, port
        self.connect_timeout = connect_timeout
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.parser = AmiParser()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._events: asyncio.Queue[Message | BaseException] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._banner = asyncio.Event()
        self.closed = False

    @property
    def banner(self) -> str | None:
        return self.parser.banner

    async def connect(self) -> str:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as error:
            raise AmiError(f"cannot connect to {self.host}:{self.port}: {error}") from error
        self._tasks.append(asyncio.create_task(self._read_loop(), name="ami-read"))
        try:
            await asyncio.wait_for(self._banner.wait(), self.connect_timeout)
        except TimeoutError as error:
            await self.close()
            raise AmiError("no AMI banner from the server") from error
        if not (self.banner or "").startswith("Asterisk Call Manager"):
            logger.warning("AMI: unexpected banner %r", self.banner)
        return self.banner or ""

    async def login(self, username: str, secret: str) -> None:
        response = await self.action(
            {"Action": "Login", "Username": username, "Secret": secret, "Events": "on"}
        )
        if response.get("Response") != "Success":
            raise AmiLoginError(response.get("Message") or "login refused")
        if self.ping_interval > 0:
            self._tasks.append(asyncio.create_task(self._ping_loop(), name="ami-ping"))

    async def action(self, fields: Mapping[str, object], *, timeout: float = 10.0) -> Message:
        """Send an action and wait for its response (matched by ActionID)."""
        if self._writer is None or self.closed:
            raise AmiError("not connected")
        action_id = str(fields.get("ActionID") or f"sd-{next(self._ids)}")
        payload = [(k, v) for k, v in fields.items() if k != "ActionID"]
        payload.append(("ActionID", action_id))
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            self._writer.write(encode(payload))
            await self._writer.drain()
            return await asyncio.wait_for(future, timeout)
        except (OSError, ConnectionError) as error:
            raise AmiError(f"connection lost: {error}") from error
        except TimeoutError as error:
            raise AmiError(f"no response to {fields.get('Action')}") from error
        finally:
            self._pending.pop(action_id, None)

    async def events(self) -> AsyncIterator[Message]:
        """Events in arrival order, until the connection ends (then `AmiError`)."""
        while True:
            item = await self._events.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    async def close(self, *, logoff: bool = False) -> None:
        if logoff and not self.closed and self._writer is not None:
            with contextlib.suppress(AmiError, OSError, ConnectionError):
                await self.action({"Action": "Logoff"}, timeout=2)
        self.closed = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()

    def drain(self, limit: int) -> list[Message]:
        """Events already received, up to `limit`, without waiting (a failure stays queued
        for `events()` to raise)."""
        out: list[Message] = []
        queue = self._events
        while len(out) < limit and not queue.empty():
            if isinstance(queue._queue[0], BaseException):  # type: ignore[attr-defined]
                break
            item = queue.get_nowait()
            assert not isinstance(item, BaseException)  # noqa: S101 - checked just above
            out.append(item)
        return out

    def interrupt(self, error: BaseException) -> None:
        """End `events()` with `error` (the connection stays up for a Logoff)."""
        self._events.put_nowait(error)

    # --- internals ---------------------------------------------------------------------

    async def _read_loop(self) -> None:
        if self._reader is None:
            return
        error: BaseException = AmiError("connection closed by the server")
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                for message in self.parser.feed(data):
                    self._dispatch(message)
                if self.parser.banner is not None:
                    self._banner.set()
        except (OSError, ConnectionError) as exc:
            error = AmiError(f"connection lost: {exc}")
        finally:
            self._fail(error)

    def _dispatch(self, message: Message) -> None:
        if "Event" in message:
            self._events.put_nowait(message)
            return
        future = self._pending.get(message.get("ActionID", ""))
        if future is not None and not future.done():
            future.set_result(message)

    def _fail(self, error: BaseException) -> None:
        self._banner.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._events.put_nowait(error)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.action({"Action": "Ping"}, timeout=self.ping_timeout)
            except AmiError as error:
                logger.warning("AMI: ping failed (%s); dropping the connection", error)
                self._fail(AmiError("ping unanswered"))
                if self._writer is not None:
                    self._writer.close()
                return


async def ami_originate(
    *,
    host: str,
    port: int,
    username: str,
    secret: str,
    fields: Mapping[str, object],
    timeout: float = 10.0,
) -> Message:
    """Log in, send one Originate (asynchronous: the response says it was queued, the call's
    events arrive through the listener), log off. Raises `AmiError` on any failure."""
    connection = AmiConnection(host, port, connect_timeout=timeout, ping_interval=0)
    await connection.connect()
    try:
        await connection.login(username, secret)
        response = await connection.action(
            {"Action": "Originate", "Async": "true", **fields}, timeout=timeout
        )
        if response.get("Response") != "Success":
            raise AmiError(response.get("Message") or "originate refused")
        return response
    finally:
        await connection.close(logoff=True)
