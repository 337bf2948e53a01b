"""Kraken WebSocket v2 market-data decoding: ticker, ohlc, status and instrument elements -> messages.

Part of the codec (gateway/kraken/codec.py re-exports every name here). Pure and stateless:
callers pass `now` for elements that carry no exchange time; shapes that do not fit raise
`CodecError` (or a KeyError/ValueError that the channel dispatcher turns into one).
"""

from __future__ import annotations

from typing import Any

from actors.messages import Candle, ExchangeStatus, InstrumentRules, PriceTick
from gateway.kraken.wire import CodecError, num, parse_ts


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
