"""What a slot holds about its exchange orders beyond the reducer's state (pure, no I/O):
the executions of each order until it is finished (`FillBook`) and placements whose outcome or
retry is still pending (`Placements`).

Kraken reports one `trade` event per execution; the slot reducer wants one `FillEvent` per
completely filled order (VWAP price, summed fee). `FillBook` keeps the executions of each open
order until it is finished, refusing any exec_id it has seen (in this session or in the persisted
`seen` set), so replays, reconnect snapshots and duplicated reports count once.

An order is finished when the executions held cover its volume, or when the exchange said it is
finished (`final` fill, `OrderFilled`, `OrderCanceled`) and the executions held cover what it said
executed. A terminal report that claims more than the executions held does not invent the rest:
the aggregate waits (`terminal`/`expected`) for the missing reports, which normally follow at once
or come with the next executions snapshot. Only when that resolution is exhausted (the snapshot
came and went, or the bounded wait ran out) does the slot close the gap at the order's own limit
price with the maker fee (`close(..., cum_qty)`): our orders are post-only limit orders, so they
execute at their limit as makers and the estimate is exact for the price; it is logged, alerted and
counted, and a straggling report of that gap is then booked as a row only, once (`late`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import msgspec

from actors.messages import Fill
from store.rows import FillRow

EPS = 1e-9
_STRAYS_KEPT = 1000


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
    # The exchange's last word on the order ("filled" | "canceled"), what it said executed and
    # when the slot started waiting for executions it does not hold yet.
    terminal: str = ""
    expected: float = 0.0
    reason: str = ""
    waiting_since: float = 0.0

    @property
    def vwap(self) -> float:
        return self.cost / self.qty if self.qty > EPS else 0.0

    @property
    def missing(self) -> float:
        """Executed volume the exchange reported finished but the slot holds no report of."""
        return max(0.0, self.expected - self.qty) if self.terminal else 0.0


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

    def _agg(self, order_id: str, ts: float) -> Aggregate:
        agg = self.open.get(order_id)
        if agg is None:
            agg = Aggregate(order_id=order_id, first_ts=ts, last_ts=ts)
            self.open[order_id] = agg
        return agg

    def add(self, fill: Fill, slot_id: int) -> Aggregate | None:
        """Record one execution; None when it is a duplicate."""
        if self.is_duplicate(fill.exec_id):
            return None
        agg = self._agg(fill.order_id, fill.ts)
        agg.qty += fill.last_qty
        agg.cost += fill.last_qty * fill.last_price
        agg.fee += fill.fee
        agg.last_ts = max(agg.last_ts, fill.ts)
        agg.reported_cum = max(agg.reported_cum, fill.cum_qty)
        agg.rows.append(FillRow.from_fill(fill, slot_id=slot_id, source="replay" if fill.snapshot else "ws"))
        self._held.add(fill.exec_id)
        return agg

    def mark_terminal(self, order_id: str, kind: str, expected: float, reason: str, ts: float) -> Aggregate:
        """The exchange says the order is finished (`kind` filled | canceled) with `expected`
        executed. A fill outranks a cancel (a cancel that lost the race to the last execution)."""
        agg = self._agg(order_id, ts)
        if agg.terminal != "filled":
            agg.terminal = kind
            agg.reason = reason
        agg.expected = max(agg.expected, expected)
        if not agg.waiting_since:
            agg.waiting_since = ts
        return agg

    def get(self, order_id: str) -> Aggregate | None:
        return self.open.get(order_id)

    def waiting(self) -> list[Aggregate]:
        """Finished orders still waiting for executions the exchange reported but we lack."""
        return [a for a in self.open.values() if a.missing > EPS]

    def close(self, order_id: str, cum_qty: float, limit_price: float, maker_fee_pct: float, ts: float) -> Aggregate:
        """Finish an order: its aggregate, topped up to `cum_qty` when reports are given up on."""
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

    def unbook(self, agg: Aggregate) -> None:
        """Undo `close` for an order whose event the slot could not apply (it halted): its rows
        are not written, so a restart replays the executions instead of skipping them as booked."""
        for row in agg.rows:
            self.booked.discard(row.exec_id)
        if agg.gap_filled:
            self.gaps.pop(agg.order_id, None)

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


def unknown_order(error: str) -> bool:
    """Kraken's answer to a cancel of an order it does not know (never placed, or long gone)."""
    return "unknown order" in error.lower()


class Placements:
    """What the slot knows about its placements beyond the reducer's state (in memory only: after
    a restart, start-up reconciliation binds, replays or re-places every unbound order)."""

    def __init__(self, restored_unbound: set[int] | None = None) -> None:
        self.restored_unbound: set[int] = set(restored_unbound or ())  # see SlotActor.__init__
        self.unconfirmed: dict[int, float] = {}  # local id -> when its add_order timed out
        self.probed: dict[int, float] = {}  # local id -> when the last cancel probe went out
        self.streak: dict[str, tuple[int, float]] = {}  # exit chain -> (consecutive failures, last)
        self.parked: dict[int, float] = {}  # local id of a held-back re-issue -> when it may go out
        self.unsent_cancels: list[int] = []  # parked orders the reducer cancelled (never sent)
        # local id of a pending cancel -> when its cancel was last sent (resent until confirmed)
        self.cancel_sent: dict[int, float] = {}
        self.strays: OrderedDict[str, None] = OrderedDict()  # order ids already cancelled as strays

    def resolved(self, local_id: int) -> None:
        self.unconfirmed.pop(local_id, None)
        self.probed.pop(local_id, None)

    def new_stray(self, order_id: str) -> bool:
        """True the first time: a stray reported twice (ack, then resting) is cancelled once."""
        if order_id in self.strays:
            return False
        self.strays[order_id] = None
        if len(self.strays) > _STRAYS_KEPT:
            self.strays.popitem(last=False)
        return True
