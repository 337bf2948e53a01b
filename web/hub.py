"""The status hub: the latest StatusSnapshot and its fan-out to WebSocket clients.

Everything here runs on the web server's event loop; the web actor hands snapshots and alerts
over with `loop.call_soon_threadsafe(hub.offer, ...)` / `(hub.offer_alert, ...)`, the only
doors in from other threads. Design choices:

* Every frame carries the *full* status. A client that missed frames (dropped, reconnected) is
  whole again with the next frame, so there is no diff protocol to get out of sync.
* Pushes are coalesced: the first change after a quiet period goes out at once, later changes
  within `min_interval` (0.25 s, i.e. at most 4 frames/s) are merged into one trailing frame that
  carries the newest snapshot. A frame identical to the previous one is not sent.
* Each client has its own bounded queue. When it is full the oldest frame is dropped (the newer
  one supersedes it anyway) and counted, so a slow or dead client costs a few frames of memory
  and never slows the bot, the hub or the other clients.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import msgspec

from actors.alerts import Alert
from actors.status import StatusSnapshot

_encoder = msgspec.json.Encoder()

PRICE_HISTORY_SPACING_S = 5.0  # one point per 5 s of exchange time: 24 h = 17,280 points
PRICE_HISTORY_SPAN_S = 86_400.0
ALERTS_KEPT = 50


@dataclass(slots=True)
class Frame:
    text: str
    seq: int
    # perf_counter() when the snapshot reached the web actor (push latency origin); None for the
    # catch-up frame a new client gets, whose age says nothing about push latency.
    t0: float | None


@dataclass(slots=True, eq=False)
class ClientChannel:
    """One WebSocket client's outbox."""

    maxlen: int
    queue: deque[Frame] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0
    sent: int = 0
    closed: bool = False

    def put(self, frame: Frame) -> bool:
        """Enqueue; returns True when an older frame had to be dropped to make room."""
        dropped = False
        if len(self.queue) >= self.maxlen:
            self.queue.popleft()
            self.dropped += 1
            dropped = True
        self.queue.append(frame)
        self.wakeup.set()
        return dropped

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()


class LatencyWindow:
    """Rolling window of push latencies (seconds), for the /metrics summary."""

    def __init__(self, size: int = 2048) -> None:
        self.samples: deque[float] = deque(maxlen=size)
        self.count = 0
        self.total = 0.0

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)
        self.count += 1
        self.total += seconds

    def quantile(self, q: float) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]


