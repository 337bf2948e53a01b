"""The little state the gateway keeps so that sparse execution events can be routed.

Kraken's `new`, `canceled`, `filled` and `amended` events may carry only an `order_id`; our
owners are named by `cl_ord_id`. `OrderRegistry` remembers order_id -> (cl_ord_id, side,
order_qty, limit_price) from what we sent, add_order responses, `pending_new` events and
snapshots, and fills the gaps in later events. `CandleCloser` turns Kraken's "current bar"
OHLC updates into forming and closed candles. `RecentIds` spots repeated execution ids.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import msgspec

from actors.messages import (
    Candle,
    Fill,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderOpen,
    PlaceOrder,
)
from gateway.kraken.codec import OrderPending, is_final


class OrderInfo(msgspec.Struct, kw_only=True):
    cl_ord_id: str | None = None
    side: str | None = None
    order_qty: float | None = None
    limit_price: float | None = None


class RecentIds:
    """A bounded set of recently seen ids (oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, key: str) -> bool:
        """Record `key`; True if it was already there."""
        if key in self._ids:
            self._ids.move_to_end(key)
            return True
        self._ids[key] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._ids)


class OrderRegistry:
    """order_id -> what we know about the order; closed orders kept in a bounded window so late
    or duplicated reports after the end still route."""

    def __init__(self, closed_capacity: int = 5000) -> None:
        self._open: dict[str, OrderInfo] = {}
        self._closed: OrderedDict[str, OrderInfo] = OrderedDict()
        self._closed_capacity = closed_capacity
        # Intents we sent, by cl_ord_id, until their order_id is known.
        self._intents: dict[str, PlaceOrder] = {}

    def __len__(self) -> int:
        return len(self._open)

    def expect(self, intent: PlaceOrder) -> None:
        self._intents[intent.cl_ord_id] = intent

    def forget_intent(self, cl_ord_id: str) -> None:
        self._intents.pop(cl_ord_id, None)

    def intent(self, cl_ord_id: str) -> PlaceOrder | None:
        return self._intents.get(cl_ord_id)

    def placements_unresolved(self) -> bool:
        """Whether an order we sent has no known order id yet (in flight, or its answer lost)."""
        return bool(self._intents)

    def settle(self, open_ids: list[str]) -> None:
        """After an executions snapshot: orders not listed as open have ended while we were
        away (filled or cancelled). They move to the closed window, where they still route."""
        listed = set(open_ids)
        for order_id in [o for o in self._open if o not in listed]:
            self.close(order_id)

    def get(self, order_id: str) -> OrderInfo | None:
        return self._open.get(order_id) or self._closed.get(order_id)

    def known_qty(self, order_id: str | None, cl_ord_id: str | None) -> float | None:
        if order_id:
            info = self.get(order_id)
            if info is not None:
                return info.order_qty
        if cl_ord_id:
            for info in self._open.values():
                if info.cl_ord_id == cl_ord_id:
                    return info.order_qty
            intent = self._intents.get(cl_ord_id)
            if intent is not None:
                return intent.volume
        return None

    def learn(
        self,
        order_id: str,
        cl_ord_id: str | None = None,
        side: str | None = None,
        order_qty: float | None = None,
        limit_price: float | None = None,
        *,
        closed: bool = False,
    ) -> OrderInfo:
        info = self.get(order_id)
        if info is None:
            info = OrderInfo()
            if closed:
                self._closed[order_id] = info
                if len(self._closed) > self._closed_capacity:
                    self._closed.popitem(last=False)
            else:
                self._open[order_id] = info
        if cl_ord_id:
            info.cl_ord_id = cl_ord_id
            intent = self._intents.pop(cl_ord_id, None)
            if intent is not None:
                info.side = info.side or intent.side
                info.order_qty = info.order_qty or intent.volume
                info.limit_price = info.limit_price or intent.price
        if side:
            info.side = side
        if order_qty:
            info.order_qty = order_qty
        if limit_price:
            info.limit_price = limit_price
        return info

    def close(self, order_id: str) -> None:
        info = self._open.pop(order_id, None)
        if info is not None:
            self._closed[order_id] = info
            if len(self._closed) > self._closed_capacity:
                self._closed.popitem(last=False)

    def enrich(self, event: Any) -> Any:
        """Fill cl_ord_id/side/order_qty/limit_price from what we know; None = do not forward."""
        if isinstance(event, OrderPending):
            self.learn(event.order_id, event.cl_ord_id, event.side, event.order_qty, event.limit_price)
            return None
        if isinstance(event, Fill):
            # A fill of an order we never saw live (snapshot of old trades) is not an open
            # order: remember it only in the bounded closed window.
            info = self.learn(event.order_id, event.cl_ord_id, event.side, closed=self.get(event.order_id) is None)
            order_qty = event.order_qty or info.order_qty
            final = event.final or is_final(event.cum_qty, order_qty)
            if final:
                self.close(event.order_id)
            if event.cl_ord_id and event.side and event.order_qty == order_qty and event.final == final:
                return event
            return msgspec.structs.replace(
                event,
                cl_ord_id=event.cl_ord_id or info.cl_ord_id,
                side=event.side or info.side,
                order_qty=order_qty,
                final=final,
            )
        if isinstance(event, OrderOpen):
            info = self.learn(event.order_id, event.cl_ord_id, event.side, event.order_qty, event.limit_price)
            return msgspec.structs.replace(
                event,
                cl_ord_id=info.cl_ord_id,
                side=info.side,
                order_qty=info.order_qty or 0.0,
                limit_price=info.limit_price or 0.0,
            )
        if isinstance(event, OrderAmended):
            info = self.learn(event.order_id, event.cl_ord_id, None, event.order_qty, event.limit_price)
            return msgspec.structs.replace(event, cl_ord_id=info.cl_ord_id)
        if isinstance(event, (OrderFilled, OrderCanceled)):
            info = self.learn(event.order_id, event.cl_ord_id)
            self.close(event.order_id)
            return msgspec.structs.replace(event, cl_ord_id=info.cl_ord_id)
        if isinstance(event, OrderAccepted):
            self.learn(event.order_id, event.cl_ord_id)
        return event


class CandleCloser:
    """Kraken pushes the current bar repeatedly; a bar is final once a later one begins.

    Every update is passed on as forming (closed=False); when a later interval_begin appears,
    the previous bar is emitted once more with closed=True. Bars older than the current one
    (e.g. replayed in a snapshot after a reconnect) were already closed and are skipped; inside
    one frame, bars followed by a later bar are emitted closed directly.
    """

    def __init__(self) -> None:
        self._current: dict[tuple[str, int], Candle] = {}

    def feed(self, candles: list[Candle]) -> list[Candle]:
        out: list[Candle] = []
        for i, candle in enumerate(candles):
            key = (candle.symbol, candle.interval_min)
            current = self._current.get(key)
            if current is not None:
                if candle.begin_ts < current.begin_ts:
                    continue
                if candle.begin_ts > current.begin_ts:
                    out.append(msgspec.structs.replace(current, closed=True))
            later = any(
                (c.symbol, c.interval_min) == key and c.begin_ts > candle.begin_ts for c in candles[i + 1 :]
            )
            if later:
                out.append(msgspec.structs.replace(candle, closed=True))
                # Remember it as already closed: a later bar in this frame takes its place.
                self._current.pop(key, None)
                continue
            self._current[key] = candle
            out.append(candle)
        return out
