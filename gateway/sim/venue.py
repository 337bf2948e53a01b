"""The simulated venue without sockets: feed + matching engine + public market data + clock.

`Venue` is what an in-process backtest drives: `advance(n)` replays candles and returns every
`(channel, data element)` event they cause (public `ticker`/`ohlc`/`trade` and private
`executions`/`balances`), `trading.TradingApi` answers WS-shaped requests against the same engine.
The socket servers (`server.py`) wrap one Venue and only add transport and pacing.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from gateway.sim.config import SimConfig
from gateway.sim.engine import Event, MatchingEngine
from gateway.sim.feeds import Candle, CsvFeed, PathPoint, SyntheticFeed, candle_path
from gateway.sim.marketdata import MarketData
from gateway.sim.trading import Reply, TradingApi
from gateway.sim.wire import IdFactory, channel_message


class CandleFeed(Protocol):
    def next_candle(self) -> Candle | None: ...


def make_feed(config: SimConfig) -> CandleFeed:
    if config.data_file:
        return CsvFeed(Path(config.data_file))
    start = config.start_time if config.start_time is not None else time.time()
    return SyntheticFeed(config.seed, config.start_price, int(start), config.rules.price_decimals)


class VirtualClock:
    """Virtual time: follows the data in `manual`/`fast` modes, flows at `speed` x wall time otherwise.

    The wall clock is read here and nowhere else in the simulator's trading logic.
    """

    def __init__(self, mode: str, speed: float = 1.0) -> None:
        self.mode = mode
        self.speed = 1.0 if mode == "realtime" else speed
        self._virtual = 0.0
        self._wall = time.monotonic()

    @property
    def follows_data(self) -> bool:
        return self.mode in ("manual", "fast")

    def now(self) -> float:
        if self.follows_data:
            return self._virtual
        return self._virtual + (time.monotonic() - self._wall) * self.speed

    def set(self, ts: float) -> None:
        """Make `ts` the current virtual time (jumps over data gaps, or follows manual steps)."""
        self._virtual = ts
        self._wall = time.monotonic()

    def advance_to(self, ts: float) -> None:
        if ts > self.now():
            self.set(ts)

    def wall_seconds_until(self, ts: float) -> float:
        return max(0.0, (ts - self.now()) / self.speed)


class Venue:
    def __init__(self, config: SimConfig, feed: CandleFeed | None = None, prime_candles: int = 1,
                 public_events: bool = True) -> None:
        self.config = config
        self.ids = IdFactory(config.seed)
        self.engine = MatchingEngine(config, self.ids)
        self.trading = TradingApi(self.engine)
        self.market = MarketData(self.engine)
        self.market.emit_public = public_events
        self.feed = feed if feed is not None else make_feed(config)
        self.clock = VirtualClock(config.clock, config.speed)
        self.candles_processed = 0
        self.exhausted = False
        self._points: list[PathPoint] = []
        self._candle: Candle | None = None  # the candle whose path points are being replayed
        self._last_point_ts: float | None = None
        # Open with some history so the first client sees a price, a ticker and a bar.
        for _ in range(max(1, prime_candles)):
            if self.step_candle() is None:
                break
        if self._last_point_ts is not None:
            self.clock.set(self._last_point_ts)

    @property
    def now(self) -> float:
        return self.clock.now()

    # ------------------------------------------------------------------ stepping

    def _load(self) -> bool:
        if self._points:
            return True
        if self.exhausted:
            return False
        candle = self.feed.next_candle()
        if candle is None:
            self.exhausted = True
            return False
        self._points = candle_path(candle)
        self._candle = candle
        return True

    def next_point_ts(self) -> float | None:
        return self._points[0].ts if self._load() else None

    def gap_before_next(self) -> bool:
        """True when the next point lies more than a candle after the previous one (data gap)."""
        nxt = self.next_point_ts()
        return nxt is not None and self._last_point_ts is not None and nxt - self._last_point_ts > 60

    def _process(self, point: PathPoint) -> list[Event]:
        if self.clock.follows_data:
            self.clock.set(point.ts)
        previous = self.engine.price
        candle = self._candle
        assert candle is not None
        # The candle's points share one volume window: an order fills at most the configured share
        # of the candle's volume, however many of its path legs cross the order's price.
        private = self.engine.trade_to(point.price, point.ts, point.volume, (candle.time, candle.volume))
        public = self.market.on_point(point.price, point.volume, point.ts, previous)
        self._last_point_ts = point.ts
        if len(self._points) == 0:
            self.candles_processed += 1
        return public + private

    def step_point(self) -> list[Event] | None:
        """Process the next path point (a quarter candle); None when the data is exhausted."""
        if not self._load():
            return None
        point = self._points.pop(0)
        return self._process(point)

    def step_candle(self) -> list[Event] | None:
        """Process the rest of the current candle (or the next whole candle)."""
        if not self._load():
            return None
        events: list[Event] = []
        while self._points:
            events.extend(self._process(self._points.pop(0)))
        return events

    def advance(self, n_candles: int = 1) -> tuple[int, list[Event]]:
        """Replay up to `n_candles` candles; returns (candles replayed, events)."""
        events: list[Event] = []
        done = 0
        for _ in range(max(0, n_candles)):
            step = self.step_candle()
            if step is None:
                break
            events.extend(step)
            done += 1
        return done, events

    def set_price(self, price: Decimal, volume: Decimal | None = None) -> list[Event]:
        """Move the market to `price` now (volume None = every crossed order fills completely)."""
        now = self.now
        previous = self.engine.price
        private = self.engine.trade_to(price, now, volume)
        public = self.market.on_point(price, volume if volume is not None else Decimal(0), now, previous)
        return public + private

    def check_timers(self) -> list[Event]:
        return self.engine.check_timers(self.now)

    def request(self, method: str, params: dict[str, Any]) -> list[Reply]:
        """A WS v2 trading request (`add_order`, `amend_order`, `cancel_order`, ...) at the current time.

        Same params as on the socket (token not needed); one `Reply` per response message.
        """
        return self.trading.handle(method, params, self.now)

    @staticmethod
    def frame(event: Event, now: float, sequence: int | None = None) -> dict[str, Any]:
        """The WS message a socket client would receive for `event` (for in-process consumers)."""
        channel, element = event
        return channel_message(channel, element, now, sequence)
