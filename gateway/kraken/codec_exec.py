"""Kraken WebSocket v2 private-channel decoding: `executions` and `balances` elements -> messages.

Part of the codec (gateway/kraken/codec.py re-exports every name here). Pure and stateless like
the rest of it: numbers are read as `Decimal`, floats only when a message is built, and shapes
that do not fit raise `CodecError`. `OrderPending` is a gateway-internal record: a `pending_new`
execution that drives order-ownership bookkeeping and never reaches the actor protocol.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from actors.messages import BalanceUpdate, Fill, OrderAmended, OrderCanceled, OrderFilled, OrderOpen
from gateway.kraken.wire import CodecError, dec, num, parse_ts


class OrderPending(msgspec.Struct, frozen=True, kw_only=True):
    """A `pending_new` execution: the full order description, before the order is live.

    Not forwarded (the order is not resting yet); the gateway learns order_id -> owner from it.
    """

    order_id: str
    cl_ord_id: str | None
    side: str | None
    order_qty: float
    limit_price: float
    ts: float



def _side(value: Any) -> Any:
    return value if value in ("buy", "sell") else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- private channels


def decode_balances(data: list[dict[str, Any]], snapshot: bool, now: float) -> BalanceUpdate:
    """Snapshot: every asset's total. Update: each ledger entry's new `balance` (last one wins)."""
    balances: dict[str, float] = {}
    ts = now
    for el in data:
        balances[el["asset"]] = num(el, "balance")
        if el.get("timestamp"):
            ts = parse_ts(el["timestamp"], now)
    return BalanceUpdate(balances=balances, ts=ts, snapshot=snapshot)


def decode_execution(el: dict[str, Any], snapshot: bool, now: float) -> list[Any]:
    """One executions element -> zero or one message (a list so callers can extend)."""
    exec_type = el.get("exec_type")
    order_id = el.get("order_id")
    if not isinstance(exec_type, str) or not isinstance(order_id, str) or not order_id:
        raise CodecError("execution without exec_type/order_id")
    ts = parse_ts(el.get("timestamp"), now)
    cl_ord_id = _str_or_none(el.get("cl_ord_id"))
    if exec_type == "trade":
        return [decode_trade(el, order_id, cl_ord_id, snapshot, ts)]
    if snapshot:
        # Outside trades, the snapshot lists open orders; their exec_type is not confirmed
        # (`new` or `pending_new`), so any non-trade snapshot element is a resting order.
        return [_order_open(el, order_id, cl_ord_id, True, ts)]
    if exec_type == "pending_new":
        return [
            OrderPending(
                order_id=order_id,
                cl_ord_id=cl_ord_id,
                side=_side(el.get("side")),
                order_qty=num(el, "order_qty", 0.0),
                limit_price=num(el, "limit_price", 0.0),
                ts=ts,
            )
        ]
    if exec_type == "new":
        return [_order_open(el, order_id, cl_ord_id, False, ts)]
    if exec_type == "filled":
        return [
            OrderFilled(
                order_id=order_id,
                cl_ord_id=cl_ord_id,
                cum_qty=num(el, "cum_qty", 0.0),
                avg_price=num(el, "avg_price", 0.0),
                ts=ts,
            )
        ]
    if exec_type in ("canceled", "expired"):
        reason = el.get("reason") or el.get("cancel_reason") or exec_type
        return [
            OrderCanceled(
                order_id=order_id,
                cl_ord_id=cl_ord_id,
                cum_qty=num(el, "cum_qty", 0.0),
                reason=str(reason),
                ts=ts,
                expired=exec_type == "expired",
            )
        ]
    if exec_type in ("amended", "restated"):
        # restated = an engine-side change (e.g. quantity reduced): same consequence for us.
        return [
            OrderAmended(
                order_id=order_id,
                cl_ord_id=cl_ord_id,
                order_qty=num(el, "order_qty") if el.get("order_qty") is not None else None,
                limit_price=num(el, "limit_price") if el.get("limit_price") is not None else None,
                ts=ts,
            )
        ]
    # `status`, `iceberg_refill`: nothing our limit orders need to react to.
    return []


def _order_open(el: dict[str, Any], order_id: str, cl_ord_id: str | None, snapshot: bool, ts: float) -> OrderOpen:
    # Sparse `new` events carry no qty/price: 0.0 marks "unknown" for the gateway to fill in.
    return OrderOpen(
        order_id=order_id,
        cl_ord_id=cl_ord_id,
        side=_side(el.get("side")),
        order_qty=num(el, "order_qty", 0.0),
        limit_price=num(el, "limit_price", 0.0),
        cum_qty=num(el, "cum_qty", 0.0),
        ts=ts,
        snapshot=snapshot,
    )


def decode_trade(el: dict[str, Any], order_id: str, cl_ord_id: str | None, snapshot: bool, ts: float) -> Fill:
    exec_id = el.get("exec_id")
    if not isinstance(exec_id, str) or not exec_id:
        raise CodecError("trade without exec_id")
    last_qty = dec(el.get("last_qty"), "last_qty")
    last_price = dec(el.get("last_price"), "last_price")
    fees = el.get("fees") or []
    if fees:
        fee = sum((dec(f.get("qty"), "fees.qty") for f in fees), Decimal(0))
        fee_asset = str(fees[0].get("asset", "USD"))
    else:
        fee = dec(el.get("fee_usd_equiv", 0), "fee_usd_equiv")
        fee_asset = "USD"
    # Snapshot trade entries carry no cum_qty (recorded); 0.0 then means "not reported".
    cum_qty = dec(el["cum_qty"], "cum_qty") if el.get("cum_qty") is not None else None
    order_qty = dec(el["order_qty"], "order_qty") if el.get("order_qty") is not None else None
    liquidity = el.get("liquidity_ind")
    return Fill(
        exec_id=exec_id,
        order_id=order_id,
        cl_ord_id=cl_ord_id,
        side=_side(el.get("side")),
        last_qty=float(last_qty),
        last_price=float(last_price),
        cum_qty=float(cum_qty) if cum_qty is not None else 0.0,
        order_qty=float(order_qty) if order_qty is not None else None,
        fee=float(fee),
        fee_asset=fee_asset,
        liquidity=liquidity if liquidity in ("m", "t") else "t",
        final=is_final(cum_qty, order_qty, el.get("order_status")),
        ts=ts,
        snapshot=snapshot,
    )


def is_final(cum_qty: Decimal | float | None, order_qty: Decimal | float | None, status: Any = None) -> bool:
    """A fill completes its order when cum_qty reaches order_qty, or the engine says filled.

    The status string alone is not trusted for "not final": a completing trade may still say
    partially_filled (docs example), with a separate `filled` event following.
    """
    if status == "filled":
        return True
    return cum_qty is not None and order_qty is not None and order_qty > 0 and cum_qty >= order_qty
