"""Kraken WebSocket v2 request encoding: order methods, the dead man's switch, ping and subscriptions.

Part of the codec (gateway/kraken/codec.py re-exports every name here). Each function builds the
JSON-ready dict of one request; `dumps` (gateway/kraken/wire.py) turns it into the frame sent.
Pure: no sockets, no clock, no routing state.
"""

from __future__ import annotations

from typing import Any

from actors.messages import AmendOrder, CancelOrder, PlaceOrder


def add_order_request(
    intent: PlaceOrder, token: str, req_id: int, *, price_decimals: int = 7, volume_decimals: int = 8
) -> dict[str, Any]:
    # round() strips float noise (0.15230000000000002) so the JSON number is the intended one.
    return {
        "method": "add_order",
        "params": {
            "order_type": "limit",
            "side": intent.side,
            "order_qty": round(intent.volume, volume_decimals),
            "symbol": intent.symbol,
            "limit_price": round(intent.price, price_decimals),
            "time_in_force": "gtc",
            "post_only": intent.post_only,
            "cl_ord_id": intent.cl_ord_id,
            "token": token,
        },
        "req_id": req_id,
    }


def cancel_order_request(intent: CancelOrder, token: str, req_id: int) -> dict[str, Any]:
    """Cancel by exchange order id when known (always unambiguous), else by cl_ord_id."""
    if intent.order_id:
        params: dict[str, Any] = {"order_id": [intent.order_id]}
    elif intent.cl_ord_id:
        params = {"cl_ord_id": [intent.cl_ord_id]}
    else:
        raise ValueError("CancelOrder needs order_id or cl_ord_id")
    params["token"] = token
    return {"method": "cancel_order", "params": params, "req_id": req_id}


def amend_order_request(
    intent: AmendOrder,
    token: str,
    req_id: int,
    *,
    known_qty: float | None = None,
    price_decimals: int = 7,
    volume_decimals: int = 8,
) -> dict[str, Any]:
    """amend_order; `order_qty` is documented as required, so the known quantity is resent."""
    if intent.order_id:
        params: dict[str, Any] = {"order_id": intent.order_id}
    elif intent.cl_ord_id:
        params = {"cl_ord_id": intent.cl_ord_id}
    else:
        raise ValueError("AmendOrder needs order_id or cl_ord_id")
    if intent.price is not None:
        params["limit_price"] = round(intent.price, price_decimals)
    qty = intent.volume if intent.volume is not None else known_qty
    if qty is not None:
        params["order_qty"] = round(qty, volume_decimals)
    params["post_only"] = intent.post_only
    params["token"] = token
    return {"method": "amend_order", "params": params, "req_id": req_id}


def cancel_all_orders_after_request(timeout_s: int, token: str, req_id: int) -> dict[str, Any]:
    return {"method": "cancel_all_orders_after", "params": {"timeout": int(timeout_s), "token": token}, "req_id": req_id}


def ping_request(req_id: int) -> dict[str, Any]:
    return {"method": "ping", "req_id": req_id}


def ticker_subscribe(symbol: str, event_trigger: str, req_id: int) -> dict[str, Any]:
    params = {"channel": "ticker", "symbol": [symbol], "event_trigger": event_trigger, "snapshot": True}
    return {"method": "subscribe", "params": params, "req_id": req_id}


def ohlc_subscribe(symbol: str, interval_min: int, req_id: int) -> dict[str, Any]:
    params = {"channel": "ohlc", "symbol": [symbol], "interval": interval_min, "snapshot": True}
    return {"method": "subscribe", "params": params, "req_id": req_id}


def instrument_subscribe(req_id: int) -> dict[str, Any]:
    return {"method": "subscribe", "params": {"channel": "instrument", "snapshot": True}, "req_id": req_id}


def executions_subscribe(token: str, req_id: int) -> dict[str, Any]:
    params = {
        "channel": "executions",
        "token": token,
        "snap_orders": True,
        "snap_trades": True,
        "order_status": True,
    }
    return {"method": "subscribe", "params": params, "req_id": req_id}


def balances_subscribe(token: str, req_id: int) -> dict[str, Any]:
    return {"method": "subscribe", "params": {"channel": "balances", "token": token, "snapshot": True}, "req_id": req_id}
