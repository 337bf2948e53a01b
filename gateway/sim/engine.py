"""The matching engine: DOGE/USD limit and market orders against a price path.

Deterministic and clock-free: every call takes `now` (unix seconds). No sockets: each call
returns an `Outcome` whose `events` are `(channel, data element)` pairs for the private
`executions` and `balances` channels, exactly the dicts the WS server puts into frames, so an
in-process backtest can consume the same elements without a socket.

Matching model (docs/simulator.md):
* the market is a single price; bid = price - n ticks, ask = price + n ticks;
* a resting buy fills at its limit (maker) when a traded range reaches down to it, a sell when
  it reaches up to it; each order may take at most `fill_volume_share` of the range's volume,
  the rest stays open (partial fills);
* an arriving order that crosses (buy >= ask, sell <= bid) fills at once as taker at the
  ask/bid, unless post-only, in which case it is cancelled (configurable reason).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core import rate_limits
from gateway.sim.engine_core import EngineCore
from gateway.sim.engine_types import E_CL_ORD_ID_DUP, E_RATE, E_UNKNOWN_ORDER, Event, OrderSpec, Outcome
from gateway.sim.orders import Order
from gateway.sim.wire import ZERO, rfc3339_s

__all__ = ["Event", "MatchingEngine", "OrderSpec", "Outcome"]


class MatchingEngine(EngineCore):
    """The engine with every request Kraken's WS v2 / REST trading API offers."""

    def batch_add(self, specs: list[OrderSpec], now: float, validate: bool = False) -> Outcome:
        """All-or-nothing validation (including cumulative funds), then placement in order."""
        if not validate and not self._charge(rate_limits.batch_add_cost(len(specs)), now):
            return Outcome(False, error=E_RATE)
        holds = {"buy": ZERO, "sell": ZERO}
        cl_ids: set[str] = set()
        for i, spec in enumerate(specs):
            if spec.cl_ord_id is not None:
                if spec.cl_ord_id in cl_ids:
                    return Outcome(False, error=E_CL_ORD_ID_DUP)
                cl_ids.add(spec.cl_ord_id)
            if error := self._validate(spec, extra_open=i, extra_hold=holds[spec.side]):
                return Outcome(False, error=error)
            ref = spec.price if spec.price is not None else (self.ask if spec.side == "buy" else self.bid)
            holds[spec.side] += self._hold_for(spec.side, spec.qty, ref)  # type: ignore[arg-type]
        if validate:
            return Outcome(True, result=[])
        results: list[Any] = []
        events: list[Event] = []
        for spec in specs:
            placed = self._place(spec, now)
            results.append(placed.result)
            events.extend(placed.events)
        return Outcome(True, result=results, events=events)

    def edit_order(self, now: float, order_id: str, qty: Decimal | None = None,
                   price: Decimal | None = None, post_only: bool | None = None,
                   userref: int | None = None) -> Outcome:
        """Legacy cancel-and-replace: the new order gets a new id; fills stay on the old one."""
        order = self.find_open(order_id)
        if order is None or order.order_type != "limit":
            return Outcome(False, error=E_UNKNOWN_ORDER)
        if not self._charge(rate_limits.edit_cost(now - order.last_change), now):
            return Outcome(False, error=E_RATE)
        new_qty = order.qty if qty is None else qty
        if new_qty <= order.cum_qty:
            return Outcome(False, error="EOrder:Invalid order")
        spec = OrderSpec(side=order.side, qty=new_qty - order.cum_qty,
                         price=order.price if price is None else price,
                         post_only=order.post_only if post_only is None else post_only,
                         userref=order.userref if userref is None else userref)
        asset = "USD" if order.side == "buy" else "DOGE"
        # Validate as if the old order's hold were already released.
        self.account.release(asset, order.hold)
        error = self._validate(spec, extra_open=-1)
        self.account.hold(asset, order.hold)
        if error:
            return Outcome(False, error=error)
        events = self._cancel(order, now, "Order replaced")
        placed = self._place(spec, now)
        result = {"order_id": placed.result["order_id"], "original_order_id": order.order_id}
        return Outcome(True, result=result, events=events + placed.events)

    def cancel_by_userref(self, userref: int, now: float) -> list[Outcome]:
        """One outcome per cancelled order (WS `cancel_order` answers once per order)."""
        matches = [o for o in self.open.values() if o.userref == userref]
        if not matches:
            return [Outcome(False, error=E_UNKNOWN_ORDER)]
        return [self.cancel_order(now, order_id=o.order_id) for o in matches]

    def batch_cancel(self, keys: list[str], cl_ord_ids: list[str], now: float) -> Outcome:
        """Cancel by order id / userref strings and client ids; accepted even past the limit."""
        targets: dict[str, Order] = {}
        for key in keys:
            if key in self.open:
                targets[key] = self.open[key]
            elif key.lstrip("-").isdigit():
                for o in self.open.values():
                    if o.userref == int(key):
                        targets[o.order_id] = o
        for cl in cl_ord_ids:
            if (o := self.find_open(cl_ord_id=cl)) is not None:
                targets[o.order_id] = o
        if self.rate_counter.value_at(now) > self.rate_counter.limits.threshold:
            return Outcome(False, error=E_RATE)
        self.rate_counter.add(rate_limits.batch_cancel_cost([now - o.last_change for o in targets.values()]), now)
        events: list[Event] = []
        for order in targets.values():
            events.extend(self._cancel(order, now, "User requested"))
        return Outcome(True, result={"count": len(targets)}, events=events)

    def cancel_all(self, now: float, reason: str = "User requested") -> Outcome:
        events: list[Event] = []
        count = len(self.open)
        for order in list(self.open.values()):
            events.extend(self._cancel(order, now, reason))
        return Outcome(True, result={"count": count}, events=events)

    def cancel_all_orders_after(self, timeout: int, now: float) -> Outcome:
        if timeout <= 0:
            self.dms_trigger = None
            return Outcome(True, result={"currentTime": rfc3339_s(now), "triggerTime": "0"})
        self.dms_trigger = now + timeout
        return Outcome(True, result={"currentTime": rfc3339_s(now), "triggerTime": rfc3339_s(self.dms_trigger)})

    def check_timers(self, now: float) -> list[Event]:
        """Fire the dead man's switch when due: cancel everything, then disarm."""
        if self.dms_trigger is None or now < self.dms_trigger:
            return []
        self.dms_trigger = None
        return self.cancel_all(now, self.config.dms_cancel_reason).events

    # ------------------------------------------------------------------ snapshots

    def snapshot_orders(self) -> list[dict[str, Any]]:
        return [self.elements.snapshot_order(o) for o in self.open.values()]

    def snapshot_trades(self, limit: int = 50) -> list[dict[str, Any]]:
        recent = list(self.fills)[-limit:]
        return [self.elements.snapshot_trade(f) for f in reversed(recent)]
