"""Subscribe / unsubscribe handling and snapshots for every WS v2 channel the simulator serves.

Public: `ticker`, `ohlc`, `trade`, `book`, `instrument`. Private: `executions`, `balances`.
Acks are one per symbol (kraken-api.md §1.3) with `result` keys in Kraken's alphabetical order;
the snapshot of a channel follows its ack.
"""

from __future__ import annotations

from typing import Any

from core.market import WS_SYMBOL
from gateway.sim import book, refdata
from gateway.sim.connection import Connection, Subscription
from gateway.sim.marketdata import OHLC_INTERVALS
from gateway.sim.venue import Venue
from gateway.sim.wire import rfc3339

PUBLIC_CHANNELS = frozenset({"ticker", "ohlc", "trade", "book", "instrument"})
PRIVATE_CHANNELS = frozenset({"executions", "balances"})
SYMBOL_CHANNELS = frozenset({"ticker", "ohlc", "trade", "book"})
BOOK_DEPTHS = (10, 25, 100, 500, 1000)
E_ARGS = "EGeneral:Invalid arguments"
E_NOT_SUBSCRIBED = "Subscription Not Found"
OHLC_WARNING = "timestamp is deprecated, use interval_begin"
INSTRUMENT_WARNING = "tick_size is deprecated, use price_increment"


def status_message(system: str, connection_id: int) -> dict[str, Any]:
    return {"channel": "status", "data": [refdata.status_data(system, connection_id)], "type": "update"}


def _ns(ts: float) -> str:
    return rfc3339(ts)[:-1] + "000Z"


def _levels(venue: Venue, depth: int) -> tuple[list[book.Level], list[book.Level]]:
    engine = venue.engine
    if engine.bid is None or engine.ask is None:
        return [], []
    return book.build_levels(engine.bid, engine.ask, engine.tick, depth)


def _checksum(venue: Venue, bids: list[book.Level], asks: list[book.Level]) -> int:
    """Kraken's book checksum, formatted with the pair's precision (what the client reads from `instrument`)."""
    return book.checksum(bids, asks, venue.engine.price_decimals, venue.engine.qty_decimals)


def book_update(venue: Venue, sub: Subscription) -> dict[str, Any] | None:
    bids, asks = _levels(venue, sub.params["depth"])
    old_bids, old_asks = sub.book or ([], [])
    bid_changes = book.diff_side(old_bids, bids, descending=True)
    ask_changes = book.diff_side(old_asks, asks, descending=False)
    if not bid_changes and not ask_changes:
        return None
    sub.book = (bids, asks)
    element = {"symbol": WS_SYMBOL, "bids": book.levels_json(bid_changes), "asks": book.levels_json(ask_changes),
               "checksum": _checksum(venue, bids, asks), "timestamp": rfc3339(venue.now)}
    return {"channel": "book", "type": "update", "data": [element]}


