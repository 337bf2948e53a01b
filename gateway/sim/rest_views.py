"""REST renderings of simulator state, shaped like the fixtures `rest_*.json`.

REST numbers are strings with the pair's precision (price 7, volume 8, cost/fee 9 decimals);
times are unix floats; ids and counts are plain JSON values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.market import REST_PAIR
from gateway.sim.book import level_qty
from gateway.sim.marketdata import Bar, MarketData
from gateway.sim.orders import Fill, Order
from gateway.sim.wire import fmt

_REST_STATUS = {"pending_new": "pending", "new": "open", "partially_filled": "open", "filled": "closed",
                "canceled": "canceled"}


def describe(side: str, order_type: str, qty: Decimal, price: Decimal | None) -> str:
    text = f"{side} {fmt(qty, 8)} {REST_PAIR} @ "
    return text + (f"limit {fmt(price, 7)}" if price is not None else "market")


def order_info(order: Order, closed_view: bool, with_trades: bool = False) -> dict[str, Any]:
    info: dict[str, Any] = {"refid": None, "userref": order.userref}
    if order.cl_ord_id is not None:
        info["cl_ord_id"] = order.cl_ord_id
    info["status"] = _REST_STATUS[order.status]
    if closed_view:
        info["reason"] = order.reason
    info["opentm"] = round(order.created, 4)
    if closed_view and order.closed_at is not None:
        info["closetm"] = round(order.closed_at, 4)
    misc = []
    if order.is_open and order.cum_qty > 0:
        misc.append("partial")
    if order.amended:
        misc.append("amended")
    info.update(
        starttm=0,
        expiretm=0,
        descr={
            "pair": REST_PAIR,
            "type": order.side,
            "ordertype": order.order_type,
            "price": fmt(order.price, 7) if order.price is not None else "0",
            "price2": "0",
            "leverage": "none",
            "order": describe(order.side, order.order_type, order.qty, order.price),
            "close": "",
        },
        vol=fmt(order.qty, 8),
        vol_exec=fmt(order.cum_qty, 8),
        cost=fmt(order.cum_cost, 9),
        fee=fmt(order.fee, 9),
        price=fmt(order.avg_price, 7),
        stopprice=fmt(0, 7),
        limitprice=fmt(0, 7),
        misc=",".join(misc),
        oflags="fciq,post" if order.post_only else "fciq",
    )
    if with_trades and order.trade_ids:
        info["trades"] = list(order.trade_ids)
    return info


def trade_info(fill: Fill) -> dict[str, Any]:
    return {
        "ordertxid": fill.order_id,
        "postxid": fill.postxid,
        "pair": REST_PAIR,
        "time": round(fill.ts, 4),
        "type": fill.side,
        "ordertype": fill.order_type,
        "price": fmt(fill.price, 7),
        "cost": fmt(fill.cost, 9),
        "fee": fmt(fill.fee, 9),
        "vol": fmt(fill.qty, 8),
        "margin": fmt(0, 9),
        "leverage": "0",
        "misc": "",
        "trade_id": fill.trade_id,
        "maker": fill.liquidity == "m",
    }


def _ohlc_row(bar: Bar) -> list[Any]:
    # No-trade bars show vwap "0.0" (observed), traded ones the pair precision.
    vwap = fmt(bar.vwap, 7) if bar.volume > 0 else "0.0"
    return [bar.begin, fmt(bar.open, 7), fmt(bar.high, 7), fmt(bar.low, 7), fmt(bar.close, 7), vwap,
            fmt(bar.volume, 8), bar.trades]


def ohlc_rows(market: MarketData, interval: int, since: int | None, limit: int = 720) -> tuple[list[list[Any]], int]:
    """Rows (gap-filled with flat no-trade bars, as Kraken lists them) and the `last` value."""
    span = interval * 60
    bars = market.ohlc_bars(interval)
    rows: list[list[Any]] = []
    for bar in bars:
        if rows:
            prev_time, prev_close = rows[-1][0], rows[-1][4]
            # Bounded: never fill more than `limit` bars for one gap.
            missing = min((bar.begin - prev_time) // span - 1, limit)
            for k in range(1, int(missing) + 1):
                rows.append([prev_time + k * span, prev_close, prev_close, prev_close, prev_close, "0.0",
                             fmt(0, 8), 0])
        rows.append(_ohlc_row(bar))
    rows = rows[-limit:]
    last = rows[-2][0] if len(rows) >= 2 else (rows[-1][0] - span if rows else 0)
    if since is not None and rows:
        rows = [r for r in rows[:-1] if r[0] > since] + [rows[-1]]
    return rows, last


def ticker_info(market: MarketData) -> dict[str, Any]:
    engine = market.engine
    volume, vwap, low, high, trades, _ = market.rolling_24h()
    today = market.today
    bid = engine.bid or Decimal(0)
    ask = engine.ask or Decimal(0)
    tick = engine.tick
    ask_qty = level_qty(int(ask / tick)) if ask > 0 else Decimal(0)
    bid_qty = level_qty(int(bid / tick)) if bid > 0 else Decimal(0)
    last = engine.price or Decimal(0)
    return {
        "a": [fmt(ask, 7), str(int(ask_qty)), fmt(ask_qty, 3)],
        "b": [fmt(bid, 7), str(int(bid_qty)), fmt(bid_qty, 3)],
        "c": [fmt(last, 7), fmt(market.last_trade_qty, 8)],
        "v": [fmt(today.volume if today else 0, 8), fmt(volume, 8)],
        "p": [fmt(today.vwap if today else 0, 7), fmt(vwap, 7)],
        "t": [today.trades if today else 0, trades],
        "l": [fmt(today.low if today else 0, 7), fmt(low, 7)],
        "h": [fmt(today.high if today else 0, 7), fmt(high, 7)],
        "o": fmt(today.open if today else 0, 7),
    }
