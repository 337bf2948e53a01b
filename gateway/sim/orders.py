"""Order and fill records, client-id rules, and the `executions` data elements built from them.

The element builders reproduce the key sets and key order of the fixtures
`tests/fixtures/kraken/ws_executions_*.json`; documented optional fields are only added where
they carry information (e.g. `cl_ord_id`, `post_only`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.market import WS_SYMBOL
from gateway.sim.config import SimConfig
from gateway.sim.wire import ZERO, q, rfc3339

OPEN_STATUSES = frozenset({"pending_new", "new", "partially_filled"})
_SHORT_UUID = re.compile(r"^[0-9a-fA-F]{32}$")
CL_ORD_ID_MAX_FREE_TEXT = 18


def valid_cl_ord_id(value: object) -> bool:
    """Kraken accepts a long UUID, a 32-hex short UUID, or printable ASCII of at most 18 chars."""
    if not isinstance(value, str) or not value:
        return False
    if len(value) == 36:
        try:
            uuid.UUID(value)
            return True
        except ValueError:
            pass
    if _SHORT_UUID.match(value):
        return True
    return len(value) <= CL_ORD_ID_MAX_FREE_TEXT and value.isascii() and value.isprintable()


@dataclass(slots=True)
class Order:
    order_id: str
    side: str  # "buy" | "sell"
    order_type: str  # "limit" | "market"
    qty: Decimal
    price: Decimal | None  # limit price; None for market orders
    post_only: bool
    cl_ord_id: str | None
    userref: int
    created: float
    seq: int  # time priority among resting orders
    last_change: float = 0.0  # creation or last amend: the rate counter's "age" starts here
    status: str = "pending_new"
    cum_qty: Decimal = ZERO
    cum_cost: Decimal = ZERO
    fee: Decimal = ZERO  # cumulative, USD
    hold: Decimal = ZERO  # still reserved: USD for buys, DOGE for sells
    closed_at: float | None = None
    reason: str | None = None
    amended: bool = False
    trade_ids: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.cum_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> Decimal:
        return q(self.cum_cost / self.cum_qty, 7) if self.cum_qty > 0 else ZERO


@dataclass(frozen=True, slots=True)
class Fill:
    exec_id: str
    trade_id: int
    order_id: str
    postxid: str
    side: str
    order_type: str
    qty: Decimal
    price: Decimal
    cost: Decimal
    fee: Decimal
    liquidity: str  # "m" | "t"
    ts: float
    order_status: str  # status of the order right after this fill
    userref: int
    cl_ord_id: str | None


class ExecutionElements:
    """Builds `executions` data elements in Kraken's shapes."""

    def __init__(self, config: SimConfig) -> None:
        self._cfg = config

    def _ids(self, order: Order, element: dict[str, Any], always: bool = False) -> dict[str, Any]:
        if order.cl_ord_id is not None and (always or self._cfg.cl_ord_id_on_all_events):
            element["cl_ord_id"] = order.cl_ord_id
        return element

    def _description(self, order: Order, exec_type: str, status: str, ts: float) -> dict[str, Any]:
        element: dict[str, Any] = {"order_id": order.order_id, "order_userref": order.userref}
        self._ids(order, element, always=True)
        element.update(
            symbol=WS_SYMBOL,
            order_qty=order.qty,
            cum_cost=order.cum_cost,
            time_in_force="GTC",
            exec_type=exec_type,
            side=order.side,
            order_type=order.order_type,
        )
        if order.price is not None:
            element.update(limit_price_type="static", limit_price=order.price)
        element.update(stop_price=ZERO, order_status=status, fee_usd_equiv=order.fee, fee_ccy_pref="fciq")
        if order.post_only:
            element["post_only"] = True
        element["timestamp"] = rfc3339(ts)
        return element

    def pending_new(self, order: Order, ts: float) -> dict[str, Any]:
        return self._description(order, "pending_new", "pending_new", ts)

    def snapshot_order(self, order: Order) -> dict[str, Any]:
        exec_type = self._cfg.snapshot_open_order_exec_type
        element = self._description(order, exec_type, order.status, order.last_change)
        if order.cum_qty > 0:
            # Documented field; without it a client could not tell how much of a resting
            # order is left after a reconnect.
            element["cum_qty"] = order.cum_qty
            element["avg_price"] = order.avg_price
        return element

    def new(self, order: Order, ts: float) -> dict[str, Any]:
        # `order_status` is the state after the event: an order that took liquidity on arrival
        # and rests with the remainder is live *with* fills.
        status = "partially_filled" if order.cum_qty > 0 else "new"
        element = {"timestamp": rfc3339(ts), "order_status": status, "exec_type": "new",
                   "order_userref": order.userref, "order_id": order.order_id}
        return self._ids(order, element)

    def trade(self, order: Order, fill: Fill) -> dict[str, Any]:
        element: dict[str, Any] = {"order_id": order.order_id, "order_userref": order.userref}
        self._ids(order, element)
        element.update(
            exec_id=fill.exec_id,
            exec_type="trade",
            trade_id=fill.trade_id,
            symbol=WS_SYMBOL,
            side=fill.side,
            last_qty=fill.qty,
            last_price=fill.price,
            liquidity_ind=fill.liquidity,
            cost=fill.cost,
            order_type=fill.order_type,
            timestamp=rfc3339(fill.ts),
            order_status=fill.order_status,
            cum_qty=order.cum_qty,
            cum_cost=order.cum_cost,
            avg_price=order.avg_price,
            fee_usd_equiv=fill.fee,
            fees=[{"asset": "USD", "qty": fill.fee}],
        )
        return element

    def snapshot_trade(self, fill: Fill) -> dict[str, Any]:
        element: dict[str, Any] = {"order_id": fill.order_id, "order_userref": fill.userref}
        if fill.cl_ord_id is not None and self._cfg.cl_ord_id_on_all_events:
            element["cl_ord_id"] = fill.cl_ord_id
        element.update(
            exec_id=fill.exec_id,
            exec_type="trade",
            trade_id=fill.trade_id,
            symbol=WS_SYMBOL,
            side=fill.side,
            last_qty=fill.qty,
            last_price=fill.price,
            liquidity_ind=fill.liquidity,
            cost=fill.cost,
            order_status=fill.order_status,
            order_type=fill.order_type,
            timestamp=rfc3339(fill.ts),
            fee_usd_equiv=fill.fee,
            fees=[{"asset": "USD", "qty": fill.fee}],
        )
        return element

    def filled(self, order: Order, ts: float) -> dict[str, Any]:
        element = {"timestamp": rfc3339(ts), "order_status": "filled", "exec_type": "filled",
                   "cum_qty": order.cum_qty, "cum_cost": order.cum_cost, "fee_usd_equiv": order.fee,
                   "avg_price": order.avg_price, "order_userref": order.userref, "order_id": order.order_id}
        return self._ids(order, element)

    def canceled(self, order: Order, ts: float, reason: str) -> dict[str, Any]:
        element = {"timestamp": rfc3339(ts), "order_status": "canceled", "exec_type": "canceled",
                   "cum_qty": order.cum_qty, "cum_cost": order.cum_cost, "fee_usd_equiv": order.fee,
                   "avg_price": order.avg_price, "order_userref": order.userref,
                   "cancel_reason": reason, "reason": reason, "order_id": order.order_id}
        return self._ids(order, element)

    def amended(self, order: Order, ts: float) -> dict[str, Any]:
        element: dict[str, Any] = {"timestamp": rfc3339(ts), "exec_type": "amended",
                                   "order_status": order.status, "cum_qty": order.cum_qty,
                                   "reason": "User requested", "amended": True, "order_qty": order.qty}
        if order.price is not None:
            element.update(limit_price=order.price, limit_price_type="static")
        element.update(order_userref=order.userref, order_id=order.order_id)
        return self._ids(order, element)
