"""Kraken WebSocket v2 wire format <-> our protocol messages (actors/messages.py): the entry point.

Pure and stateless: no sockets, no clock reads (callers pass `now` for messages that carry no
exchange time), no routing state. Numbers are parsed as `Decimal` so sums and comparisons
(fees, cum_qty >= order_qty) are exact; they become floats only when a message is built.

Anything that does not fit the documented shapes raises `CodecError`; the connection layer logs,
counts and skips such frames.

This module classifies frames (channel push vs method response), dispatches channel elements,
and turns order-method responses into outcomes. The element decoders and request encoders live
in one module per job, and every name is re-exported here, so callers keep importing `codec`:
  - gateway/kraken/codec_exec.py      executions and balances (private channels)
  - gateway/kraken/codec_market.py    ticker, ohlc, status, instrument (public channels)
  - gateway/kraken/codec_requests.py  request encoders (orders, dead man's switch, subscriptions)
"""

from __future__ import annotations

from typing import Any

import msgspec

from actors.messages import AmendAcked, CancelAcked, OrderAccepted, OrderRejected
from gateway.kraken.codec_exec import (
    OrderPending,
    _str_or_none,
    decode_balances,
    decode_execution,
    decode_trade,
    is_final,
)
from gateway.kraken.codec_market import decode_candle, decode_instrument_pair, decode_status, decode_ticker
from gateway.kraken.codec_requests import (
    add_order_request,
    amend_order_request,
    balances_subscribe,
    cancel_all_orders_after_request,
    cancel_order_request,
    executions_subscribe,
    instrument_subscribe,
    ohlc_subscribe,
    ping_request,
    ticker_subscribe,
)
from gateway.kraken.wire import CodecError, dec, num, parse, parse_ts
from gateway.kraken.wire import dumps as dumps  # re-exported: requests are encoded here too

__all__ = [  # the codec's public names, wherever they are defined
    "ChannelFrame", "CodecError", "OrderPending", "Response", "add_order_outcome", "add_order_request",
    "amend_order_outcome", "amend_order_request", "balances_subscribe", "cancel_all_orders_after_request",
    "cancel_order_outcome", "cancel_order_request", "dec", "decode_balances", "decode_candle",
    "decode_channel", "decode_execution", "decode_frame", "decode_instrument_pair", "decode_object",
    "decode_response", "decode_status", "decode_ticker", "decode_trade", "dumps", "executions_subscribe",
    "instrument_subscribe", "is_final", "num", "ohlc_subscribe", "parse", "parse_ts", "ping_request",
    "ticker_subscribe",
]

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



class ChannelFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One decoded channel push: its events in wire order."""

    channel: str
    kind: str  # "snapshot" | "update" | "" (heartbeat)
    sequence: int | None
    events: list[Any]



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
