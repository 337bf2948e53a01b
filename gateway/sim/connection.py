"""One client WebSocket connection: ordered outbound lanes, delayed reports, heartbeats.

Every frame to a client goes through this object and a single sender task, so frames never
interleave. Two lanes: *immediate* (responses, market data) and *delayed* (execution/balance
reports while the `delay_reports` fault is active). Reports keep their order among themselves:
once one report is delayed, later ones queue behind it. The heartbeat is sent only after
`heartbeat_s` without any other frame and only once the client has a subscription
(kraken-api.md §1.5). A client that cannot keep up is disconnected, as Kraken does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

HEARTBEAT = '{"channel":"heartbeat"}'
MAX_QUEUED = 50_000


@dataclass(slots=True)
class Subscription:
    channel: str
    params: dict[str, Any] = field(default_factory=dict)
    sequence: int = 0
    book: tuple[list[Any], list[Any]] | None = None  # last levels sent (book channel)

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


class Connection:
    def __init__(self, ws: ServerConnection, kind: str, connection_id: int, heartbeat_s: float) -> None:
        self.ws = ws
        self.kind = kind  # "public" | "private"
        self.connection_id = connection_id
        self.subs: dict[tuple[str, int], Subscription] = {}  # (channel, interval) -> subscription
        self.tokens: set[str] = set()  # WS tokens this connection used in time (valid for its lifetime)
        self._now_lane: deque[str] = deque()
        self._late_lane: deque[tuple[float, str]] = deque()
        self._last_late_at = 0.0
        self._wake = asyncio.Event()
        self._heartbeat_s = heartbeat_s
        self.closed = False
        self.sent_frames = 0

    def send(self, text: str, delay: float = 0.0, report: bool = False) -> None:
        if self.closed:
            return
        if len(self._now_lane) + len(self._late_lane) >= MAX_QUEUED:
            self.abort()
            return
        if report and (delay > 0 or self._late_lane):
            due = max(time.monotonic() + delay, self._last_late_at)
            self._last_late_at = due
            self._late_lane.append((due, text))
        else:
            self._now_lane.append(text)
        self._wake.set()

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a network failure, as seen by the client)."""
        self.closed = True
        self._wake.set()
        transport = getattr(self.ws, "transport", None)
        if transport is not None:
            transport.abort()

    @property
    def backlog(self) -> int:
        return len(self._now_lane) + len(self._late_lane)

    def subscribed(self, channel: str) -> list[Subscription]:
        return [s for (ch, _), s in self.subs.items() if ch == channel]

    def _next_frame(self) -> tuple[str | None, float]:
        """The frame to send now, or None and how long to wait before checking again."""
        if self._now_lane:
            return self._now_lane.popleft(), 0.0
        if self._late_lane:
            due, text = self._late_lane[0]
            wait = due - time.monotonic()
            if wait <= 0:
                self._late_lane.popleft()
                return text, 0.0
            return None, min(wait, self._heartbeat_s)
        return None, self._heartbeat_s

    async def run_sender(self) -> None:
        """Deliver frames in order; heartbeat when idle and subscribed. Ends with the connection."""
        last_sent = time.monotonic()
        try:
            while not self.closed:
                text, wait = self._next_frame()
                if text is not None:
                    await self.ws.send(text)
                    self.sent_frames += 1
                    last_sent = time.monotonic()
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                if self.subs and time.monotonic() - last_sent >= self._heartbeat_s:
                    await self.ws.send(HEARTBEAT)
                    last_sent = time.monotonic()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True

    async def close(self) -> None:
        self.closed = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 1.0)
