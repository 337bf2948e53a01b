"""Kraken WebSocket v2 client: the public and the private socket, kept alive.

Runs entirely on one asyncio loop (the gateway actor's). Every decoded event is handed to
`emit` the moment its frame has been decoded, in arrival order. Orders go out over the private
socket; their acknowledgements are correlated by req_id, and everything that happens to them
afterwards arrives on the `executions` channel.

Liveness: any frame (heartbeats included) resets a per-socket watchdog; silence for
`heartbeat_timeout_s` aborts the socket. An application ping keeps Kraken's ~60 s idle timer
away. Reconnects use our own jittered exponential backoff. On each private (re)connect we fetch
a new token, resubscribe and take the executions snapshot (open orders and the last fills), so
nothing that happened while we were away is missed; `ExecutionsSnapshotDone` marks its end.

This module is the connection side: lifecycle, the per-socket connection loop and session,
subscriptions, keepalive, and frame dispatch. Sending orders, correlating responses by req_id
and the dead man's switch are `WsRequests` (gateway/kraken/ws_requests.py), which `KrakenWs`
mixes in; inbound channel events are `Inbound` (gateway/kraken/inbound.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from actors.messages import ExchangeError, GatewayConnected, GatewayDisconnected
from gateway.kraken import codec
from gateway.kraken.codec import ChannelFrame, CodecError, Response
from gateway.kraken.inbound import Inbound, OwnerLookup, Replay
from gateway.kraken.ws_config import FRAME_LOG, WsConfig, backoff_delay
from gateway.kraken.ws_requests import WsRequests, _Pending

__all__ = ["KrakenWs", "WsConfig", "backoff_delay"]

log = logging.getLogger(__name__)

Emit = Callable[[Any], None]
TokenProvider = Callable[[], Awaitable[str]]


class _Conn:
    """One live socket and what we track about it."""

    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.name = name
        self.ws = ws
        self.opened = self.last_frame = time.monotonic()
        self.subs: dict[int, str] = {}  # req_id -> channel, until acked
        # The channel whose ack makes the socket usable: executions (orders) / ticker (prices).
        self.primary = "executions" if name == "private" else "ticker"
        self.ready = False
        self.seq: dict[str, int] = {}
        self.close_reason = ""

    def abort(self, reason: str) -> None:
        # Dropping the transport ends the reader at once, even if the peer is frozen.
        self.close_reason = self.close_reason or reason
        transport = self.ws.transport
        if transport is not None:
            transport.abort()


class KrakenWs(WsRequests):
    def __init__(
        self,
        config: WsConfig,
        emit: Emit,
        token_provider: TokenProvider | None = None,
        *,
        replay: Replay | None = None,
        owners: OwnerLookup | None = None,
        dms_disarm: Callable[[], Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = config
        self._emit_fn = emit
        self._token_provider = token_provider
        # REST fallback that disarms the dead man's switch when the socket cannot (stop offline).
        self._dms_disarm = dms_disarm
        self._dms_armed = False
        self._clock = clock
        self._rng = rng or random.Random()
        self._pending: dict[int, _Pending] = {}
        self._expired: OrderedDict[int, _Pending] = OrderedDict()
        self._conns: dict[str, _Conn] = {}
        self._token: str | None = None
        self._req_id = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._connects: deque[float] = deque()
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "frames_in", "frames_out", "malformed", "duplicate_fills", "duplicate_frames",
                "sequence_gaps", "reconnects", "stale_disconnects", "requests_timed_out", "late_acks",
                "rejected_offline", "dms_refreshes", "emit_errors", "replayed_fills", "connect_budget_waits",
                "owner_lookups",
            ),
            0,
        )
        self._inbound = Inbound(
            config, self._emit, self.counters, replay=replay, owners=owners, clock=clock, spawn=self._spawn
        )
        self._orders = self._inbound.orders

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the socket loops (returns at once; they run until `stop`)."""
        loop = asyncio.get_running_loop()
        for name, url in (("public", self.cfg.public_url), ("private", self.cfg.private_url)):
            if url and (name == "public" or self._token_provider is not None):
                self._tasks.append(loop.create_task(self._connection_loop(name, url), name=f"kraken-{name}"))

    async def stop(self) -> None:
        """Clean shutdown: disarm the dead man's switch, close both sockets, end every task."""
        self._stop.set()
        disarmed = self.cfg.dms_timeout_s > 0 and await self._disarm_over_ws()
        if not disarmed and self._dms_armed and self._dms_disarm is not None:
            # The private socket is down or did not answer, and the last refresh may still be
            # armed: it would cancel every order on the account. Disarm it over REST instead.
            try:
                await asyncio.wait_for(self._dms_disarm(), self.cfg.request_timeout_s)
                self._dms_armed = False
            except Exception as exc:
                log.warning("REST CancelAllOrdersAfter(0) failed: %s", _describe(exc))
        if self._dms_armed:
            log.warning("could not disarm cancel_all_orders_after; it fires in <= %ss", self.cfg.dms_timeout_s)
        for c in list(self._conns.values()):
            c.close_reason = c.close_reason or "shutdown"
            await c.ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pending in self._pending.values():
            if pending.handle is not None:
                pending.handle.cancel()
        self._pending.clear()

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        out: dict[str, Any] = dict(self.counters)
        for name in ("public", "private"):
            conn = self._conns.get(name)
            out[f"{name}_connected"] = bool(conn and conn.ready)
            out[f"{name}_last_frame_age_s"] = round(now - conn.last_frame, 3) if conn else None
        out["pending_requests"] = len(self._pending)
        out["open_orders_known"] = len(self._orders)
        return out

    # ------------------------------------------------------------------ connections

    async def _connection_loop(self, name: str, url: str) -> None:
        failures = 0
        reconnects = 0
        while not self._stop.is_set():
            await self._connect_budget()
            if self._stop.is_set():
                return
            started = time.monotonic()
            was_ready = await self._session(name, url)
            if self._stop.is_set():
                return
            # Only a session that stayed up resets the backoff: a venue that accepts and then
            # drops us at once must not be hammered.
            stable = was_ready and time.monotonic() - started >= self.cfg.stable_after_s
            failures = 0 if stable else failures + 1
            if self.cfg.max_reconnects is not None and reconnects >= self.cfg.max_reconnects:
                self._emit(ExchangeError(error="giving up reconnecting", context=f"ws {name}", ts=self._clock()))
                return
            reconnects += 1
            self.counters["reconnects"] += 1
            delay = backoff_delay(failures, self.cfg, self._rng)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _connect_budget(self) -> None:
        """Wait while the last 10 minutes already hold `max_connects_per_10min` attempts."""
        window = 600.0
        while not self._stop.is_set():
            now = time.monotonic()
            while self._connects and now - self._connects[0] > window:
                self._connects.popleft()
            if len(self._connects) < self.cfg.max_connects_per_10min:
                self._connects.append(now)
                return
            self.counters["connect_budget_waits"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), window - (now - self._connects[0]) + 0.01)

    async def _session(self, name: str, url: str) -> bool:
        """One connection from open to close. Returns whether it became ready (subscribed)."""
        token = None
        try:
            if name == "private":
                assert self._token_provider is not None
                token = await self._token_provider()
            ws = await connect(
                url,
                open_timeout=self.cfg.open_timeout_s,
                close_timeout=self.cfg.close_timeout_s,
                ping_interval=None,  # our own ping + frame watchdog own liveness
                compression=None,
                max_size=2**24,  # an unfiltered instrument snapshot is large
                logger=FRAME_LOG,  # never logs frames: requests carry the WS token
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("kraken %s: connect failed: %s", name, _describe(exc))
            if name == "private" and token is None:
                self._emit(ExchangeError(error=_describe(exc), context="GetWebSocketsToken", ts=self._clock()))
            return False
        conn = _Conn(name, ws)
        self._conns[name] = conn
        tasks = [asyncio.create_task(self._keepalive(conn))]
        try:
            if name == "private":
                self._token = token
                await self._subscribe(conn, "executions", codec.executions_subscribe, token)
                await self._subscribe(conn, "balances", codec.balances_subscribe, token)
                tasks.append(asyncio.create_task(self._dms_loop(conn)))
            else:
                sym = self.cfg.symbol
                await self._subscribe(conn, "ticker", lambda rid: codec.ticker_subscribe(sym, self.cfg.ticker_event_trigger, rid))
                await self._subscribe(conn, "ohlc", lambda rid: codec.ohlc_subscribe(sym, self.cfg.ohlc_interval_min, rid))
                if self.cfg.subscribe_instrument:
                    await self._subscribe(conn, "instrument", codec.instrument_subscribe)
            async for raw in ws:
                self._on_frame(conn, raw)
            conn.close_reason = conn.close_reason or f"closed by peer ({ws.close_code})"
        except ConnectionClosed as exc:
            conn.close_reason = conn.close_reason or f"connection lost ({exc})"
        except (OSError, WebSocketException) as exc:
            conn.close_reason = conn.close_reason or _describe(exc)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._conns.get(name) is conn:
                del self._conns[name]
            if name == "private":
                self._token = None
            if conn.ready:
                self._emit(GatewayDisconnected(channel=name, reason=conn.close_reason, ts=self._clock()))  # type: ignore[arg-type]
            log.info("kraken %s: disconnected: %s", name, conn.close_reason)
            await ws.close()
        return conn.ready

    async def _subscribe(self, conn: _Conn, channel: str, build: Callable[..., dict[str, Any]], token: Any = None) -> None:
        req_id = self._next_req_id()
        conn.subs[req_id] = channel
        await self._send(conn, build(token, req_id) if token is not None else build(req_id))

    async def _keepalive(self, conn: _Conn) -> None:
        """App-level ping, frame watchdog, and the subscribe deadline, for one socket."""
        tick = min(1.0, self.cfg.heartbeat_timeout_s / 4)
        next_ping = time.monotonic() + self.cfg.ping_interval_s
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - conn.last_frame > self.cfg.heartbeat_timeout_s:
                self.counters["stale_disconnects"] += 1
                log.warning("kraken %s: no frame for %.1fs, reconnecting", conn.name, now - conn.last_frame)
                conn.abort("heartbeat timeout")
                return
            if not conn.ready and now - conn.opened > self.cfg.request_timeout_s + self.cfg.open_timeout_s:
                conn.abort("subscribe timeout")
                return
            if now >= next_ping:
                next_ping = now + self.cfg.ping_interval_s
                try:
                    await self._send(conn, codec.ping_request(self._next_req_id()))
                except (ConnectionClosed, OSError):
                    conn.abort("ping failed")
                    return

    # ------------------------------------------------------------------ inbound frames

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro))

    def _emit(self, message: Any) -> None:
        try:
            self._emit_fn(message)
        except Exception:
            # A dead sink must not take the connection down with it.
            self.counters["emit_errors"] += 1
            log.exception("gateway sink refused %s", type(message).__name__)

    def _on_frame(self, conn: _Conn, raw: str | bytes) -> None:
        conn.last_frame = time.monotonic()
        self.counters["frames_in"] += 1
        now = self._clock()
        try:
            frame = codec.decode_frame(raw, now)
            if isinstance(frame, ChannelFrame):
                self._inbound.on_channel(conn, frame, now)
            else:
                self._on_response(conn, frame)
        except CodecError as exc:
            self.counters["malformed"] += 1
            log.warning("kraken %s: malformed frame skipped (%s): %.300r", conn.name, exc, raw)
        except Exception:
            self.counters["malformed"] += 1
            log.exception("kraken %s: frame handling failed, skipped: %.300r", conn.name, raw)

    def _on_subscribed(self, conn: _Conn, resp: Response) -> None:
        channel = conn.subs.pop(resp.req_id, None) if resp.req_id is not None else None
        if channel is None:
            # Tolerate acks that do not echo req_id: match them by channel name.
            name = resp.result.get("channel") if isinstance(resp.result, dict) else None
            for rid, ch in list(conn.subs.items()):
                if ch == name or (name is None and not resp.success):
                    channel = conn.subs.pop(rid)
                    break
        if not resp.success:
            self._emit(ExchangeError(error=resp.error or "", context=f"subscribe {channel or '?'} ({conn.name})", ts=resp.ts))
            if channel == conn.primary or (resp.error or "").startswith("ESession"):
                conn.abort(f"subscribe {channel} failed: {resp.error}")
            return
        if channel == conn.primary and not conn.ready:
            conn.ready = True
            conn.seq.clear()
            self._emit(GatewayConnected(channel=conn.name, ts=self._clock()))  # type: ignore[arg-type]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
