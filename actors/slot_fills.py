"""Per-order aggregation of partial executions (used by the slot actor; pure, no I/O).

Kraken reports one `trade` event per execution; the slot reducer wants one `FillEvent` per
completely filled order (VWAP price, summed fee). `FillBook` keeps the executions of each open
order until it completes or is cancelled, refusing any exec_id it has seen (in this session or in
the persisted `seen` set), so replays, reconnect snapshots and duplicated reports count once.

Gaps: if the exchange says an order executed more (`cum_qty`) than the executions we hold (a
report was lost), the missing quantity is added at the order's own limit price with the maker fee
rate. Our orders are post-only limit orders, so they fill exactly at their limit as makers: the
estimate is exact for price and fee; it is logged and counted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import msgspec

from actors.messages import Fill
from store.rows import FillRow

EPS = 1e-9


class Aggregate(msgspec.Struct, kw_only=True):
    """The executions of one order so far."""

    order_id: str
    qty: float = 0.0
    cost: float = 0.0
    fee: float = 0.0
    rows: list[FillRow] = []
    first_ts: float = 0.0
    last_ts: float = 0.0
    reported_cum: float = 0.0
    gap_filled: float = 0.0

    @property
    def vwap(self) -> float:
        return self.cost / self.qty if self.qty > EPS else 0.0


class FillBook:
    def __init__(self, seen: Iterable[str] = ()) -> None:
        # exec ids already booked in the store (loaded at start) or booked during this session
        self.booked: set[str] = set(seen)
        self.open: dict[str, Aggregate] = {}
        self._held: set[str] = set()  # exec ids in `open` aggregates (not yet booked)
        # order_id -> quantity booked at the limit price for reports still missing (bounded).
        self.gaps: OrderedDict[str, float] = OrderedDict()

    def is_duplicate(self, exec_id: str) -> bool:
        return exec_id in self.booked or exec_id in self._held

    def add(self, fill: Fill, slot_id: int) -> Aggregate | None:
        """Record one execution; None when it is a duplicate."""
        if self.is_duplicate(fill.exec_id):
            return None
        agg = self.open.get(fill.order_id)
        if agg is None:
            agg = Aggregate(order_id=fill.order_id, first_ts=fill.ts)
            self.open[fill.order_id] = agg
        agg.qty += fill.last_qty
        agg.cost += fill.last_qty * fill.last_price
        agg.fee += fill.fee
        agg.last_ts = max(agg.last_ts, fill.ts)
        agg.reported_cum = max(agg.reported_cum, fill.cum_qty)
        agg.rows.append(FillRow.from_fill(fill, slot_id=slot_id, source="replay" if fill.snapshot else "ws"))
        self._held.add(fill.exec_id)
        return agg

    def get(self, order_id: str) -> Aggregate | None:
        return self.open.get(order_id)

    def close(self, order_id: str, cum_qty: float, limit_price: float, maker_fee_pct: float, ts: float) -> Aggregate:
        """Finish an order: its aggregate, topped up to `cum_qty` if reports were missed."""
        agg = self.open.pop(order_id, None) or Aggregate(order_id=order_id, first_ts=ts, last_ts=ts)
        for row in agg.rows:
            # From here the row travels in the slot's next BookFills: a duplicate arriving before
            # that write commits is already a duplicate.
            self._held.discard(row.exec_id)
            self.booked.add(row.exec_id)
        missing = cum_qty - agg.qty
        if missing > EPS and limit_price > 0:
            agg.qty += missing
            agg.cost += missing * limit_price
            agg.fee += missing * limit_price * maker_fee_pct / 100.0
            agg.gap_filled = missing
            agg.last_ts = max(agg.last_ts, ts)
            self.gaps[order_id] = missing
            if len(self.gaps) > 10_000:
                self.gaps.popitem(last=False)
        return agg

    def late(self, fill: Fill, slot_id: int) -> FillRow | None:
        """An execution of an order already closed with a gap: it is part of the gap (already
        accounted at the limit price), so only its row is booked, exactly once."""
        gap = self.gaps.get(fill.order_id, 0.0)
        if self.is_duplicate(fill.exec_id) or fill.last_qty > gap + EPS:
            return None
        remaining = gap - fill.last_qty
        if remaining > EPS:
            self.gaps[fill.order_id] = remaining
        else:
            self.gaps.pop(fill.order_id, None)
        self.booked.add(fill.exec_id)
        return FillRow.from_fill(fill, slot_id=slot_id, source="replay" if fill.snapshot else "ws")

    def forget(self, order_id: str) -> None:
        agg = self.open.pop(order_id, None)
        if agg is not None:
            for row in agg.rows:
                self._held.discard(row.exec_id)
