"""Kraken WebSocket v2 wire format <-> our protocol messages (actors/messages.py).

Pure and stateless: no sockets, no clock reads (callers pass `now` for messages that carry no
exchange time), no routing state. Numbers are parsed as `Decimal` so sums and comparisons
(fees, cum_qty >= order_qty) are exact; they become floats only when a message is built.

Anything that does not fit the documented shapes raises `CodecError`; the connection layer logs,
counts and skips such frames.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from actors.messages import (
    AmendAcked,
    AmendOrder,
    BalanceUpdate,
    CancelAcked,
    CancelOrder,
    Candle,
    ExchangeStatus,
    Fill,
    InstrumentRules,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderOpen,
    OrderRejected,
    PlaceOrder,
    PriceTick,
)
from gateway.kraken.wire import CodecError, dec, num, parse, parse_ts
from gateway.kraken.wire import dumps as dumps  # re-exported: requests are encoded here too

# --------------------------------------------------------------------------- internal records
# These never leave the gateway: they drive its connection logic, not the actor protocol.


class Response(msgspec.Struct, frozen=True, kw_only=True):
    """A method response (`{"method":..., "success":..., "result"|"error":...}`) or a pong."""

    method: str
    req_id: int | None
    success: bool
    result: Any = None
    error: str | None = None
    symbol: str | None = None
    ts: float = 0.0


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


class ChannelFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One decoded channel push: its events in wire order."""

    channel: str
    kind: str  # "snapshot" | "update" | "" (heartbeat)
    sequence: int | None
    events: list[Any]


def _side(value: Any) -> Any:
    return value if value in ("buy", "sell") else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- top-level dispatch


def decode_frame(raw: str | bytes, now: float) -> ChannelFrame | Response:
    """Classify and decode one frame: a channel push or a method response."""
    return decode_object(parse(raw), now)


def decode_object(msg: dict[str, Any], now: float) -> ChannelFrame | Response:
    channel = msg.get("channel")
    if isinstance(channel, str):
        return decode_channel(msg, now)
    if isinstance(msg.get("method"), str):
        return decode_response(msg, now)
    error = msg.get("error", msg.get("Error"))
    if isinstance(error, str):
        # Bare error frames such as {"Error": "Exceeded msg rate"} (reported by a third party).
        return Response(method="error", req_id=None, success=False, error=error, ts=now)
    raise CodecError("frame has neither channel nor method")


def decode_response(msg: dict[str, Any], now: float) -> Response:
    method = msg["method"]
    req_id = msg.get("req_id")
    if req_id is not None and (isinstance(req_id, bool) or not isinstance(req_id, int)):
        raise CodecError(f"bad req_id {req_id!r}")
    ts = parse_ts(msg.get("time_out") or msg.get("time_in"), now)
    if method == "pong":
        return Response(method=method, req_id=req_id, success=True, ts=ts)
    success = msg.get("success")
    if not isinstance(success, bool):
        raise CodecError(f"{method} response without success flag")
    error = msg.get("error")
    if not success and not isinstance(error, str):
        error = str(error) if error is not None else "unknown error"
    result = msg.get("result")
    if result is None and "orders_cancelled" in msg:
        # Observed batch_cancel shape: top-level count instead of result.count.
        result = {"count": msg["orders_cancelled"]}
    return Response(
        method=method,
        req_id=req_id,
        success=success,
        result=result,
        error=error if not success else None,
        symbol=_str_or_none(msg.get("symbol")),
        ts=ts,
    )


def decode_channel(msg: dict[str, Any], now: float) -> ChannelFrame:
    channel = msg["channel"]
    kind = msg.get("type", "")
    sequence = msg.get("sequence")
    if sequence is not None and not isinstance(sequence, int):
        raise CodecError(f"bad sequence {sequence!r}")
    data = msg.get("data")
    try:
        if channel == "heartbeat":
            events: list[Any] = []
        elif channel == "executions":
            events = []
            for element in _array(data):
                events.extend(decode_execution(element, kind == "snapshot", now))
        elif channel == "ticker":
            events = [decode_ticker(element, now) for element in _array(data)]
        elif channel == "ohlc":
            events = [decode_candle(element) for element in _array(data)]
        elif channel == "balances":
            events = [decode_balances(_array(data), kind == "snapshot", now)]
        elif channel == "status":
            events = [decode_status(element, now) for element in _array(data)]
        elif channel == "instrument":
            if not isinstance(data, dict):
                raise CodecError("instrument data is not an object")
            events = [decode_instrument_pair(pair) for pair in _array(data.get("pairs", []))]
        else:
            # trade/book/level3: not subscribed by this gateway; ignore rather than fail.
            events = []
    except CodecError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, ArithmeticError) as exc:
        # e.g. int("x") for an interval or a precision: a bad frame, not a gateway bug.
        raise CodecError(f"{channel}: malformed element ({exc!r})") from None
    return ChannelFrame(channel=channel, kind=kind, sequence=sequence, events=events)


