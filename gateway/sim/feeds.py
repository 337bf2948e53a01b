"""Price feeds: replay of a candles CSV, or a seeded synthetic market with regime switches.

A feed is an iterator of one-minute `Candle`s; pacing (real time, N x, or driven by the caller)
is the clock's job (`venue.py` / `server.py`), never the feed's. Each candle is replayed as a
price path of four points, open -> low -> high -> close for a rising candle and
open -> high -> low -> close for a falling one, the usual convention for intrabar order when
only OHLC is known. The matching engine sees each leg of that path as a traded price range.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from gateway.sim.wire import q

CANDLE_SECONDS = 60
POINTS_PER_CANDLE = 4
CSV_HEADER = ["time", "open", "high", "low", "close", "volume"]


class Candle(NamedTuple):
    time: int  # unix seconds of the candle open
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal  # base units (DOGE)


class PathPoint(NamedTuple):
    """One point of a candle's replayed price path; `volume` trades on the leg ending here."""

    ts: float
    price: Decimal
    volume: Decimal


def candle_path(candle: Candle) -> list[PathPoint]:
    """The four points of a candle at open, +15 s, +30 s, +45 s, each carrying 1/4 of the volume."""
    if candle.close >= candle.open:
        middle = (candle.low, candle.high)
    else:
        middle = (candle.high, candle.low)
    prices = (candle.open, middle[0], middle[1], candle.close)
    share = candle.volume / POINTS_PER_CANDLE
    step = CANDLE_SECONDS / POINTS_PER_CANDLE
    return [PathPoint(candle.time + i * step, p, share) for i, p in enumerate(prices)]


class CsvFeed:
    """Replays `time,open,high,low,close,volume` rows (plain or gzipped), lazily.

    Missing minutes are simply absent from the stream: the clock jumps over them and the
    candle aggregation starts new bars, so gaps never stall or break a replay. Rows that go
    back in time are skipped (a replay must be monotonic); malformed rows raise with their line.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"candles file not found: {self.path}")
        self._rows = self._read()
        self.skipped_rows = 0

    def _open(self) -> io.TextIOBase:
        if self.path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(self.path, "rb"), encoding="ascii", newline="")
        return open(self.path, encoding="ascii", newline="")  # closed by _read

    def _read(self) -> Iterator[Candle]:
        last_time = -1
        with self._open() as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or [h.strip() for h in header] != CSV_HEADER:
                raise ValueError(f"{self.path}: header must be {','.join(CSV_HEADER)}")
            for line_no, row in enumerate(reader, start=2):
                if not row:
                    continue
                try:
                    candle = Candle(int(row[0]), *(Decimal(x) for x in row[1:6]))
                except (ValueError, ArithmeticError, TypeError, IndexError) as exc:
                    raise ValueError(f"{self.path}:{line_no}: bad candle row {row!r}") from exc
                if candle.time <= last_time:
                    self.skipped_rows += 1
                    continue
                last_time = candle.time
                yield candle

    def next_candle(self) -> Candle | None:
        return next(self._rows, None)


def load_candles(path: str | Path) -> list[Candle]:
    feed = CsvFeed(path)
    out: list[Candle] = []
    while (candle := feed.next_candle()) is not None:
        out.append(candle)
    return out


class SyntheticFeed:
    """A deterministic (per seed) random market that switches between regimes.

    Regimes: `ranging` (mean-reverting around an anchor), `up` and `down` (drift). Each regime
    lasts a random number of candles (mean `mean_regime_candles`). Minute volatility, volume and
    drift are in the range DOGE showed in 2021-04 (see shared data README), scaled down.
    """

    REGIMES = ("ranging", "up", "down")
    _DRIFT = {"ranging": 0.0, "up": 0.0002, "down": -0.0002}

    def __init__(self, seed: int, start_price: Decimal, start_time: int,
                 price_decimals: int = 7, mean_regime_candles: int = 240, volatility: float = 0.0015,
                 max_candles: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._decimals = price_decimals
        self._tick = 10.0 ** -price_decimals
        self._price = float(start_price)
        self._anchor = self._price
        self._time = start_time - start_time % CANDLE_SECONDS
        self._mean_regime = mean_regime_candles
        self._vol = volatility
        self._left = max_candles
        self.regime = "ranging"
        self._regime_left = self._draw_dwell()
        self.regime_history: list[tuple[int, str]] = [(self._time, self.regime)]

    def _draw_dwell(self) -> int:
        return max(5, int(self._rng.expovariate(1.0 / self._mean_regime)))

    def _switch_regime(self) -> None:
        choices = [r for r in self.REGIMES if r != self.regime]
        self.regime = self._rng.choice(choices)
        self._regime_left = self._draw_dwell()
        self._anchor = self._price
        self.regime_history.append((self._time, self.regime))

    def _price_of(self, value: float) -> Decimal:
        return q(Decimal(repr(max(value, self._tick * 10))), self._decimals)

    def next_candle(self) -> Candle | None:
        if self._left is not None:
            if self._left <= 0:
                return None
            self._left -= 1
        if self._regime_left <= 0:
            self._switch_regime()
        self._regime_left -= 1
        drift = self._DRIFT[self.regime]
        if self.regime == "ranging":
            drift = -0.02 * math.log(self._price / self._anchor)
        # Four sub-steps per candle give a realistic high/low around open/close.
        price = self._price
        path = [price]
        for _ in range(4):
            price *= math.exp(drift / 4 + self._rng.gauss(0.0, self._vol / 2))
            path.append(price)
        wick = self._vol * 0.3
        high = max(path) * (1 + abs(self._rng.gauss(0.0, wick)))
        low = min(path) * (1 - abs(self._rng.gauss(0.0, wick)))
        move = abs(math.log(path[-1] / path[0]))
        volume = self._rng.lognormvariate(math.log(2_000_000), 0.5) * (1 + 200 * move)
        candle = Candle(
            self._time,
            self._price_of(path[0]),
            self._price_of(high),
            self._price_of(low),
            self._price_of(path[-1]),
            q(Decimal(repr(volume)), 8),
        )
        # Keep invariants exact after rounding: low <= open, close <= high.
        candle = candle._replace(
            high=max(candle.high, candle.open, candle.close), low=min(candle.low, candle.open, candle.close)
        )
        self._price = float(candle.close)
        self._time += CANDLE_SECONDS
        return candle


class ListFeed:
    """A feed over candles held in memory (tests, in-process backtests)."""

    def __init__(self, candles: list[Candle]) -> None:
        self._candles = candles
        self._index = 0

    def next_candle(self) -> Candle | None:
        if self._index >= len(self._candles):
            return None
        candle = self._candles[self._index]
        self._index += 1
        return candle
