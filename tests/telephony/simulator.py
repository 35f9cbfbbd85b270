"""An Asterisk Manager Interface simulator: a real asyncio TCP server speaking the protocol.

It sends the banner line alone on connect, answers `Action: Login` with `Response: Success`
(or `Error` for a wrong secret), Ping, Logoff and Originate, frames everything with CRLF and
a blank line, and replays whatever events a test pushes to the connected client. A test can
drop the connection abruptly (mid-call) and wait for the client to log in again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def frame(fields: Iterable[tuple[str, object]] | dict[str, object]) -> bytes:
    items = fields.items() if isinstance(fields, dict) else fields
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in items) + b"\r\n"


class AmiSimulator:
    def __init__(self, *, username: str = "smartdesk", secret: str = "s3cret") -> None:  # noqa: S107 - test fixture
        self.username, self.secret = username, secret
        self.server: asyncio.Server | None = None
        self.port = 0
        self.actions: list[dict[str, str]] = []
        self.logins = 0
        self._login_changed = asyncio.Condition()
        # Logged-in sessions, oldest first. Events go to the newest (the listener under test);
        # a short-lived session (click-to-call's Originate) hands back when it logs off.
        self._sessions: list[asyncio.StreamWriter] = []
        self._connections: list[asyncio.StreamWriter] = []
        self.bytes_sent = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for writer in self._connections:
            writer.close()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    async def wait_logins(self, count: int, timeout: float = 10) -> None:
        async with self._login_changed:
            await asyncio.wait_for(
                self._login_changed.wait_for(lambda: self.logins >= count), timeout
            )

    async def wait_actions(self, action: str, count: int, timeout: float = 10) -> None:
        def done() -> bool:
            return sum(a.get("Action") == action for a in self.actions) >= count

        async with self._login_changed:
            await asyncio.wait_for(self._login_changed.wait_for(done), timeout)

    async def send(self, *events: dict[str, object]) -> None:
        await self.send_raw(b"".join(frame(e) for e in events))

    @property
    def _writer(self) -> asyncio.StreamWriter | None:
        return self._sessions[-1] if self._sessions else None

    async def send_raw(self, data: bytes) -> None:
        writer = self._writer
        assert writer is not None, "no client logged in"
        writer.write(data)
        self.bytes_sent += len(data)
        await writer.drain()

    async def drop(self) -> None:
        """Cut the client off, as a network failure or an Asterisk restart would."""
        writer = self._writer
        if writer is not None:
            self._sessions.remove(writer)
            writer.transport.abort()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.append(writer)
        writer.write(BANNER)  # alone, before any framed message
        await writer.drain()
        fields: dict[str, str] = {}
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                text = line.decode().rstrip("\r\n")
                if text:
                    key, _, value = text.partition(": ")
                    fields[key] = value
                    continue
                if fields:
                    await self._action(fields, writer)
                    fields = {}
        except (ConnectionError, OSError):
            return
        finally:
            if writer in self._sessions:
                self._sessions.remove(writer)

    async def _action(self, fields: dict[str, str], writer: asyncio.StreamWriter) -> None:
        async with self._login_changed:
            self.actions.append(fields)
            self._login_changed.notify_all()
        action = fields.get("Action", "").lower()
        reply: list[tuple[str, object]]
        if action == "login":
            if fields.get("Username") == self.username and fields.get("Secret") == self.secret:
                reply = [("Response", "Success"), ("Message", "Authentication accepted")]
            else:
                reply = [("Response", "Error"), ("Message", "Authentication failed")]
        elif action == "ping":
            reply = [("Response", "Success"), ("Ping", "Pong"), ("Timestamp", "1700000000.0")]
        elif action == "logoff":
            reply = [("Response", "Goodbye"), ("Message", "Thanks for all the fish.")]
        elif action == "originate":
            reply = [("Response", "Success"), ("Message", "Originate successfully queued")]
        else:
            reply = [("Response", "Error"), ("Message", "Invalid/unknown command")]
        reply.append(("ActionID", fields.get("ActionID", "")))
        writer.write(frame(reply))
        await writer.drain()
        if action == "login" and reply[0][1] == "Success":
            self._sessions.append(writer)
            async with self._login_changed:
                self.logins += 1
                self._login_changed.notify_all()
        if action == "logoff":
            if writer in self._sessions:
                self._sessions.remove(writer)
            writer.close()


# --- scenarios: the events Asterisk 18+ raises, in the order it raises them -------------------

TRUNK = "PJSIP/trunk"
DID = "+74951234567"


def _channel(name: str, uniqueid: str, linkedid: str, *, state: str = "6", **extra: object):
    base: dict[str, object] = {
        "Privilege": "call,all",
        "Channel": name,
        "ChannelState": state,
        "ChannelStateDesc": {"0": "Down", "4": "Ring", "5": "Ringing", "6": "Up"}[state],
        "CallerIDNum": extra.pop("caller", "<unknown>"),
        "CallerIDName": extra.pop("caller_name", "<unknown>"),
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": extra.pop("context", "from-trunk"),
        "Exten": extra.pop("exten", "s"),
        "Priority": "1",
        "Uniqueid": uniqueid,
        "Linkedid": linkedid,
    }
    base.update(extra)
    return base


def _dest(name: str, uniqueid: str, linkedid: str, state: str = "5") -> dict[str, object]:
    return {
        "DestChannel": name,
        "DestChannelState": state,
        "DestChannelStateDesc": {"0": "Down", "5": "Ringing", "6": "Up"}[state],
        "DestCallerIDNum": "101",
        "DestCallerIDName": "Agent",
        "DestContext": "agents",
        "DestExten": "s",
        "DestPriority": "1",
        "DestUniqueid": uniqueid,
        "DestLinkedid": linkedid,
    }


def queue_call(
    *,
    linkedid: str = "1700000000.1",
    caller: str = "89161234567",
    caller_name: str = "Svetlana",
    agent: str = "PJSIP/101",
    queue: str = "support",
    t0: float = 1_700_000_000.0,
    hold: int = 12,
    talk: int = 95,
    answered: bool = True,
) -> list[dict[str, object]]:
    """A caller answers the IVR, waits in `queue`, `agent` is rung; answered and completed, or
    (answered=False) the caller gives up after `hold` seconds."""
    leg = f"{linkedid[:-1]}2"
    trunk = f"{TRUNK}-00000001"
    agent_chan = f"{agent}-00000002"
    who = {"caller": caller, "caller_name": caller_name}

    def ev(name: str, at: float, **fields: object) -> dict[str, object]:
        return {"Event": name, **fields, "Timestamp": f"{at:.6f}"}

    def caller_leg(**extra: object) -> dict[str, object]:
        return _channel(trunk, linkedid, linkedid, **{**who, **extra})

    events = [
        ev(
            "Newchannel",
            t0,
            **_channel(trunk, linkedid, linkedid, state="0", exten="74951234567", **who),
        ),
        ev("Newstate", t0 + 1, **caller_leg()),
        ev("QueueCallerJoin", t0 + 2, **caller_leg(), Queue=queue, Position=1, Count=1),
        ev(
            "Newchannel", t0 + 3, **_channel(agent_chan, leg, linkedid, state="0", context="agents")
        ),
        ev(
            "AgentCalled",
            t0 + 3,
            **caller_leg(),
            **_dest(agent_chan, leg, linkedid),
            Queue=queue,
            MemberName="Anna",
            Interface=agent,
        ),
        ev(
            "DialBegin",
            t0 + 3,
            **caller_leg(),
            **_dest(agent_chan, leg, linkedid),
            DialString=agent.split("/", 1)[1],
        ),
    ]
    if answered:
        at = t0 + 2 + hold
        events += [
            ev("Newstate", at, **_channel(agent_chan, leg, linkedid, context="agents")),
            ev(
                "DialEnd",
                at,
                **caller_leg(),
                **_dest(agent_chan, leg, linkedid, "6"),
                DialStatus="ANSWER",
            ),
            ev(
                "AgentConnect",
                at,
                **caller_leg(),
                **_dest(agent_chan, leg, linkedid, "6"),
                Queue=queue,
                MemberName="Anna",
                Interface=agent,
                RingTime=hold - 1,
                HoldTime=hold,
            ),
            ev("QueueCallerLeave", at, **caller_leg(), Queue=queue, Position=1, Count=0),
            ev(
                "AgentComplete",
                at + talk,
                **caller_leg(),
                **_dest(agent_chan, leg, linkedid, "6"),
                Queue=queue,
                MemberName="Anna",
                Interface=agent,
                HoldTime=hold,
                TalkTime=talk,
                Reason="caller",
            ),
            ev(
                "Hangup",
                at + talk,
                **_channel(agent_chan, leg, linkedid, context="agents"),
                Cause=16,
                **{"Cause-txt": "Normal Clearing"},
            ),
            ev("Hangup", at + talk, **caller_leg(), Cause=16, **{"Cause-txt": "Normal Clearing"}),
        ]
    else:
        at = t0 + 2 + hold
        events += [
            ev(
                "DialEnd",
                at,
                **caller_leg(),
                **_dest(agent_chan, leg, linkedid, "5"),
                DialStatus="CANCEL",
            ),
            ev(
                "Hangup",
                at,
                **_channel(agent_chan, leg, linkedid, state="5", context="agents"),
                Cause=26,
                **{"Cause-txt": "Answered elsewhere"},
            ),
            ev(
                "QueueCallerAbandon",
                at,
                **caller_leg(),
                Queue=queue,
                Position=1,
                OriginalPosition=1,
                HoldTime=hold,
            ),
            ev("Hangup", at, **caller_leg(), Cause=16, **{"Cause-txt": "Normal Clearing"}),
        ]
    return events


def direct_call(
    *,
    linkedid: str = "1700000100.1",
    caller: str = "+79161234567",
    operator: str = "PJSIP/102",
    t0: float = 1_700_000_100.0,
    ring: int = 4,
    talk: int = 60,
) -> list[dict[str, object]]:
    """A caller dials an operator's direct number: Dial() to their phone, no queue."""
    leg = f"{linkedid[:-1]}2"
    trunk = f"{TRUNK}-00000011"
    phone = f"{operator}-00000012"

    def ev(name: str, at: float, **fields: object) -> dict[str, object]:
        return {"Event": name, **fields, "Timestamp": f"{at:.6f}"}

    def caller_leg(**extra: object) -> dict[str, object]:
        return _channel(trunk, linkedid, linkedid, caller=caller, exten="74951230102", **extra)

    return [
        ev("Newchannel", t0, **caller_leg(state="0")),
        ev("Newchannel", t0, **_channel(phone, leg, linkedid, state="0", context="agents")),
        ev(
            "DialBegin",
            t0,
            **caller_leg(state="4"),
            **_dest(phone, leg, linkedid),
            DialString=operator.split("/", 1)[1],
        ),
        ev("Newstate", t0 + 1, **_channel(phone, leg, linkedid, state="5", context="agents")),
        ev("Newstate", t0 + ring, **_channel(phone, leg, linkedid, context="agents")),
        ev(
            "DialEnd",
            t0 + ring,
            **caller_leg(),
            **_dest(phone, leg, linkedid, "6"),
            DialStatus="ANSWER",
        ),
        ev(
            "Hangup", t0 + ring + talk, **_channel(phone, leg, linkedid, context="agents"), Cause=16
        ),
        ev("Hangup", t0 + ring + talk, **caller_leg(), Cause=16),
    ]