class StatusHub:
    def __init__(self, min_interval: float = 0.25, client_queue: int = 4) -> None:
        self.min_interval = min_interval
        self.client_queue = max(1, client_queue)
        self.clients: set[ClientChannel] = set()
        self.latest: StatusSnapshot | None = None
        self.latest_received_at: float | None = None  # wall clock, for the status age gauge
        self._latest_body: bytes | None = None
        self._pending: tuple[StatusSnapshot, float] | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_flush = float("-inf")
        self._last_sent_body: bytes | None = None
        self._current: Frame | None = None
        self.seq = 0
        self.snapshots_received = 0
        self.frames_published = 0
        self.frames_coalesced = 0
        self.dropped_total = 0
        self.clients_total = 0
        self.latency = LatencyWindow()
        # A down-sampled price line, so a freshly opened dashboard has a chart at once instead of
        # waiting for pushes to draw one.
        self.price_history: deque[tuple[float, float]] = deque(
            maxlen=int(PRICE_HISTORY_SPAN_S / PRICE_HISTORY_SPACING_S) + 1
        )
        self.alerts: deque[bytes] = deque(maxlen=ALERTS_KEPT)  # encoded, oldest first
        self.alerts_received = 0

    # ------------------------------------------------------------------ input (event loop only)

    def offer(self, snapshot: StatusSnapshot, t0: float) -> None:
        """A new snapshot from the actor. Publishes now or schedules one trailing flush."""
        self.latest = snapshot
        self.latest_received_at = time.time()
        self._latest_body = None
        self.snapshots_received += 1
        self._record_price(snapshot)
        if self._pending is not None:
            self.frames_coalesced += 1
        self._pending = (snapshot, t0)
        if self._flush_handle is not None:
            return  # a trailing flush is already due and will carry this newest snapshot
        loop = asyncio.get_running_loop()
        delay = self._last_flush + self.min_interval - loop.time()
        if delay <= 0:
            self._flush()
        else:
            self._flush_handle = loop.call_later(delay, self._flush)

    def offer_alert(self, alert: Alert) -> None:
        """An operator alert: kept for /api/alerts and sent to every client at once (alerts are
        rare and each one matters, so they bypass the status coalescing)."""
        body = _encoder.encode(alert)
        self.alerts.append(body)
        self.alerts_received += 1
        frame = Frame(text=f'{{"type":"alert","data":{body.decode("utf-8")}}}', seq=self.seq, t0=None)
        for client in self.clients:
            if client.put(frame):
                self.dropped_total += 1

    def alerts_body(self) -> bytes:
        return b'{"alerts":[' + b",".join(self.alerts) + b"]}"

    def _record_price(self, snapshot: StatusSnapshot) -> None:
        t = snapshot.price_ts if snapshot.price_ts > 0 else snapshot.ts
        if not snapshot.price > 0:
            return
        history = self.price_history
        if history and t < history[-1][0]:
            return  # out of order (e.g. a late snapshot): keep the line monotonic
        if len(history) > 1 and history[-1][0] - history[-2][0] < PRICE_HISTORY_SPACING_S:
            # The last point is still within SPACING of the one before: move it rather than add
            # one, so fixed points stay >= SPACING apart and the line always ends at the latest.
            history[-1] = (t, snapshot.price)
        else:
            history.append((t, snapshot.price))
        while history and history[0][0] < t - PRICE_HISTORY_SPAN_S:
            history.popleft()

    def price_points(self, since: float | None = None) -> list[tuple[float, float]]:
        return [p for p in self.price_history if since is None or p[0] >= since]

    def latest_body(self) -> bytes | None:
        """The latest snapshot as JSON bytes, encoded once per snapshot."""
        if self.latest is None:
            return None
        if self._latest_body is None:
            self._latest_body = _encoder.encode(self.latest)
        return self._latest_body

    def _flush(self) -> None:
        self._flush_handle = None
        if self._pending is None:
            return
        _, t0 = self._pending
        self._pending = None
        self._last_flush = asyncio.get_running_loop().time()
        body = self.latest_body()
        if body is None or body == self._last_sent_body:
            return
        self._last_sent_body = body
        self.seq += 1
        # The frame is built once and shared by every client: `seq` first so a client (or the
        # benchmark) can read it without parsing the whole status.
        text = f'{{"type":"status","seq":{self.seq},"data":{body.decode("utf-8")}}}'
        frame = Frame(text=text, seq=self.seq, t0=t0)
        self._current = frame
        self.frames_published += 1
        for client in self.clients:
            if client.put(frame):
                self.dropped_total += 1

    # ------------------------------------------------------------------ clients

    def register(self) -> ClientChannel:
        """A new client; it gets the current full status first when there is one."""
        channel = ClientChannel(maxlen=self.client_queue)
        self.clients.add(channel)
        self.clients_total += 1
        if self._current is not None:
            channel.put(Frame(text=self._current.text, seq=self._current.seq, t0=None))
        elif self.latest is not None:
            # A snapshot arrived but its flush is still pending: send what we have now.
            body = self.latest_body()
            if body is not None:
                text = f'{{"type":"status","seq":{self.seq},"data":{body.decode("utf-8")}}}'
                channel.put(Frame(text=text, seq=self.seq, t0=None))
        return channel

    def unregister(self, channel: ClientChannel) -> None:
        self.clients.discard(channel)

    def record_sent(self, frame: Frame) -> None:
        if frame.t0 is not None:
            self.latency.add(time.perf_counter() - frame.t0)

    def close_all(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        for client in list(self.clients):
            client.close()

    def stats(self) -> dict[str, float | int | None]:
        return {
            "ws_clients": len(self.clients),
            "ws_clients_total": self.clients_total,
            "ws_dropped_frames_total": self.dropped_total,
            "status_snapshots_received_total": self.snapshots_received,
            "status_frames_published_total": self.frames_published,
            "status_frames_coalesced_total": self.frames_coalesced,
            "alerts_received_total": self.alerts_received,
            "push_latency_count": self.latency.count,
            "push_latency_sum": self.latency.total,
            "push_latency_p50": self.latency.quantile(0.5),
            "push_latency_p99": self.latency.quantile(0.99),
            "status_age_seconds": (
                None if self.latest_received_at is None else max(0.0, time.time() - self.latest_received_at)
            ),
        }
