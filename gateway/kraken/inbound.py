"""Inbound channel pushes -> routed events for the sink.

Everything the gateway does to a decoded channel frame before handing its events on: fill in
owners of sparse execution events (OrderRegistry), close candles, put snapshot fills in
execution order, count repeated execution ids and sequence numbers, and after a snapshot that
is full (Kraken keeps only the last 50 fills) replay older fills over REST before declaring
the snapshot done. Snapshot fills of orders whose add_order answer was lost (a placement still
unresolved) name no owner: it is looked up over REST (QueryOrders) before they are handed on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import msgspec

from actors.messages import ExchangeError, ExecutionsSnapshotDone, Fill, OrderOpen
from gateway.kraken.codec import ChannelFrame
from gateway.kraken.routing import CandleCloser, OrderRegistry, RecentIds

if TYPE_CHECKING:
    from gateway.kraken.ws_config import WsConfig

log = logging.getLogger("gateway.kraken.ws")

Replay = Callable[[float], Awaitable[list[Fill]]]
OwnerLookup = Callable[[list[str]], Awaitable[dict[str, str | None]]]  # order ids -> cl_ord_id
SNAPSHOT_TRADES_CAP = 50  # Kraken's snapshot holds at most the last 50 fills


class Inbound:
    def __init__(
        self,
        config: WsConfig,
        emit: Callable[[Any], None],
        counters: dict[str, int],
        *,
        replay: Replay | None,
        clock: Callable[[], float],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        owners: OwnerLookup | None = None,
    ) -> None:
        self.cfg = config
        self._emit = emit
        self.counters = counters
        self._replay = replay
        self._owners = owners
        self._clock = clock
        self._spawn = spawn
        self.orders = OrderRegistry()
        self.candles = CandleCloser()
        self.exec_ids = RecentIds(config.exec_id_window)
        self._last_fill_ts: float | None = None
        self._last_gap_resync = -1e9

    def on_channel(self, conn: Any, frame: ChannelFrame, now: float) -> None:
        channel = frame.channel
        if frame.sequence is not None:
            self._check_sequence(conn, channel, frame.sequence)
        if channel == "executions":
            self._executions(frame, now)
        elif channel == "ohlc":
            for candle in self.candles.feed(frame.events):
                self._emit(candle)
        elif channel in ("ticker", "instrument"):
            for event in frame.events:
                if event.symbol == self.cfg.symbol:
                    self._emit(event)
        else:
            for event in frame.events:
                self._emit(event)

    def _executions(self, frame: ChannelFrame, now: float) -> None:
        snapshot = frame.kind == "snapshot"
        open_ids: list[str] = []
        orphans: list[Fill] = []
        snapshot_trades = 0
        last_fill_before = self._last_fill_ts
        events = frame.events
        if snapshot:
            # The snapshot lists fills newest first (recorded; the sim does the same). Owners
            # want execution order: reverse, then a stable sort by time fixes equal stamps too.
            fills = [e for e in events if isinstance(e, Fill)]
            fills.reverse()
            fills.sort(key=lambda f: f.ts)
            events = [e for e in events if not isinstance(e, Fill)] + fills
        for event in events:
            if isinstance(event, Fill):
                snapshot_trades += 1
                if self.exec_ids.seen(event.exec_id):
                    self.counters["duplicate_fills"] += 1
                if self._last_fill_ts is None or event.ts > self._last_fill_ts:
                    self._last_fill_ts = event.ts
            out = self.orders.enrich(event)
            if out is None:
                continue
            if snapshot and isinstance(out, OrderOpen):
                open_ids.append(out.order_id)
            if (snapshot and isinstance(out, Fill) and out.cl_ord_id is None and self._owners is not None
                    and self.orders.placements_unresolved()):
                orphans.append(out)  # perhaps the order whose add_order answer was lost
                continue
            self._emit(out)
        if not snapshot:
            return
        # Orders we thought open but the snapshot does not list ended while we were away.
        self.orders.settle(open_ids)
        done = ExecutionsSnapshotDone(open_order_ids=open_ids, ts=now)
        full = snapshot_trades >= SNAPSHOT_TRADES_CAP and self._replay is not None and last_fill_before is not None
        if orphans or full:
            # A full snapshot may have lost fills made while we were away: replay everything
            # after the last fill we saw over REST. Either way, declare done only afterwards.
            self._spawn(self._complete_snapshot(done, orphans, last_fill_before if full else None))
        else:
            self._emit(done)

    async def _complete_snapshot(self, done: ExecutionsSnapshotDone, orphans: list[Fill], since: float | None) -> None:
        complete = True
        if orphans:
            assert self._owners is not None
            try:
                owners = await self._owners(sorted({f.order_id for f in orphans}))
            except Exception as exc:
                self._emit(ExchangeError(error=f"{type(exc).__name__}: {exc}", context="snapshot owner lookup", ts=self._clock()))
                owners = {}
                complete = False  # executions whose owner is unknown cannot reach their slot yet
            self.counters["owner_lookups"] += 1
            for fill in orphans:
                cl_ord_id = owners.get(fill.order_id)
                self._emit(self.orders.enrich(msgspec.structs.replace(fill, cl_ord_id=cl_ord_id)) if cl_ord_id else fill)
        if since is not None and not await self._replay_fills(since):
            complete = False
        # Declared done either way (the stream goes on), but saying whether executions may be
        # missing: the bot must not then read "not open" as "cancelled" (actors/reconcile.py).
        self._emit(done if complete else msgspec.structs.replace(done, fills_complete=False))

    async def _replay_fills(self, since: float) -> bool:
        assert self._replay is not None
        try:
            fills = await self._replay(since - 1.0)
        except Exception as exc:
            self._emit(ExchangeError(error=f"{type(exc).__name__}: {exc}", context="missed-fill replay", ts=self._clock()))
            return False
        for fill in fills:
            self.counters["replayed_fills"] += 1
            if self.exec_ids.seen(fill.exec_id):
                self.counters["duplicate_fills"] += 1
            self._emit(self.orders.enrich(fill))
        return True

    def _check_sequence(self, conn: Any, channel: str, sequence: int) -> None:
        last = conn.seq.get(channel)
        if last is not None:
            if sequence <= last:
                self.counters["duplicate_frames"] += 1
                return
            if sequence > last + 1:
                self.counters["sequence_gaps"] += 1
                log.warning("kraken %s: %s sequence gap %d -> %d", conn.name, channel, last, sequence)
                self._emit(ExchangeError(error=f"sequence gap {last}->{sequence}", context=channel, ts=self._clock()))
                now = time.monotonic()
                if (self.cfg.resync_on_sequence_gap and channel == "executions"
                        and now - self._last_gap_resync >= self.cfg.gap_resync_min_interval_s):
                    self._last_gap_resync = now
                    conn.abort("executions sequence gap")
        conn.seq[channel] = sequence