def originate_failure(
    *,
    action_id: str,
    channel_id: str,
    operator: str = "PJSIP/101",
    context: str = "from-smartdesk",
    exten: str = "0079161234567",
    reason: int = 5,
    t0: float = 1_700_000_200.0,
) -> list[dict[str, object]]:
    """A click-to-call whose first leg, the operator's own phone, fails (Reason 5: busy; 3:
    rang unanswered; 0: the channel could not be created). Asterisk hangs the leg up, then
    raises `OriginateResponse` to every AMI session with the Originate's ActionID; by then
    the channel is gone, so its Uniqueid is "<null>" and Channel is the one requested."""
    phone = f"{operator}-00000031"

    def ev(name: str, at: float, **fields: object) -> dict[str, object]:
        return {"Event": name, **fields, "Timestamp": f"{at:.6f}"}

    leg = _channel(phone, channel_id, channel_id, state="0", context=context, exten=exten)
    events: list[dict[str, object]] = []
    if reason != 0:
        cause = {1: 21, 3: 19, 5: 17, 8: 34}.get(reason, 16)
        events += [
            ev("Newchannel", t0, **leg),
            ev("Hangup", t0 + 1, **leg, Cause=cause),
        ]
    events.append(
        ev(
            "OriginateResponse",
            t0 + 1,
            Privilege="call,all",
            ActionID=action_id,
            Response="Failure",
            Channel=operator,
            Context=context,
            Exten=exten,
            Reason=reason,
            Uniqueid="<null>",
            CallerIDNum="<unknown>",
            CallerIDName="<unknown>",
        )
    )
    return events
