"""The slot actor's execution-report handling: acks, rejects, fills, cancels, reconciliation.

A mixin of `SlotActor` (actors/slot.py), split out by concern: everything here turns one exchange
report into core events on the slot's state, exactly once per execution id.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.base import handles
from actors.internal import ReconcileOpen, Submit, Withdrawn
from actors.messages import (
    Fill,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderOpen,
    OrderRejected,
    PlaceOrder,
)
from actors.slot_io import Target, cancel_intent, find_target, target_cl_ord_id, targets
from core import order_ids
from core import state_machine as sm
from core.slot_types import OrderCanceledEvent

log = logging.getLogger("slot")


class SlotExecutions:
    """Requires the SlotActor attributes (state, fills, cl_of, reporter, ...) and its helpers."""

    slot_id: int
    alias: str
    state: sm.PairState
    halted: bool
    cfg: sm.EngineConfig
    fills: Any
    cl_of: dict[int, str]
    reporter: Any
    market: Any
    rate_budget: Any
    actor_ref: Any
    clock: Any
    _intents: list[Submit]
    _rows: list[Any]
    _dirty: bool
    _amend_prev: dict[int, float]
    _recancelled: set[int]

    # Also used from SlotActor / BaseActor (not declared here: a stub would shadow them in the MRO):
    # _apply(event), _adopt(state, actions, what, now), _after(now), send(ref, message).

    # ------------------------------------------------------------------ execution reports

    def _target(self, order_id: str | None, cl: str | None) -> Target | None:
        return find_target(self.state, order_id, cl, self.slot_id)

    def _bind(self, t: Target, order_id: str, cl: str | None) -> None:
        if cl:
            self.cl_of[t.local_id] = cl
        if not t.txid and order_id:
            self.state = sm.bind_txid(self.state, t.local_id, order_id)
            self._dirty = True

    @handles(OrderAccepted)
    def _accepted(self, ev: OrderAccepted) -> None:
        t = self._target(None, ev.cl_ord_id)
        if t is None:
            self._stray(ev.order_id, ev.cl_ord_id, ev.ts)
        else:
            self._bind(t, ev.order_id, ev.cl_ord_id)
            self.reporter.accepted()
            log.info("slot %s: placed %s %s %.2f @ %.7f (%s)", self.alias, t.role, t.side, t.volume, t.price,
                     ev.order_id)
        self._after(ev.ts)

    @handles(OrderOpen)
    def _open(self, ev: OrderOpen) -> None:
        t = self._target(ev.order_id, ev.cl_ord_id)
        if t is not None:
            self._bind(t, ev.order_id, ev.cl_ord_id)
            if 0 < ev.cum_qty < (ev.order_qty or t.volume) - 1e-9:
                self.reporter.partial_open(ev.order_id, ev.ts)
        self._after(ev.ts)

    @handles(OrderRejected)
    def _rejected(self, ev: OrderRejected) -> None:
        now = self.clock.now()
        self.reporter.reject(ev.error)
        t = self._target(ev.order_id, ev.cl_ord_id)
        log.warning("slot %s: %s rejected: %s (%s)", self.alias, ev.request, ev.error, ev.cl_ord_id)
        if t is not None and ev.request == "add_order" and not t.txid:
            if t.kind == "pending":
                self._apply(OrderCanceledEvent(order_local_id=t.local_id, txid="", timestamp=now))
            else:
                new, actions = sm.remove_order(self.state, t.local_id, self.cfg)
                self._adopt(new, actions, "order_rejected", now)
        elif t is not None and ev.request == "cancel_order" and t.kind == "pending" and t.txid \
                and t.local_id not in self._recancelled:
            # A cancel by client id can overtake its order (reconnect): cancel again by exchange id.
            self._recancelled.add(t.local_id)
            self._intents.append(Submit(slot_id=self.slot_id, intent=cancel_intent("", t.txid),
                                        placed_at=t.placed_at, reply_to=self.actor_ref))
        elif t is not None and ev.request == "amend_order" and t.kind == "recovery":
            old = self._amend_prev.pop(t.local_id, None)
            if old is not None:
                self.state = sm.reprice_recovery(self.state, t.recovery_id, old, self.cfg)
                self._dirty = True
        self._after(now)

    @handles(Withdrawn)
    def _withdrawn(self, msg: Withdrawn) -> None:
        now = self.clock.now()
        t = self._target(None, msg.cl_ord_id)
        if t is not None and t.kind == "pending":
            self._apply(OrderCanceledEvent(order_local_id=t.local_id, txid="", timestamp=now))
        self._after(now)

    @handles(Fill)
    def _fill(self, ev: Fill) -> None:
        if self.fills.is_duplicate(ev.exec_id):
            self.reporter.counters["duplicate_fills_ignored"] += 1
            return
        t = self._target(ev.order_id, ev.cl_ord_id)
        if t is None and (row := self.fills.late(ev, self.slot_id)) is not None:
            self._rows.append(row)  # an overtaken report of an order closed with a gap: book its row
            self._after(ev.ts)
            return
        if t is None or self.halted:
            self.reporter.counters["unknown_reports"] += 1
            log.warning("slot %s: execution %s for untracked order %s", self.alias, ev.exec_id, ev.order_id)
            return
        self._bind(t, ev.order_id, ev.cl_ord_id)
        agg = self.fills.add(ev, self.slot_id)
        assert agg is not None
        self.reporter.fill(self.slot_id, t, ev)
        if ev.final or agg.qty >= t.volume - 1e-9:
            self._complete(t, ev.order_id, max(agg.qty, ev.cum_qty), ev.ts)
        else:
            self.reporter.partial_open(ev.order_id, ev.ts)
        self._after(ev.ts)

    @handles(OrderFilled)
    def _filled(self, ev: OrderFilled) -> None:
        t = self._target(ev.order_id, ev.cl_ord_id)
        if t is not None and not self.halted:
            self._complete(t, ev.order_id, max(ev.cum_qty, t.volume), ev.ts)
        self._after(ev.ts)

    def _complete(self, t: Target, order_id: str, cum_qty: float, ts: float) -> None:
        agg = self.fills.close(order_id, cum_qty, t.price, self.cfg.rules.maker_fee_pct, ts)
        if agg.gap_filled:
            log.warning("slot %s: order %s missed %.8f of executions; booked at its limit price",
                        self.alias, order_id, agg.gap_filled)
        self._rows.extend(agg.rows)
        if t.placed_at > 0:
            self.reporter.duration(ts, ts - t.placed_at)
        price = agg.vwap or t.price
        log.info("slot %s: filled %s %s %.2f @ %.7f fee %.5f", self.alias, t.role, t.side, agg.qty, price, agg.fee)
        self._apply(sm.FillEvent(order_local_id=t.local_id, txid=order_id, side=t.side, price=price,  # type: ignore[arg-type]
                                 volume=agg.qty, fee=agg.fee, timestamp=ts))

    @handles(OrderCanceled)
    def _canceled(self, ev: OrderCanceled) -> None:
        t = self._target(ev.order_id, ev.cl_ord_id)
        if t is not None and not self.halted:
            self._gone(t, ev.order_id, ev.cum_qty, ev.ts, ev.reason)
        self._after(ev.ts)

    def _gone(self, t: Target, order_id: str, cum_qty: float, ts: float, reason: str) -> None:
        """The order left the book without completing: hand any executed part to the reducer."""
        held = self.fills.get(order_id)
        executed = max(cum_qty, held.qty if held else 0.0)
        agg = self.fills.close(order_id, executed, t.price, self.cfg.rules.maker_fee_pct, ts)
        self._rows.extend(agg.rows)
        self.reporter.counters["orders_canceled"] += 1
        if agg.qty > 1e-9:
            self.reporter.partial_cancel(ts)
            log.warning("PHANTOM_POSITION_CANARY txid=%s vol_exec=%.8f vol=%.8f slot=%d (handed to an exit)",
                        order_id, agg.qty, t.volume, self.slot_id)
        log.info("slot %s: %s %s canceled (%s), executed %.8f", self.alias, t.role, t.side, reason, agg.qty)
        m = self.market
        if t.kind == "order" and m is not None and m.ts > (self.state.last_price_update_at or 0.0):
            # The reducer re-places a lost entry (or a reissued exit) at once: price it from the
            # market as it is now. A post-only order that crossed means the market moved.
            self._apply(sm.PriceTick(price=m.price, timestamp=ts))
        self._apply(OrderCanceledEvent(order_local_id=t.local_id, txid=order_id, timestamp=ts,
                                       executed_volume=agg.qty, avg_price=agg.vwap, fee=agg.fee))

    @handles(OrderAmended)
    def _amended(self, ev: OrderAmended) -> None:
        t = self._target(ev.order_id, ev.cl_ord_id)
        if t is not None:
            self._amend_prev.pop(t.local_id, None)

    def _stray(self, order_id: str, cl: str | None, ts: float) -> None:
        """An order naming this slot that the slot does not track: cancel it (never unmanaged)."""
        self.reporter.counters["unknown_reports"] += 1
        log.warning("slot %s: cancelling untracked order %s (%s)", self.alias, order_id, cl)
        self.send(self.rate_budget, Submit(slot_id=self.slot_id, intent=cancel_intent(cl or "", order_id)))

    # ------------------------------------------------------------------ reconciliation

    @handles(ReconcileOpen)
    def _reconcile(self, msg: ReconcileOpen) -> None:
        by_local: dict[int, tuple[str, str]] = {}
        for oid, cl in msg.open_orders.items():
            owner = order_ids.decode(cl) if cl else None
            if owner is not None and owner.kind == "s" and owner.slot_id == self.slot_id:
                by_local[owner.local_id] = (oid, cl or "")
        tracked = {t.local_id for t in targets(self.state)}
        for t in targets(self.state):
            if t.txid and t.txid in msg.open_orders:
                continue
            if not t.txid and t.local_id in by_local:
                oid, cl = by_local[t.local_id]
                self._bind(t, oid, cl)
            elif t.txid:
                # Closed while we were not listening; its executions (if any) came before this.
                self._gone(t, t.txid, 0.0, msg.now, "not open on the exchange")
            elif msg.startup and t.kind != "pending":
                self._replace(t)
        for local_id, (oid, cl) in by_local.items():
            if local_id not in tracked and msg.startup:
                self._stray(oid, cl, msg.now)
        self._after(msg.now)

    def _replace(self, t: Target) -> None:
        """An unbound order that never reached the exchange (crash after commit, before send)."""
        cl = target_cl_ord_id(self.slot_id, t)
        self.cl_of[t.local_id] = cl
        intent = PlaceOrder(cl_ord_id=cl, side=t.side, price=t.price, volume=t.volume)  # type: ignore[arg-type]
        self._intents.append(Submit(slot_id=self.slot_id, intent=intent, is_entry=t.role == "entry",
                                    source="bootstrap" if t.role == "entry" else "exit", reply_to=self.actor_ref))
        log.info("slot %s: re-placing %s %s (never acknowledged before restart)", self.alias, t.role, cl)