class ChannelHandler:
    """Handles one subscribe/unsubscribe request; `messages` collects the snapshots to send after the acks."""

    def __init__(self, venue: Venue, conn: Connection) -> None:
        self.venue = venue
        self.conn = conn
        self.messages: list[dict[str, Any]] = []

    def handle(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        channel = params.get("channel")
        if channel not in PUBLIC_CHANNELS | PRIVATE_CHANNELS:
            return [{"error": f"{E_ARGS}:channel"}]
        if channel not in SYMBOL_CHANNELS:
            return [self._one(method, channel, None, params)]
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            return [{"error": f"{E_ARGS}:symbol"}]
        replies = []
        for symbol in symbols:
            if symbol != WS_SYMBOL:
                replies.append({"error": f"Currency pair not supported {symbol}", "extra": {"symbol": symbol}})
            else:
                replies.append(self._one(method, channel, symbol, params))
        return replies

    def _key(self, channel: str, params: dict[str, Any]) -> tuple[str, int] | str:
        if channel == "ohlc":
            interval = params.get("interval", 1)
            if interval not in OHLC_INTERVALS:
                return f"{E_ARGS}:interval"
            return channel, interval
        if channel == "book":
            depth = params.get("depth", 10)
            if depth not in BOOK_DEPTHS:
                return f"{E_ARGS}:depth"
        return channel, 0

    def _one(self, method: str, channel: str, symbol: str | None, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(channel, params)
        if isinstance(key, str):
            return {"error": key}
        if method == "unsubscribe":
            sub = self.conn.subs.pop(key, None)
            if sub is None:
                return {"error": E_NOT_SUBSCRIBED}
            result: dict[str, Any] = {"channel": channel}
            if symbol is not None:
                result["symbol"] = symbol
            if channel == "ohlc":
                result["interval"] = key[1]
            return {"result": dict(sorted(result.items()))}
        return {"result": dict(sorted(getattr(self, f"_sub_{channel}")(key, symbol, params).items()))}

    # ------------------------------------------------------------------ public channels

    def _sub_ticker(self, key: tuple[str, int], symbol: str | None, params: dict[str, Any]) -> dict[str, Any]:
        snapshot = params.get("snapshot", True) is not False
        self.conn.subs[key] = Subscription("ticker", {"event_trigger": params.get("event_trigger", "trades")})
        if snapshot:
            self.messages.append({"channel": "ticker", "type": "snapshot",
                                  "data": [self.venue.market.ticker_element()]})
        result = {"channel": "ticker", "snapshot": snapshot, "symbol": symbol}
        if "event_trigger" in params:
            result["event_trigger"] = params["event_trigger"]
        return result

    def _sub_ohlc(self, key: tuple[str, int], symbol: str | None, params: dict[str, Any]) -> dict[str, Any]:
        interval = key[1]
        snapshot = params.get("snapshot", True) is not False
        self.conn.subs[key] = Subscription("ohlc", {"interval": interval})
        self.venue.market.emit_intervals.add(interval)
        if snapshot:
            self.messages.append({"channel": "ohlc", "type": "snapshot", "timestamp": _ns(self.venue.now),
                                  "data": self.venue.market.ohlc_snapshot(interval)})
        return {"channel": "ohlc", "interval": interval, "snapshot": snapshot, "symbol": symbol,
                "warnings": [OHLC_WARNING]}

    def _sub_trade(self, key: tuple[str, int], symbol: str | None, params: dict[str, Any]) -> dict[str, Any]:
        snapshot = params.get("snapshot", False) is True
        self.conn.subs[key] = Subscription("trade")
        if snapshot:
            self.messages.append({"channel": "trade", "type": "snapshot",
                                  "data": list(self.venue.market.trades)})
        return {"channel": "trade", "snapshot": snapshot, "symbol": symbol}

    def _sub_book(self, key: tuple[str, int], symbol: str | None, params: dict[str, Any]) -> dict[str, Any]:
        depth = params.get("depth", 10)
        snapshot = params.get("snapshot", True) is not False
        sub = Subscription("book", {"depth": depth})
        self.conn.subs[key] = sub
        bids, asks = _levels(self.venue, depth)
        sub.book = (bids, asks)
        if snapshot:
            element = {"symbol": WS_SYMBOL, "bids": book.levels_json(bids), "asks": book.levels_json(asks),
                       "checksum": _checksum(self.venue, bids, asks), "timestamp": rfc3339(self.venue.now)}
            self.messages.append({"channel": "book", "type": "snapshot", "data": [element]})
        return {"channel": "book", "depth": depth, "snapshot": snapshot, "symbol": symbol}

    def _sub_instrument(self, key: tuple[str, int], symbol: str | None, params: dict[str, Any]) -> dict[str, Any]:
        snapshot = params.get("snapshot", True) is not False
        self.conn.subs[key] = Subscription("instrument")
        if snapshot:
            self.messages.append({"channel": "instrument", "type": "snapshot",
                                  "data": refdata.instrument_data(self.venue.config)})
        return {"channel": "instrument", "snapshot": snapshot, "warnings": [INSTRUMENT_WARNING]}

    # ------------------------------------------------------------------ private channels

    def _sub_executions(self, key: tuple[str, int], symbol: str | None, params: dict[str, Any]) -> dict[str, Any]:
        snap_orders = params.get("snap_orders", params.get("snapshot", True)) is not False
        snap_trades = params.get("snap_trades", params.get("snapshot_trades", False)) is True
        sub = Subscription("executions", {"order_status": params.get("order_status", True) is not False})
        self.conn.subs[key] = sub
        engine = self.venue.engine
        data = (engine.snapshot_orders() if snap_orders else []) + (engine.snapshot_trades() if snap_trades else [])
        self.messages.append({"channel": "executions", "type": "snapshot", "data": data,
                              "sequence": sub.next_sequence()})
        return {"channel": "executions", "maxratecount": int(engine.rate_counter.limits.threshold),
                "snap_orders": snap_orders, "snap_trades": snap_trades}

    def _sub_balances(self, key: tuple[str, int], symbol: str | None, params: dict[str, Any]) -> dict[str, Any]:
        snapshot = params.get("snapshot", True) is not False
        sub = Subscription("balances")
        self.conn.subs[key] = sub
        if snapshot:
            # Key order of Kraken's balances snapshot (fixture ws_balances_snapshot.json).
            self.messages.append({"channel": "balances", "data": self.venue.engine.account.snapshot(),
                                  "type": "snapshot", "sequence": sub.next_sequence()})
        return {"channel": "balances", "snapshot": snapshot}
