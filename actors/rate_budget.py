"""RateBudgetActor: every order intent passes here on its way to the exchange.

Three limits are enforced before anything reaches the gateway:

* the entry scheduler (STATE_MACHINE.md §12, `core/scheduler.py`): entries only, at most the
  loop's cap (tightened near the open-order cap), the excess deferred and drained pre- and post-
  tick; `bootstrap`, `bootstrap_regime` and `auto_repair` entries bypass the cap, nothing else;
* Kraken's per-pair trading rate counter (kraken-api.md §5.2, `core/rate_limits.py`): an intent
  that would push the mirror past the threshold waits until the counter has decayed (exits and
  cancels first, they close risk);
* the per-pair open-order limit (§5.3): an order that would exceed it waits for a close.

Two forwarding disciplines: immediate (live, paper, sim: latency matters) and held (backtest:
intents wait for `FlushIntents` from the driver at a quiescent point and are then forwarded in
(slot id, arrival) order, so the exchange sees the same sequence on every run whatever the thread
timing was).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import pykka

from actors.base import BaseActor, InFlight, handles
from actors.clock import Clock
from actors.internal import (
    BudgetMode,
    DropPending,
    FlushIntents,
    Inspect,
    LoopBegin,
    LoopEnd,
    OrderDone,
    SchedulerReport,
    StatusFlush,
    Submit,
    Withdrawn,
)
from actors.messages import AmendOrder, CancelOrder, PlaceOrder
from core import rate_limits, scheduler

log = logging.getLogger("rate_budget")

# Keep this much of the trading counter free for cancels/amends of exits (which are never
# deferred by the scheduler and would otherwise queue behind a burst of entries).
_TRADING_MARGIN = 5.0


class RateBudgetActor(BaseActor):
    def __init__(
        self,
        inflight: InFlight,
        clock: Clock,
        gateway: Any = None,
        status: pykka.ActorRef[Any] | None = None,
        *,
        max_entry_adds_per_loop: int = 2,
        rate_tier: str = "intermediate",
        open_order_limit: int = 225,
        hold_until_flush: bool = False,
    ) -> None:
        super().__init__(inflight)
        self.clock = clock
        # `gateway` is a sink with .tell (plain for the real gateway, counting for in-process venues).
        self.gateway = gateway
        self.status = status
        self.sched = scheduler.SchedulerState(
            configured_cap=max_entry_adds_per_loop, loop_cap=max_entry_adds_per_loop
        )
        self.counter = rate_limits.trading_counter(rate_tier)
        self.open_order_limit = open_order_limit
        self.hold = hold_until_flush
        self.held: list[tuple[int, int, Submit]] = []
        self.arrivals = 0
        self.throttled: deque[Submit] = deque()
        self.open_cl: set[str] = set()
        self.headroom = open_order_limit
        self.paused = False
        self.forwarded = 0
        self.throttled_total = 0

    # ------------------------------------------------------------------ intake

    @handles(Submit)
    def _submit(self, msg: Submit) -> None:
        if self.hold:
            self.arrivals += 1
            self.held.append((msg.slot_id, self.arrivals, msg))
            return
        self._process(msg)

    @handles(FlushIntents)
    def _flush(self, msg: FlushIntents) -> int:
        """Forward held intents in (slot, arrival) order; returns how many were processed."""
        batch = [sub for _, _, sub in sorted(self.held, key=lambda t: (t[0], t[1]))]
        self.held = []
        for sub in self._cancel_pairs(batch):
            self._process(sub)
        self._retry_throttled()
        return len(batch)

    def _cancel_pairs(self, batch: list[Submit]) -> list[Submit]:
        """A placement and its cancel in one held batch never reach the exchange at all."""
        cancels = {sub.intent.cl_ord_id for sub in batch if isinstance(sub.intent, CancelOrder)
                   and sub.intent.cl_ord_id and not sub.intent.order_id}
        placed = {sub.intent.cl_ord_id for sub in batch if isinstance(sub.intent, PlaceOrder)}
        both = cancels & placed
        if not both:
            return batch
        kept = []
        for sub in batch:
            cl = sub.intent.cl_ord_id
            if cl in both:
                if isinstance(sub.intent, PlaceOrder):
                    self.send(sub.reply_to, Withdrawn(cl_ord_id=cl))  # type: ignore[arg-type]
                continue
            kept.append(sub)
        return kept

    def _process(self, sub: Submit) -> None:
        intent = sub.intent
        if isinstance(intent, CancelOrder) and self._withdraw(intent):
            return
        if sub.is_entry and isinstance(intent, PlaceOrder):
            self._admit_entry(sub)
            return
        self._send_or_throttle(sub)

    def _withdraw(self, cancel: CancelOrder) -> bool:
        """A cancel for an order still waiting here: drop the order instead of cancelling it."""
        cl = cancel.cl_ord_id
        if cl is None:
            return False
        self.sched, removed = scheduler.drop_where(
            self.sched, lambda e: isinstance(e.payload, Submit) and _cl(e.payload) == cl
        )
        waiting = [e.payload for e in removed]
        for sub in list(self.throttled):
            if isinstance(sub.intent, PlaceOrder) and sub.intent.cl_ord_id == cl:
                self.throttled.remove(sub)
                waiting.append(sub)
        for sub in waiting:
            # The slot tracks the order as being cancelled: tell it the order never existed.
            self.send(sub.reply_to, Withdrawn(cl_ord_id=cl))  # type: ignore[union-attr]
        return bool(waiting)

    def _admit_entry(self, sub: Submit) -> None:
        entry = scheduler.PendingEntry(key=_cl(sub), payload=sub, source=sub.source)
        # While paused nothing new is placed: the entry waits in the deferred queue for resume.
        room = 0 if self.paused else self.headroom
        self.sched, admitted, _ = scheduler.admit(self.sched, [entry], sub.source, room)
        for e in admitted:
            self._send_or_throttle(e.payload)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ loop

    @handles(LoopBegin)
    def _loop_begin(self, msg: LoopBegin) -> None:
        self.paused = msg.paused
        self.headroom = msg.headroom
        self.sched = scheduler.begin_loop(self.sched, msg.headroom)
        self._retry_throttled()
        self._drain()

    @handles(BudgetMode)
    def _mode(self, msg: BudgetMode) -> None:
        self.paused = msg.paused
        if not self.paused:
            self._drain()

    @handles(LoopEnd)
    def _loop_end(self, msg: LoopEnd) -> None:
        self._drain()
        self._retry_throttled()
        self.send(self.status, SchedulerReport(
            scheduler=scheduler.status(self.sched),
            throttled=len(self.throttled),
            trading_counter=self.counter.value_at(msg.now),
        ))

    @handles(StatusFlush)
    def _pulse(self, msg: StatusFlush) -> None:
        if self.throttled:
            self._retry_throttled()

    def _drain(self) -> None:
        if self.paused:
            return
        self.sched, drained = scheduler.drain(self.sched, self.headroom)
        for e in drained:
            self._send_or_throttle(e.payload)  # type: ignore[arg-type]

    @handles(DropPending)
    def _drop_pending(self, msg: DropPending) -> None:
        self.sched, _ = scheduler.drop_where(
            self.sched, lambda e: isinstance(e.payload, Submit) and e.payload.slot_id == msg.slot_id
        )
        self.throttled = deque(s for s in self.throttled if s.slot_id != msg.slot_id or not _is_place(s))

    # ------------------------------------------------------------------ the wire

    def _cost(self, sub: Submit, now: float) -> float:
        intent = sub.intent
        age = max(0.0, now - sub.placed_at) if sub.placed_at > 0 else 0.0
        if isinstance(intent, PlaceOrder):
            return rate_limits.add_order_cost()
        if isinstance(intent, CancelOrder):
            return rate_limits.cancel_cost(age)
        return rate_limits.amend_cost(age)

    def _fits(self, sub: Submit, now: float) -> bool:
        cost = self._cost(sub, now)
        margin = _TRADING_MARGIN if _is_place(sub) and sub.is_entry else 0.0
        if self.counter.would_exceed(cost + margin, now):
            return False
        return not (_is_place(sub) and len(self.open_cl) >= self.open_order_limit)

    def _send_or_throttle(self, sub: Submit) -> None:
        now = self.clock.now()
        if self.throttled or not self._fits(sub, now):
            # Keep FIFO behind anything already waiting, exits ahead of entries.
            if sub.is_entry:
                self.throttled.append(sub)
            else:
                self._insert_before_entries(sub)
            self.throttled_total += 1
            self._retry_throttled()
            return
        self._forward(sub, now)

    def _insert_before_entries(self, sub: Submit) -> None:
        for i, queued in enumerate(self.throttled):
            if queued.is_entry:
                self.throttled.insert(i, sub)
                return
        self.throttled.append(sub)

    def _retry_throttled(self) -> None:
        now = self.clock.now()
        while self.throttled and self._fits(self.throttled[0], now):
            self._forward(self.throttled.popleft(), now)

    def _forward(self, sub: Submit, now: float) -> None:
        self.counter.add(self._cost(sub, now), now)
        if isinstance(sub.intent, PlaceOrder):
            self.open_cl.add(sub.intent.cl_ord_id)
        self.forwarded += 1
        if self.gateway is not None:
            try:
                self.gateway.tell(sub.intent)
            except pykka.ActorDeadError:
                # Shutdown stops the gateway first. Nothing is lost: the slot's persisted state has
                # it (an unacknowledged placement is placed again at start-up, a cancel re-sent).
                log.info("gateway stopped: %s not sent", type(sub.intent).__name__)

    @handles(OrderDone)
    def _order_done(self, msg: OrderDone) -> None:
        if msg.cl_ord_id is not None:
            self.open_cl.discard(msg.cl_ord_id)
        if self.throttled:
            self._retry_throttled()

    # ------------------------------------------------------------------ views

    @handles(Inspect)
    def _inspect(self, msg: Inspect) -> dict[str, object]:
        now = self.clock.now()
        return {
            "scheduler": scheduler.status(self.sched),
            "trading_counter": round(self.counter.value_at(now), 3),
            "trading_threshold": self.counter.limits.threshold,
            "throttled": len(self.throttled),
            "held": len(self.held),
            "open_orders": len(self.open_cl),
            "forwarded": self.forwarded,
            "throttled_total": self.throttled_total,
        }


def _is_place(sub: Submit) -> bool:
    return isinstance(sub.intent, PlaceOrder)


def _cl(sub: Submit) -> str:
    intent = sub.intent
    if isinstance(intent, (PlaceOrder, CancelOrder, AmendOrder)) and intent.cl_ord_id:
        return intent.cl_ord_id
    return f"slot:{sub.slot_id}:{id(sub)}"
