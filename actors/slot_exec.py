"""The slot actor's execution-report handling: acks, rejects, fills, cancels (reconciliation: slot_reconcile.py).

A mixin of `SlotActor` (actors/slot.py), split out by concern: everything here turns one exchange
report into core events on the slot's state, exactly once per execution id.

Three rules keep the books equal to the exchange's (docs/architecture.md, "The slot and uncertain
reports"):

* **A timeout is not a rejection.** `OrderRejected(error="timeout")` for add_order means the
  outcome is unknown: the order stays in the reducer, marked unconfirmed, until a report names it
  (late ack, `OrderOpen`, a fill, a cancel) or the exchange shows it never existed (the next
  executions snapshot does not list it, or a cancel probe sent after `UNCONFIRMED_PROBE_S` answers
  "unknown order"). Only then is it removed like a rejected placement.
* **An order is finished only when its executions are held.** The reducer gets one `FillEvent`
  when the executions held cover the order (or what a terminal report said executed); a terminal
  report ahead of its executions waits for them (`actors/slot_fills.py`).
* **A refused exit is retried with backoff.** A re-issue is priced from the freshest market the
  slot knows; consecutive failures of the same exit hold the next re-issue back (30 s doubling to
  15 min, re-priced when it goes out) and alert after `RETRY_ALERT_AFTER`.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.alerts import Alert, AlertKind
from actors.base import handles
from actors.internal import OrderDone, Submit, Withdrawn
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
from actors.slot_fills import EPS, Aggregate, Placements, unknown_order
from actors.slot_io import Target, cancel_intent, find_target, target_cl_ord_id, targets
from core import capacity, order_ids
from core import state_machine as sm
from core.slot_types import OrderCanceledEvent

log = logging.getLogger("slot")

TIMEOUT = "timeout"
UNCONFIRMED_PROBE_S = 60.0  # quiet time after an add_order timeout before a cancel probe asks the exchange
FILL_WAIT_S = 120.0  # a finished order's missing executions: how long to wait before estimating them
RETRY_BASE_S = 30.0  # hold-back of the second consecutive failed exit placement, doubling after that
RETRY_MAX_S = 900.0
STREAK_FORGET_S = 2 * RETRY_MAX_S  # a failure after this much quiet starts a new streak
RETRY_ALERT_AFTER = 4
CANCEL_RETRY_S = 30.0  # an unconfirmed cancel is sent again after this (clock seconds)


class SlotExecutions:
    """Requires the SlotActor attributes (state, fills, cl_of, reporter, ...) and its helpers."""

    slot_id: int
    alias: str
    state: sm.PairState
    halted: bool
    cfg: sm.EngineConfig
    fills: Any
    placing: Placements
    cl_of: dict[int, str]
    reporter: Any
    market: Any
    rate_budget: Any
    status: Any
    actor_ref: Any
    clock: Any
    _intents: list[Submit]
    _rows: list[Any]
    _dirty: bool
    _amend_prev: dict[int, float]
    _recancelled: set[int]

    # Also used from SlotActor / BaseActor (not declared here: a stub would shadow them in the MRO):
    # _apply(event), _adopt(state, actions, what, now), _after(now), send(ref, message).

    # ------------------------------------------------------------------ helpers

    def _target(self, order_id: str | None, cl: str | None) -> Target | None:
        return find_target(self.state, order_id, cl, self.slot_id)

    def _current(self, local_id: int) -> Target | None:
        return next((t for t in targets(self.state) if t.local_id == local_id), None)

    def _names_me(self, cl: str | None) -> bool:
        owner = order_ids.decode(cl) if cl else None
        return owner is not None and owner.kind == "s" and owner.slot_id == self.slot_id

    def _bind(self, t: Target, order_id: str, cl: str | None) -> None:
        if cl:
            self.cl_of[t.local_id] = cl
        if order_id and t.local_id in self.placing.unconfirmed:
            self.placing.resolved(t.local_id)
            log.warning("slot %s: %s %s exists after all (%s): its add_order had timed out", self.alias, t.role,
                        t.side, order_id)
        if not t.txid and order_id:
            self.state = sm.bind_txid(self.state, t.local_id, order_id)
            self._dirty = True

    def _alert(self, kind: AlertKind, message: str, now: float) -> None:
        # Exchange-side positions the books cannot show exactly: "untracked_execution" (an execution
        # of an order the slot does not track), "fill_gap" (executions never reported, booked at the
        # limit price), "exit_rejected" (a position without its exit order on the book).
        log.warning("ALERT slot %s: %s", self.alias, message)
        self.send(self.status, Alert(kind=kind, message=message, ts=now, slot_id=self.slot_id))

    def _fresh_market(self, ts: float) -> None:
        """Apply the newest market price the runtime relayed before the reducer re-places an
        order: a post-only order that crossed means the market moved past the slot's last tick."""
        m = self.market
        if m is not None and m.ts > (self.state.last_price_update_at or 0.0):
            self._apply(sm.PriceTick(price=m.price, timestamp=max(ts, m.ts)))

    # ------------------------------------------------------------------ acknowledgements

    @handles(OrderAccepted)
    def _accepted(self, ev: OrderAccepted) -> None:
        t = self._target(None, ev.cl_ord_id)
        if t is None:
            # Rejected or resolved as never placed before this (late) ack: never leave it unmanaged.
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
            if 0 < ev.cum_qty < (ev.order_qty or t.volume) - EPS:
                self.reporter.partial_open(ev.order_id, ev.ts)
        elif self._names_me(ev.cl_ord_id):
            self._stray(ev.order_id, ev.cl_ord_id, ev.ts)
        self._after(ev.ts)

    @handles(OrderRejected)
    def _rejected(self, ev: OrderRejected) -> None:
        now = self.clock.now()
        t = self._target(ev.order_id, ev.cl_ord_id)
        if ev.request == "cancel_order" and unknown_order(ev.error):
            # A benign race, not an API error: the order filled or was cancelled before the cancel
            # arrived (its Fill / OrderCanceled, or the next executions snapshot, settles it), or it
            # never existed (the unconfirmed probe below). Not a reject, not a consecutive error.
            self.reporter.counters["cancel_unknown"] += 1
            log.info("slot %s: cancel of an order the exchange no longer knows (%s %s)", self.alias,
                     ev.cl_ord_id, ev.order_id)
        else:
            self.reporter.reject(ev.error)
            log.warning("slot %s: %s rejected: %s (%s)", self.alias, ev.request, ev.error, ev.cl_ord_id)
        if t is None or self.halted:
            pass
        elif ev.request == "add_order" and not t.txid:
            if ev.error == TIMEOUT:
                # Outcome unknown: the order may exist and fill. Keep it until something resolves it.
                self.placing.unconfirmed.setdefault(t.local_id, now)
                self.reporter.counters["orders_unconfirmed"] += 1
            else:
                self.placing.resolved(t.local_id)
                self._not_placed(t, ev.error, now, count=True)
        elif ev.request == "cancel_order" and not t.txid and t.local_id in self.placing.probed \
                and unknown_order(ev.error):
            self._never_placed(t, now, "the exchange does not know it")
        elif ev.request == "cancel_order" and t.kind == "pending" and t.txid \
                and t.local_id not in self._recancelled:
            # A cancel by client id can overtake its order (reconnect): cancel again by exchange id.
            self._recancelled.add(t.local_id)
            self._intents.append(Submit(slot_id=self.slot_id, intent=cancel_intent("", t.txid),
                                        placed_at=t.placed_at, reply_to=self.actor_ref))
        elif ev.request == "amend_order" and t.kind == "recovery":
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

    @handles(OrderAmended)
    def _amended(self, ev: OrderAmended) -> None:
        t = self._target(ev.order_id, ev.cl_ord_id)
        if t is None:
            return
        self._amend_prev.pop(t.local_id, None)
        if t.kind == "recovery" and ev.limit_price is not None and ev.limit_price > 0 \
                and abs(ev.limit_price - t.price) > 1e-12:
            # The exchange's word on the price wins: an amend whose answer timed out was reverted
            # here, yet it may have gone through; the stream's `amended` report says it did.
            self.state = sm.set_recovery_price(self.state, t.recovery_id, ev.limit_price)
            self._dirty = True
            log.info("slot %s: recovery %d is at %.7f on the exchange (amend confirmed by the stream)",
                     self.alias, t.recovery_id, ev.limit_price)
            self._after(self.clock.now())

    def _stray(self, order_id: str, cl: str | None, ts: float) -> None:
        """An order naming this slot that the slot does not track: cancel it (never unmanaged)."""
        if not self.placing.new_stray(order_id):
            return
        self.reporter.counters["unknown_reports"] += 1
        log.warning("slot %s: cancelling untracked order %s (%s)", self.alias, order_id, cl)
        self.send(self.rate_budget, Submit(slot_id=self.slot_id, intent=cancel_intent(cl or "", order_id)))

    # ------------------------------------------------------------------ placements that did not happen

    def _never_placed(self, t: Target, now: float, why: str) -> None:
        """An unconfirmed placement the exchange shows never existed: undo it like a rejection."""
        self.placing.resolved(t.local_id)
        cl = self.cl_of.get(t.local_id) or target_cl_ord_id(self.slot_id, t)
        # The router left it counted against the open-order limit while its outcome was unknown.
        self.send(self.rate_budget, OrderDone(cl_ord_id=cl, order_id=None))
        log.warning("slot %s: %s %s never reached the exchange (%s)", self.alias, t.role, cl, why)
        self._not_placed(t, why, now, count=False)

    def _not_placed(self, t: Target, why: str, now: float, *, count: bool) -> None:
        if t.kind == "pending":
            self._apply(OrderCanceledEvent(order_local_id=t.local_id, txid="", timestamp=now))
            return
        self._reissue(t.local_id, now)
        key = self._chain(t)
        if key is None or not count:
            return
        if why.startswith("EGateway:not connected"):
            # Refused before sending while the socket is down: retry once a loop, not in a tight
            # loop, and without growing the backoff (the exit must go out soon after reconnecting).
            self._hold(key, RETRY_BASE_S, now)
        else:
            self._failed_again(key, why, now)

    def _reissue(self, local_id: int, now: float) -> None:
        """remove_order at the freshest market: an entry is dropped, an exit re-issued."""
        self._fresh_market(now)
        if self.halted or self._current(local_id) is None:
            return
        new, actions = sm.remove_order(self.state, local_id, self.cfg)
        self._adopt(new, actions, "order_rejected", now)

    @staticmethod
    def _chain(t: Target) -> str | None:
        """The exit chain a placement belongs to (re-issues of one position's exit), None for entries."""
        if t.kind == "recovery":
            return f"r{t.recovery_id}"
        if t.kind == "order" and t.role == "exit":
            return t.trade_id
        return None

    def _chain_order(self, key: str) -> int | None:
        if key.startswith("r"):
            rid = int(key[1:])
            return next((r.local_id for r in self.state.recovery_orders if r.recovery_id == rid), None)
        return next((o.local_id for o in self.state.orders if o.trade_id == key and o.role == "exit"), None)

    def _failed_again(self, key: str, why: str, now: float) -> None:
        """A position's exit failed to get on the book again: hold its re-issue back (backoff)."""
        n, last = self.placing.streak.get(key, (0, now))
        n = 1 if now - last > STREAK_FORGET_S else n + 1
        self.placing.streak[key] = (n, now)
        if n < 2:
            return
        delay = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (n - 2))
        if self._hold(key, delay, now):
            log.warning("slot %s: exit %s failed %d times in a row (%s); next try in %.0f s", self.alias, key, n,
                        why, delay)
        if n == RETRY_ALERT_AFTER:
            self._alert("exit_rejected", f"the exit of {key} was refused {n} times in a row (last: {why}); the "
                        f"position has no exit order on the exchange; retrying with backoff up to every "
                        f"{RETRY_MAX_S:.0f} s", now)

    def _hold(self, key: str, delay: float, now: float) -> bool:
        """Keep the chain's fresh re-issue from going out for `delay`: it stays in the reducer
        (the position keeps its exit on the books) and is re-priced when it is released."""
        lid = self._chain_order(key)
        cl = self.cl_of.get(lid) if lid is not None else None
        kept = [s for s in self._intents if not (isinstance(s.intent, PlaceOrder) and s.intent.cl_ord_id == cl)]
        if lid is None or cl is None or len(kept) == len(self._intents):
            return False
        self._intents = kept
        self.placing.parked[lid] = now + delay
        self.reporter.counters["exit_retries_held"] += 1
        return True

    def _cancel_unsent(self, local_id: int) -> bool:
        """The reducer cancels a re-issue still held back: it never reached the exchange, so it is
        settled here as cancelled with nothing executed (a cancel sent for it could never land)."""
        if self.placing.parked.pop(local_id, None) is None:
            return False
        self.placing.unsent_cancels.append(local_id)
        return True

    def _settle_unsent(self) -> None:
        while self.placing.unsent_cancels:
            lid = self.placing.unsent_cancels.pop(0)
            self._apply(OrderCanceledEvent(order_local_id=lid, txid="", timestamp=self.state.now))

    # ------------------------------------------------------------------ executions

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
            # Halted: not applied and not booked, so a restart replays it.
            self.reporter.counters["unknown_reports"] += 1
            log.warning("slot %s: execution %s for untracked order %s", self.alias, ev.exec_id, ev.order_id)
            if t is None and not ev.snapshot and not self.halted:
                self._alert("untracked_execution", f"execution {ev.exec_id} ({ev.last_qty:.8f} @ "
                            f"{ev.last_price:.7f}) of order {ev.order_id}, which the slot does not track", ev.ts)
            return
        self._bind(t, ev.order_id, ev.cl_ord_id)
        agg = self.fills.add(ev, self.slot_id)
        assert agg is not None
        self.reporter.fill(self.slot_id, t, ev)
        if ev.final:
            # Snapshot fills carry no cum_qty: a final one means the whole order.
            expected = ev.cum_qty if ev.cum_qty > EPS else (ev.order_qty or t.volume)
            self.fills.mark_terminal(ev.order_id, "filled", expected, "", ev.ts)
        if not self._progress(t, agg, ev.ts) and not agg.terminal:
            self.reporter.partial_open(ev.order_id, ev.ts)
        self._after(ev.ts)

    @handles(OrderFilled)
    def _filled(self, ev: OrderFilled) -> None:
        t = self._target(ev.order_id, ev.cl_ord_id)
        if t is not None and not self.halted:
            self._bind(t, ev.order_id, ev.cl_ord_id)
            # cum_qty 0 means "not reported": filled is the whole order. Executions are never
            # invented here: the aggregate waits for the ones it lacks.
            expected = ev.cum_qty if ev.cum_qty > EPS else t.volume
            self._progress(t, self.fills.mark_terminal(ev.order_id, "filled", expected, "", ev.ts), ev.ts)
        self._after(ev.ts)

    @handles(OrderCanceled)
    def _canceled(self, ev: OrderCanceled) -> None:
        t = self._target(ev.order_id, ev.cl_ord_id)
        if t is not None and not self.halted:
            self._bind(t, ev.order_id, ev.cl_ord_id)
            held = self.fills.get(ev.order_id)
            expected = max(ev.cum_qty, held.reported_cum if held else 0.0)
            self._progress(t, self.fills.mark_terminal(ev.order_id, "canceled", expected, ev.reason, ev.ts), ev.ts)
        self._after(ev.ts)

    def _progress(self, t: Target, agg: Aggregate, ts: float) -> bool:
        """Settle the order if what the exchange said about it is fully held; True when settled."""
        if agg.qty >= t.volume - EPS:
            self._settle(t, agg.order_id, "filled", agg.qty, ts)
            return True
        if agg.terminal and agg.missing <= EPS:
            self._settle(t, agg.order_id, agg.terminal, agg.qty, ts)
            return True
        if agg.terminal:
            log.info("slot %s: order %s %s but %.8f of its executions are not here yet; waiting", self.alias,
                     agg.order_id, agg.terminal, agg.missing)
        return False

    def _give_up(self, t: Target, agg: Aggregate, now: float, why: str) -> None:
        """The missing executions will not come (snapshot passed, or the wait ran out): settle with
        the gap at the order's own limit price (post-only maker: exact price), alerted."""
        executed = min(agg.expected, t.volume) if agg.terminal == "filled" else agg.expected
        log.warning("slot %s: order %s: giving up on %.8f of executions (%s)", self.alias, agg.order_id,
                    agg.missing, why)
        self._settle(t, agg.order_id, agg.terminal, executed, now)

    def _settle(self, t: Target, order_id: str, kind: str, executed: float, ts: float) -> None:
        """Finish the order: one FillEvent / OrderCanceledEvent for the reducer, its rows booked."""
        if self.halted:
            return
        agg = self.fills.close(order_id, executed, t.price, self.cfg.rules.maker_fee_pct, ts)
        self.placing.resolved(t.local_id)
        event: Any
        if kind == "filled":
            event = sm.FillEvent(order_local_id=t.local_id, txid=order_id, side=t.side, price=agg.vwap or t.price,  # type: ignore[arg-type]
                                 volume=agg.qty, fee=agg.fee, timestamp=ts)
        else:
            if t.kind == "order":
                self._fresh_market(ts)
            event = OrderCanceledEvent(order_local_id=t.local_id, txid=order_id, timestamp=ts,
                                       executed_volume=agg.qty, avg_price=agg.vwap, fee=agg.fee)
        self._apply(event)
        if self.halted:
            self.fills.unbook(agg)  # the event was not applied: nothing is booked, a restart replays it
            return
        self._rows.extend(agg.rows)
        if agg.gap_filled > EPS:
            self.reporter.counters["fill_gaps"] += 1
            self._alert("fill_gap", f"order {order_id} ended ({kind}) with {agg.gap_filled:.8f} DOGE of executions "
                        f"never reported; booked at its limit price {t.price:.7f}", ts)
        key = self._chain(t)
        if kind == "filled":
            if t.placed_at > 0:
                self.reporter.duration(ts, ts - t.placed_at)
            if key is not None:
                self.placing.streak.pop(key, None)
            log.info("slot %s: filled %s %s %.2f @ %.7f fee %.5f", self.alias, t.role, t.side, agg.qty,
                     agg.vwap or t.price, agg.fee)
            return
        self.reporter.counters["orders_canceled"] += 1
        if agg.qty > EPS:
            self.reporter.partial_cancel(ts)
            log.warning("%s slot=%d (handed to an exit)", capacity.phantom_position_canary(order_id, agg.qty, t.volume),
                        self.slot_id)
        log.info("slot %s: %s %s canceled (%s), executed %.8f", self.alias, t.role, t.side, agg.reason, agg.qty)
        if agg.qty <= EPS and "post only" in agg.reason.lower() and key is not None:
            self._failed_again(key, agg.reason, ts)

    # ------------------------------------------------------------------ housekeeping (every SlotTick)

    def _resend_cancels(self, now: float) -> None:
        """A cancel is sent until the exchange confirms the order's end: one refused (socket down),
        lost with a crash or a stop between its write and its send, or restored from the snapshot
        goes out again, every CANCEL_RETRY_S. Until then the order may still fill next to its
        replacement. An order already gone answers "unknown order", which is harmless."""
        pending = {p.local_id: p for p in self.state.pending_cancels}
        for lid in [lid for lid in self.placing.cancel_sent if lid not in pending]:
            del self.placing.cancel_sent[lid]
        for lid, p in sorted(pending.items()):
            if lid in self.placing.unsent_cancels:
                continue
            last = self.placing.cancel_sent.get(lid)
            if last is not None and now - last < CANCEL_RETRY_S:
                continue
            if last is not None:
                log.warning("slot %s: cancel of %s %s not confirmed after %.0f s; sending it again", self.alias,
                            p.kind, p.txid or lid, now - last)
            self.placing.cancel_sent[lid] = now
            self.reporter.counters["cancels_resent"] += 1
            t = self._current(lid)
            cl = self.cl_of.get(lid) or (target_cl_ord_id(self.slot_id, t) if t is not None else "")
            self._intents.append(Submit(slot_id=self.slot_id, intent=cancel_intent(cl, p.txid),
                                        placed_at=p.placed_at, reply_to=self.actor_ref))

    def _housekeeping(self, now: float) -> None:
        """Time-driven resolution, bounded by the loop: held-back re-issues whose time came,
        cancel probes for placements still unconfirmed, executions given up on."""
        if self.halted:
            return
        for lid, due in sorted(self.placing.parked.items()):
            if due <= now:
                del self.placing.parked[lid]
                self._reissue(lid, now)
        self._resend_cancels(now)
        for lid, since in list(self.placing.unconfirmed.items()):
            t = self._current(lid)
            if t is None or t.txid:
                self.placing.resolved(lid)
            elif now - self.placing.probed.get(lid, since) >= UNCONFIRMED_PROBE_S:
                # Cancel by client id: "unknown order" proves it never existed; a live one is
                # cancelled and settles through OrderCanceled like any other cancel.
                self.placing.probed[lid] = now
                cl = self.cl_of.get(lid) or target_cl_ord_id(self.slot_id, t)
                log.warning("slot %s: probing unconfirmed %s %s with a cancel", self.alias, t.role, cl)
                self.send(self.rate_budget, Submit(slot_id=self.slot_id, intent=cancel_intent(cl, ""),
                                                   placed_at=t.placed_at, reply_to=self.actor_ref))
        for agg in self.fills.waiting():
            if now - agg.waiting_since < FILL_WAIT_S:
                continue
            t = find_target(self.state, agg.order_id, None, self.slot_id)
            if t is None:  # no longer tracked: nothing to apply them to, and never booked unapplied
                log.warning("slot %s: dropping executions of untracked order %s", self.alias, agg.order_id)
                self.fills.forget(agg.order_id)
            else:
                self._give_up(t, agg, now, f"not reported within {FILL_WAIT_S:.0f} s")