def _array(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise CodecError("data is not an array of objects")
    return data


# --------------------------------------------------------------------------- public channels


def decode_ticker(el: dict[str, Any], now: float) -> PriceTick:
    return PriceTick(
        symbol=el["symbol"],
        bid=num(el, "bid", 0.0),
        ask=num(el, "ask", 0.0),
        last=num(el, "last", 0.0),
        ts=parse_ts(el.get("timestamp"), now),
    )


def decode_candle(el: dict[str, Any]) -> Candle:
    """An OHLC element as a forming bar (closed=False); closing is the caller's job."""
    begin = el.get("interval_begin")
    if not begin:
        raise CodecError("ohlc element without interval_begin")
    trades = el.get("trades", 0)
    return Candle(
        symbol=el["symbol"],
        interval_min=int(el["interval"]),
        begin_ts=parse_ts(begin, 0.0),
        open=num(el, "open"),
        high=num(el, "high"),
        low=num(el, "low"),
        close=num(el, "close"),
        volume=num(el, "volume", 0.0),
        vwap=num(el, "vwap", 0.0),
        trades=int(trades) if isinstance(trades, int) else 0,
        closed=False,
    )


def decode_status(el: dict[str, Any], now: float) -> ExchangeStatus:
    connection_id = el.get("connection_id", "")
    return ExchangeStatus(
        system=el["system"],
        api_version=str(el.get("api_version", "v2")),
        # Exceeds int64; kept as text so no consumer truncates it.
        connection_id=str(connection_id),
        version=str(el.get("version", "")),
        ts=now,
    )


def decode_instrument_pair(pair: dict[str, Any]) -> InstrumentRules:
    return InstrumentRules(
        symbol=pair["symbol"],
        min_volume=num(pair, "qty_min"),
        min_cost_usd=num(pair, "cost_min", 0.0),
        price_decimals=int(pair["price_precision"]),
        volume_decimals=int(pair["qty_precision"]),
        cost_decimals=int(pair.get("cost_precision", 9)),
        status=str(pair.get("status", "online")),
    )


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


# --------------------------------------------------------------------------- method outcomes


def add_order_outcome(resp: Response, cl_ord_id: str) -> OrderAccepted | OrderRejected:
    """add_order response -> accepted / rejected. `cl_ord_id` is the one we sent."""
    if resp.success:
        result = resp.result if isinstance(resp.result, dict) else {}
        order_id = result.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            raise CodecError("add_order success without order_id")
        return OrderAccepted(
            cl_ord_id=_str_or_none(result.get("cl_ord_id")) or cl_ord_id,
            order_id=order_id,
            ts=resp.ts,
            req_id=resp.req_id,
        )
    return OrderRejected(cl_ord_id=cl_ord_id, error=resp.error or "", ts=resp.ts, req_id=resp.req_id)


def cancel_order_outcome(resp: Response, cl_ord_id: str | None, order_id: str | None) -> CancelAcked | OrderRejected:
    if resp.success:
        result = resp.result if isinstance(resp.result, dict) else {}
        return CancelAcked(
            order_id=_str_or_none(result.get("order_id")) or order_id,
            cl_ord_id=_str_or_none(result.get("cl_ord_id")) or cl_ord_id,
            ts=resp.ts,
            req_id=resp.req_id,
        )
    return OrderRejected(
        cl_ord_id=cl_ord_id or "", error=resp.error or "", ts=resp.ts,
        request="cancel_order", order_id=order_id, req_id=resp.req_id,
    )


def amend_order_outcome(resp: Response, cl_ord_id: str | None, order_id: str | None) -> AmendAcked | OrderRejected:
    if resp.success:
        result = resp.result if isinstance(resp.result, dict) else {}
        return AmendAcked(
            amend_id=str(result.get("amend_id", "")),
            order_id=_str_or_none(result.get("order_id")) or order_id,
            cl_ord_id=_str_or_none(result.get("cl_ord_id")) or cl_ord_id,
            ts=resp.ts,
            req_id=resp.req_id,
        )
    return OrderRejected(
        cl_ord_id=cl_ord_id or "", error=resp.error or "", ts=resp.ts,
        request="amend_order", order_id=order_id, req_id=resp.req_id,
    )


# --------------------------------------------------------------------------- request encoders


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
