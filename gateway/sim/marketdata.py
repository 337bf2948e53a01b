"""Public market data derived from the simulated price path: ticker, OHLC, trades, instrument, status.

Every point of the replayed path (4 per candle) is one public "trade" of that point's volume;
OHLC bars of each interval aggregate those trades by `interval_begin` (the bar start), and the
still-forming bar is re-sent on every trade, as Kraken does (kraken-api.md §2.2).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.market import WS_SYMBOL
from gateway.sim.book import level_qty
from gateway.sim.engine import Event, MatchingEngine
from gateway.sim.wire import ZERO, q, rfc3339, rfc3339_ns

OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
HISTORY_BARS = 720
DAY = 86_400
PUBLIC_TRADES_KEPT = 50


@dataclass(slots=True)
class Bar:
    begin: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    pv: Decimal = ZERO  # sum(price * volume) for vwap
    trades: int = 0

    def add(self, price: Decimal, volume: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        if volume > 0:
            self.volume += volume
            self.pv += price * volume
            self.trades += 1

    def merged(self, other: Bar, begin: int) -> Bar:
        """This bar followed by `other`, as one bar starting at `begin`."""
        return Bar(begin, self.open, max(self.high, other.high), min(self.low, other.low), other.close,
                   self.volume + other.volume, self.pv + other.pv, self.trades + other.trades)

    def copy(self, begin: int) -> Bar:
        return Bar(begin, self.open, self.high, self.low, self.close, self.volume, self.pv, self.trades)

    @property
    def vwap(self) -> Decimal:
        return q(self.pv / self.volume, 7) if self.volume > 0 else ZERO


class _Rolling:
    """24 h rolling volume / vwap / low / high / trades over one-minute bars (O(1) amortised)."""

    def __init__(self) -> None:
        self.bars: deque[Bar] = deque()
        self._max: deque[Bar] = deque()  # monotonic decreasing highs
        self._min: deque[Bar] = deque()  # monotonic increasing lows
        self.volume = ZERO
        self.pv = ZERO
        self.trades = 0

    def push(self, bar: Bar) -> None:
        self.bars.append(bar)
        self.volume += bar.volume
        self.pv += bar.pv
        self.trades += bar.trades
        while self._max and self._max[-1].high <= bar.high:
            self._max.pop()
        self._max.append(bar)
        while self._min and self._min[-1].low >= bar.low:
            self._min.pop()
        self._min.append(bar)

    def evict_before(self, ts: float) -> None:
        while self.bars and self.bars[0].begin < ts:
            old = self.bars.popleft()
            self.volume -= old.volume
            self.pv -= old.pv
            self.trades -= old.trades
            if self._max and self._max[0] is old:
                self._max.popleft()
            if self._min and self._min[0] is old:
                self._min.popleft()

    def high(self) -> Decimal | None:
        return self._max[0].high if self._max else None

    def low(self) -> Decimal | None:
        return self._min[0].low if self._min else None


class MarketData:
    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine
        self.config = engine.config
        self.emit_intervals: set[int] = {1, 5}
        # False: keep bars and ticker state but build no public event elements (a backtest that
        # only needs executions saves most of the per-point cost).
        self.emit_public = True
        self.minute: Bar | None = None  # the forming one-minute bar
        # Closed minutes of the current period of each longer interval, merged: longer bars are
        # rolled up from minutes instead of being updated on every trade.
        self._partial: dict[int, Bar] = {}
        self.history: dict[int, deque[Bar]] = {i: deque(maxlen=HISTORY_BARS) for i in OHLC_INTERVALS}
        self.trades: deque[dict[str, Any]] = deque(maxlen=PUBLIC_TRADES_KEPT)
        self.last_ts = 0.0
        self.last_trade_qty = ZERO
        self._rolling = _Rolling()
        self._day_start = -1
        self.today: Bar | None = None

    # ------------------------------------------------------------------ updates

    def on_point(self, price: Decimal, volume: Decimal, ts: float, previous: Decimal | None) -> list[Event]:
        """Account for one traded point; returns the public events it causes (none when muted)."""
        self.last_ts = ts
        if not self.emit_public:
            if volume > 0:
                self.engine.next_trade_id()
                self.last_trade_qty = q(volume, 8)
            self._update_minute(price, volume, ts)
            self._update_day(price, volume, ts)
            return []
        events: list[Event] = []
        if volume > 0:
            side = "sell" if previous is not None and price < previous else "buy"
            trade = {"symbol": WS_SYMBOL, "side": side, "price": price, "qty": q(volume, 8),
                     "ord_type": "market", "trade_id": self.engine.next_trade_id(), "timestamp": rfc3339(ts)}
            self.trades.append(trade)
            self.last_trade_qty = trade["qty"]
            events.append(("trade", trade))
        self._update_minute(price, volume, ts)
        self._update_day(price, volume, ts)
        events.append(("ticker", self.ticker_element(ts)))
        for interval in sorted(self.emit_intervals):
            events.append(("ohlc", self.ohlc_element(self.forming(interval), interval)))
        return events

    def _update_minute(self, price: Decimal, volume: Decimal, ts: float) -> None:
        begin = int(ts // 60) * 60
        bar = self.minute
        if bar is None or bar.begin != begin:
            if bar is not None:
                self.history[1].append(bar)
                self._rolling.push(bar)
                self._roll_up(bar)
            for interval, part in list(self._partial.items()):
                if part.begin != begin - begin % (interval * 60):
                    self.history[interval].append(part)
                    del self._partial[interval]
            bar = Bar(begin, price, price, price, price)
            self.minute = bar
        bar.add(price, volume)
        self._rolling.evict_before(ts - DAY)

    def _roll_up(self, closed: Bar) -> None:
        for interval in OHLC_INTERVALS[1:]:
            begin = closed.begin - closed.begin % (interval * 60)
            part = self._partial.get(interval)
            self._partial[interval] = closed.copy(begin) if part is None else part.merged(closed, begin)

    def forming(self, interval: int) -> Bar:
        """The still-forming bar of `interval` (the current minute merged into its period)."""
        minute = self.minute
        assert minute is not None, "no trade yet"
        if interval == 1:
            return minute
        begin = minute.begin - minute.begin % (interval * 60)
        part = self._partial.get(interval)
        return minute.copy(begin) if part is None else part.merged(minute, begin)

    def _update_day(self, price: Decimal, volume: Decimal, ts: float) -> None:
        day = int(ts // DAY) * DAY
        if day != self._day_start or self.today is None:
            self._day_start = day
            self.today = Bar(day, price, price, price, price)
        self.today.add(price, volume)

    # ------------------------------------------------------------------ elements

    def _window(self) -> tuple[Decimal, Decimal, Decimal, Decimal, int, Decimal]:
        """(volume, vwap, low, high, trades, open) over the last 24 h incl. the forming bar."""
        bar = self.minute
        roll = self._rolling
        volume = roll.volume + (bar.volume if bar else ZERO)
        pv = roll.pv + (bar.pv if bar else ZERO)
        highs = [h for h in (roll.high(), bar.high if bar else None) if h is not None]
        lows = [v for v in (roll.low(), bar.low if bar else None) if v is not None]
        first = roll.bars[0].open if roll.bars else (bar.open if bar else ZERO)
        trades = roll.trades + (bar.trades if bar else 0)
        vwap = q(pv / volume, 7) if volume > 0 else ZERO
        return volume, vwap, min(lows, default=ZERO), max(highs, default=ZERO), trades, first

    def ticker_element(self, ts: float | None = None) -> dict[str, Any]:
        engine = self.engine
        last = engine.price if engine.price is not None else ZERO
        volume, vwap, low, high, _, first = self._window()
        change = last - first
        change_pct = q(change / first * 100, 2) if first > 0 else ZERO
        bid, ask = engine.bid or ZERO, engine.ask or ZERO
        tick = engine.tick
        return {
            "symbol": WS_SYMBOL,
            "bid": bid,
            "bid_qty": level_qty(int(bid / tick)) if bid > 0 else ZERO,
            "ask": ask,
            "ask_qty": level_qty(int(ask / tick)) if ask > 0 else ZERO,
            "last": last,
            "volume": q(volume, 8),
            "vwap": vwap,
            "low": low,
            "high": high,
            "change": q(change, 7),
            "change_pct": change_pct,
            "timestamp": rfc3339(self.last_ts if ts is None else ts),
        }

    @staticmethod
    def ohlc_element(bar: Bar, interval: int) -> dict[str, Any]:
        return {
            "symbol": WS_SYMBOL,
            "open": bar.open,
            "high": bar.high,
            "low": bar.low,
            "close": bar.close,
            "trades": bar.trades,
            "volume": q(bar.volume, 8),
            "vwap": bar.vwap,
            "interval_begin": rfc3339_ns(bar.begin),
            "interval": interval,
            "timestamp": rfc3339(bar.begin + interval * 60),
        }

    def ohlc_bars(self, interval: int) -> list[Bar]:
        bars = list(self.history[interval])
        if self.minute is not None:
            bars.append(self.forming(interval))
        return bars

    def ohlc_snapshot(self, interval: int) -> list[dict[str, Any]]:
        return [self.ohlc_element(b, interval) for b in self.ohlc_bars(interval)]

    def rolling_24h(self) -> tuple[Decimal, Decimal, Decimal, Decimal, int, Decimal]:
        return self._window()
