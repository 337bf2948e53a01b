"""Kraken REST responses -> our records and messages (start-up and missed-fill replay only).

Pure like codec.py: REST numbers are strings and are read as Decimal. Every function takes the
`result` object of an envelope that `result_of` has already checked for errors.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from actors.messages import Candle, ExchangeStatus, Fill, InstrumentRules, OrderOpen, PriceTick
from gateway.kraken.codec import is_final
from gateway.kraken.wire import CodecError, dec, parse_ts

# Legacy REST asset ids -> WS v2 names. Unknown ids pass through unchanged.
REST_TO_WS_ASSET = {
    "XXDG": "DOGE",
    "XDG": "DOGE",
    "ZUSD": "USD",
    "XXBT": "BTC",
    "XBT": "BTC",
    "XETH": "ETH",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
}


class KrakenApiError(Exception):
    """A Kraken REST call failed. `errors` are Kraken's strings verbatim (e.g. EAPI:Invalid key)."""

    def __init__(self, method: str, errors: list[str]) -> None:
        self.method = method
        self.errors = list(errors)
        super().__init__(f"{method}: {', '.join(self.errors) or 'unknown error'}")


class FeeRates(msgspec.Struct, frozen=True, kw_only=True):
    """The account's fee rates for one pair, in percent (0.26 = 0.26 %)."""

    maker_pct: float
    taker_pct: float
    volume_30d_usd: float = 0.0


class RestOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One order from OpenOrders / QueryOrders."""

    order_id: str
    cl_ord_id: str | None
    userref: int
    side: str | None
    status: str
    order_qty: float
    limit_price: float
    cum_qty: float
    avg_price: float
    fee: float
    reason: str | None
    open_ts: float
    close_ts: float | None
    post_only: bool


class RestTrade(msgspec.Struct, frozen=True, kw_only=True):
    """One fill from TradesHistory (the trade txid is our exec id)."""

    exec_id: str
    order_id: str
    pair: str
    side: str | None
    price: Decimal
    qty: Decimal
    cost: Decimal
    fee: Decimal
    maker: bool
    ts: float
    trade_id: int | None


def result_of(method: str, body: Any) -> Any:
    """The `result` of a REST envelope; raises KrakenApiError when `error` is non-empty."""
    if not isinstance(body, dict):
        raise KrakenApiError(method, ["EGateway:response is not a JSON object"])
    errors = body.get("error") or []
    if not isinstance(errors, list):
        errors = [str(errors)]
    if errors:
        raise KrakenApiError(method, [str(e) for e in errors])
    if "result" not in body:
        raise KrakenApiError(method, ["EGateway:response has no result"])
    return body["result"]


def _f(value: Any, field: str) -> float:
    return float(dec(value, field))


def _single_pair(result: Any, pair: str | None) -> tuple[str, Any]:
    """Kraken keys results by the pair name it resolved; take the requested or the only one."""
    if not isinstance(result, dict) or not result:
        raise CodecError("empty pair result")
    if pair and pair in result:
        return pair, result[pair]
    keys = [k for k in result if k != "last"]
    if len(keys) != 1:
        raise CodecError(f"cannot tell which pair to use among {keys}")
    return keys[0], result[keys[0]]


def asset_pair_rules(result: Any, symbol: str, pair: str | None = None) -> InstrumentRules:
    """AssetPairs -> InstrumentRules (ordermin, costmin, pair/lot/cost decimals, status)."""
    _key, info = _single_pair(result, pair)
    try:
        return InstrumentRules(
            symbol=symbol,
            min_volume=_f(info["ordermin"], "ordermin"),
            min_cost_usd=_f(info.get("costmin", "0"), "costmin"),
            price_decimals=int(info["pair_decimals"]),
            volume_decimals=int(info["lot_decimals"]),
            cost_decimals=int(info.get("cost_decimals", 9)),
            status=str(info.get("status", "online")),
        )
    except (KeyError, TypeError) as exc:
        raise CodecError(f"AssetPairs: {exc!r}") from None


def fee_rates(result: Any, pair: str | None = None) -> FeeRates:
    """TradeVolume -> maker/taker percent for the pair (taker from `fees`, maker `fees_maker`)."""
    try:
        fees = result.get("fees") or {}
        makers = result.get("fees_maker") or {}
        _key, taker = _single_pair(fees, pair)
        maker = makers.get(_key) or taker
        return FeeRates(
            maker_pct=_f(maker["fee"], "fees_maker.fee"),
            taker_pct=_f(taker["fee"], "fees.fee"),
            volume_30d_usd=_f(result.get("volume", "0"), "volume"),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise CodecError(f"TradeVolume: {exc!r}") from None


def balances(result: Any) -> dict[str, float]:
    """Balance -> {WS asset name: total}; XXDG/ZUSD become DOGE/USD."""
    if not isinstance(result, dict):
        raise CodecError("Balance result is not an object")
    return {REST_TO_WS_ASSET.get(k, k): _f(v, k) for k, v in result.items()}


def ohlc(result: Any, symbol: str, interval_min: int, pair: str | None = None) -> tuple[list[Candle], int]:
    """OHLC -> (closed candles oldest first, `last` cursor).

    Kraken's last row is always the still-forming bar, so it is dropped; `last` goes back as
    `since` on the next call. Rows are [time, open, high, low, close, vwap, volume, count].
    """
    if not isinstance(result, dict) or "last" not in result:
        raise CodecError("OHLC result without last")
    rows = {k: v for k, v in result.items() if k != "last"}
    _key, data = _single_pair(rows, pair)
    candles = []
    try:
        for row in data[:-1]:
            candles.append(
                Candle(
                    symbol=symbol,
                    interval_min=interval_min,
                    begin_ts=float(row[0]),
                    open=_f(row[1], "open"),
                    high=_f(row[2], "high"),
                    low=_f(row[3], "low"),
                    close=_f(row[4], "close"),
                    vwap=_f(row[5], "vwap"),
                    volume=_f(row[6], "volume"),
                    trades=int(row[7]),
                    closed=True,
                )
            )
        return candles, int(result["last"])
    except (IndexError, TypeError, ValueError) as exc:
        raise CodecError(f"OHLC row: {exc!r}") from None


def orders(result: Any) -> list[RestOrder]:
    """QueryOrders result (txid -> info) -> records. OpenOrders: pass `result["open"]`."""
    if not isinstance(result, dict):
        raise CodecError("orders result is not an object")
    out = []
    try:
        for order_id, info in result.items():
            descr = info.get("descr") or {}
            close_ts = info.get("closetm")
            out.append(
                RestOrder(
                    order_id=order_id,
                    cl_ord_id=info.get("cl_ord_id") or None,
                    userref=int(info.get("userref") or 0),
                    side=descr.get("type") if descr.get("type") in ("buy", "sell") else None,
                    status=str(info.get("status", "")),
                    order_qty=_f(info["vol"], "vol"),
                    limit_price=_f(descr.get("price", "0"), "descr.price"),
                    cum_qty=_f(info.get("vol_exec", "0"), "vol_exec"),
                    avg_price=_f(info.get("price", "0"), "price"),
                    fee=_f(info.get("fee", "0"), "fee"),
                    reason=info.get("reason") or None,
                    open_ts=float(info.get("opentm") or 0.0),
                    close_ts=float(close_ts) if close_ts else None,
                    post_only="post" in str(info.get("oflags", "")).split(","),
                )
            )
    except (KeyError, TypeError, AttributeError) as exc:
        raise CodecError(f"order info: {exc!r}") from None
    return out


def open_orders(result: Any) -> list[RestOrder]:
    if not isinstance(result, dict):
        raise CodecError("OpenOrders result is not an object")
    return orders(result.get("open") or {})


def order_open(order: RestOrder) -> OrderOpen:
    """A resting REST order as the same message the executions snapshot produces."""
    return OrderOpen(
        order_id=order.order_id,
        cl_ord_id=order.cl_ord_id,
        side=order.side,  # type: ignore[arg-type]
        order_qty=order.order_qty,
        limit_price=order.limit_price,
        cum_qty=order.cum_qty,
        ts=order.open_ts,
        snapshot=True,
    )


def trades(result: Any) -> tuple[list[RestTrade], int]:
    """TradesHistory -> (trades as listed, total count)."""
    if not isinstance(result, dict):
        raise CodecError("TradesHistory result is not an object")
    out = []
    try:
        for exec_id, t in (result.get("trades") or {}).items():
            out.append(
                RestTrade(
                    exec_id=exec_id,
                    order_id=str(t["ordertxid"]),
                    pair=str(t.get("pair", "")),
                    side=t.get("type") if t.get("type") in ("buy", "sell") else None,
                    price=dec(t["price"], "price"),
                    qty=dec(t["vol"], "vol"),
                    cost=dec(t.get("cost", "0"), "cost"),
                    fee=dec(t.get("fee", "0"), "fee"),
                    maker=bool(t.get("maker", False)),
                    ts=float(t["time"]),
                    trade_id=t.get("trade_id") if isinstance(t.get("trade_id"), int) else None,
                )
            )
        return out, int(result.get("count", len(out)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CodecError(f"TradesHistory: {exc!r}") from None


def replay_fills(trade_list: list[RestTrade], known: dict[str, RestOrder]) -> list[Fill]:
    """Missed-fill replay: TradesHistory rows -> Fill(snapshot=True), oldest first.

    cum_qty is rebuilt backwards from the order's current `vol_exec` (QueryOrders): the newest
    trade's cum_qty is vol_exec, each earlier one subtracts the later fills. That is exact when
    the trade list reaches the present, which replay does. For an order we could not query,
    cum_qty is the running sum inside the window (a lower bound) and `final` stays False.
    """
    by_order: dict[str, list[RestTrade]] = {}
    for t in sorted(trade_list, key=lambda t: (t.ts, t.trade_id or 0)):
        by_order.setdefault(t.order_id, []).append(t)
    cum_of: dict[str, Decimal] = {}
    for order_id, items in by_order.items():
        order = known.get(order_id)
        if order is not None:
            cum = Decimal(str(order.cum_qty))
            for t in reversed(items):
                cum_of[t.exec_id] = cum
                cum -= t.qty
        else:
            running = Decimal(0)
            for t in items:
                running += t.qty
                cum_of[t.exec_id] = running
    fills = []
    for t in sorted(trade_list, key=lambda t: (t.ts, t.trade_id or 0)):
        order = known.get(t.order_id)
        order_qty = Decimal(str(order.order_qty)) if order is not None else None
        cum = cum_of[t.exec_id]
        fills.append(
            Fill(
                exec_id=t.exec_id,
                order_id=t.order_id,
                cl_ord_id=order.cl_ord_id if order is not None else None,
                side=t.side,  # type: ignore[arg-type]
                last_qty=float(t.qty),
                last_price=float(t.price),
                cum_qty=float(cum),
                order_qty=float(order_qty) if order_qty is not None else None,
                fee=float(t.fee),
                fee_asset="USD",
                liquidity="m" if t.maker else "t",
                final=order is not None and is_final(cum, order_qty),
                ts=t.ts,
                snapshot=True,
            )
        )
    return fills


def ticker(result: Any, symbol: str, now: float, pair: str | None = None) -> PriceTick:
    """Ticker -> PriceTick (a = [ask, ...], b = [bid, ...], c = [last, volume])."""
    _key, info = _single_pair(result, pair)
    try:
        return PriceTick(
            symbol=symbol,
            bid=_f(info["b"][0], "b"),
            ask=_f(info["a"][0], "a"),
            last=_f(info["c"][0], "c"),
            ts=now,
        )
    except (KeyError, IndexError, TypeError) as exc:
        raise CodecError(f"Ticker: {exc!r}") from None


def system_status(result: Any, now: float) -> ExchangeStatus:
    try:
        return ExchangeStatus(system=str(result["status"]), ts=parse_ts(result.get("timestamp"), now))
    except (KeyError, TypeError) as exc:
        raise CodecError(f"SystemStatus: {exc!r}") from None


def server_time(result: Any) -> float:
    try:
        return float(result["unixtime"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CodecError(f"Time: {exc!r}") from None


def ws_token(result: Any) -> str:
    token = result.get("token") if isinstance(result, dict) else None
    if not isinstance(token, str) or not token:
        raise CodecError("GetWebSocketsToken without token")
    return token
