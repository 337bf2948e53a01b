"""StatusBoardActor: assembles the StatusSnapshot and pushes it to subscribers.

Inputs are reports, never queries: each slot sends its `SlotStatus` after every change, the runtime
its `RuntimeReport` once per loop and on mode changes, the rate budget its `SchedulerReport`.
The board keeps the latest of each and builds a `StatusSnapshot` on demand (`GetStatus`, asked
from outside) or for a push.

Pushes are coalesced per subscriber: the first change after a quiet period goes out at once,
later changes inside the subscriber's interval (1 / max_per_sec) wait for the clock's
`StatusFlush` pulse, which carries the newest state. Alerts are forwarded to alert subscribers
immediately, one by one.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pykka

from actors.alerts import Alert
from actors.base import BaseActor, InFlight, handles
from actors.clock import Clock
from actors.internal import (
    GetStatus,
    Inspect,
    RuntimeReport,
    SchedulerReport,
    SlotGone,
    StatusFlush,
    Subscribe,
    Unsubscribe,
)
from actors.status import (
    Balances,
    ConnectionStatus,
    Counters,
    EntrySchedulerStatus,
    OpenOrderDriftHint,
    RecoverySummary,
    SlotStatus,
    StatusSnapshot,
)
from core import capacity

log = logging.getLogger("status")


class _Subscriber:
    __slots__ = ("alerts", "interval", "last_push", "pending", "sink", "status")

    def __init__(self, msg: Subscribe) -> None:
        self.sink = msg.sink
        self.status = msg.status
        self.alerts = msg.alerts
        self.interval = 1.0 / msg.max_per_sec if msg.max_per_sec > 0 else 0.0
        self.last_push = float("-inf")
        self.pending = False


class StatusBoardActor(BaseActor):
    def __init__(self, inflight: InFlight, clock: Clock, venue: str = "sim") -> None:
        super().__init__(inflight)
        self.clock = clock
        self.venue = venue
        self.slots: dict[int, SlotStatus] = {}
        self.runtime: RuntimeReport | None = None
        self.scheduler = EntrySchedulerStatus(
            loop_cap=0, configured_cap=0, pending=0, deferred_total=0, drained_total=0, bypassed_total=0
        )
        self.subscribers: list[_Subscriber] = []
        self.alerts: list[Alert] = []
        self.pushes = 0

    # ------------------------------------------------------------------ inputs

    @handles(SlotStatus)
    def _slot(self, msg: SlotStatus) -> None:
        self.slots[msg.slot_id] = msg
        self._changed()

    @handles(SlotGone)
    def _gone(self, msg: SlotGone) -> None:
        self.slots.pop(msg.slot_id, None)
        self._changed()

    @handles(RuntimeReport)
    def _runtime(self, msg: RuntimeReport) -> None:
        self.runtime = msg
        self._changed()

    @handles(SchedulerReport)
    def _scheduler(self, msg: SchedulerReport) -> None:
        self.scheduler = msg.scheduler

    @handles(Alert)
    def _alert(self, msg: Alert) -> None:
        self.alerts.append(msg)
        del self.alerts[:-100]
        gone = [sub for sub in self.subscribers if sub.alerts and not _safe_tell(sub.sink, msg)]
        if gone:
            self.subscribers = [s for s in self.subscribers if s not in gone]

    # ------------------------------------------------------------------ subscriptions

    @handles(Subscribe)
    def _subscribe(self, msg: Subscribe) -> None:
        sub = _Subscriber(msg)
        self.subscribers.append(sub)
        if sub.status and self.runtime is not None:
            self._push(sub, self.snapshot(), self.clock.now())

    @handles(Unsubscribe)
    def _unsubscribe(self, msg: Unsubscribe) -> None:
        self.subscribers = [s for s in self.subscribers if s.sink is not msg.sink]

    def _changed(self) -> None:
        if not self.subscribers or self.runtime is None:
            return
        now = self.clock.now()
        snap: StatusSnapshot | None = None
        for sub in self.subscribers:
            if not sub.status:
                continue
            if now - sub.last_push >= sub.interval * self.clock.speed:
                snap = snap or self.snapshot()
                self._push(sub, snap, now)
            else:
                sub.pending = True

    @handles(StatusFlush)
    def _flush(self, msg: StatusFlush) -> None:
        snap: StatusSnapshot | None = None
        for sub in self.subscribers:
            if sub.pending and msg.now - sub.last_push >= sub.interval * self.clock.speed:
                snap = snap or self.snapshot()
                self._push(sub, snap, msg.now)

    def _push(self, sub: _Subscriber, snap: StatusSnapshot, now: float) -> None:
        sub.last_push = now
        sub.pending = False
        self.pushes += 1
        if not _safe_tell(sub.sink, snap):
            self.subscribers = [s for s in self.subscribers if s is not sub]

    # ------------------------------------------------------------------ the snapshot

    @handles(GetStatus)
    def _get(self, msg: GetStatus) -> StatusSnapshot:
        return self.snapshot()

    @handles(Inspect)
    def _inspect(self, msg: Inspect) -> dict[str, object]:
        return {"slots": len(self.slots), "subscribers": len(self.subscribers), "pushes": self.pushes,
                "alerts": [msgspec.to_builtins(a) for a in self.alerts[-20:]]}

    def snapshot(self) -> StatusSnapshot:
        slots = [self.slots[k] for k in sorted(self.slots)]
        rt = self.runtime or _empty_report(self.clock.now(), self.venue)
        age = None if rt.price_ts <= 0 else max(0.0, rt.ts - rt.price_ts)
        return StatusSnapshot(
            ts=rt.ts,
            venue=rt.venue,
            mode=rt.mode,  # type: ignore[arg-type]
            pause_reason=rt.pause_reason,
            halt_reason=rt.halt_reason,
            price=rt.price,
            price_ts=rt.price_ts,
            price_age_sec=age,
            entry_pct=rt.entry_pct,
            profit_pct=rt.profit_pct,
            total_profit=sum(s.total_profit for s in slots),
            total_fees=sum(s.total_fees for s in slots),
            today_realized_pnl=rt.today_realized_pnl,
            total_round_trips=sum(s.round_trips for s in slots),
            daily_loss_limit=rt.daily_loss_limit,
            daily_realized_loss_utc=rt.daily_realized_loss_utc,
            daily_loss_lock_active=rt.daily_loss_lock_active,
            daily_loss_lock_utc_day=rt.daily_loss_lock_utc_day,
            balances=rt.balances,
            connection=rt.connection,
            slots=slots,
            capacity_fill_health=rt.capacity_fill_health,
            entry_scheduler=self.scheduler,
            open_order_drift_hint=rt.open_order_drift_hint,
            recoveries=rt.recoveries,
            counters=rt.counters,
            recent_fills=rt.recent_fills,
            capital_layers=rt.capital_layers,
            startup=rt.startup,
            sticky_mode_enabled=rt.sticky_mode_enabled,
        )


def _safe_tell(sink: Any, msg: object) -> bool:
    try:
        sink.tell(msg)
    except pykka.ActorDeadError:  # stopped (shutdown, or it crashed and said so itself): drop it
        log.info("status subscriber %r has stopped; dropping it", sink)
        return False
    except Exception:  # a failing subscriber is dropped, never allowed to break the board
        log.warning("status subscriber %r failed; dropping it", sink, exc_info=True)
        return False
    return True


def _empty_report(now: float, venue: str) -> RuntimeReport:
    """What the board shows before the runtime's first report (start-up)."""
    windows = capacity.FillHealthWindows()
    return RuntimeReport(
        ts=now,
        venue=venue,
        mode="PAUSED",
        pause_reason="starting",
        halt_reason="",
        price=0.0,
        price_ts=0.0,
        entry_pct=0.0,
        profit_pct=0.0,
        today_realized_pnl=0.0,
        daily_loss_limit=0.0,
        daily_realized_loss_utc=0.0,
        daily_loss_lock_active=False,
        daily_loss_lock_utc_day="",
        balances=Balances(usd=0.0, doge=0.0, source="unknown", ts=0.0),
        connection=ConnectionStatus(public=False, private=False, exchange_system="unknown",
                                    last_frame_age_sec=None, reconnects=0),
        capacity_fill_health=capacity.build_capacity_fill_health(
            internal_open_orders=0, kraken_open_orders=None, slot_count=0, windows=windows, now=now
        ),
        open_order_drift_hint=OpenOrderDriftHint(active=False, drift=None, drift_pct=None, since=None, alerted=False),
        recoveries=RecoverySummary(total=0, cap_per_slot=0, orphan_pressure_level=0, auto_soft_close_total=0),
        counters=Counters(fills_booked=0, duplicate_fills_ignored=0, cycles_booked=0, orders_placed=0,
                          orders_rejected=0, orders_canceled=0, invariant_halts=0, malformed_frames=0),
    )
