"""Simulated exchange throughput (prints figures; not a pytest test).

Run: python -m tests.benchmarks.bench_sim [--runs 3] [--candles 20000]

1. engine in process: one-minute candles replayed per second against 200 resting orders (a grid
   that re-places every filled order, so the book stays at 200): the bare engine
   (`MatchingEngine.apply_candle`), and the whole venue (`Venue.advance`: engine + ticker/OHLC/trade
   elements).
2. private WebSocket: execution reports (`executions` + `balances` frames) delivered per second to a
   client in another process, for bursts of 200 orders placed and then crossed.

Figures are medians over `--runs` runs; see docs/performance.md for recorded numbers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from decimal import Decimal as D
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.rate_limits import CounterLimits, DecayingCounter
from gateway.sim.config import BUNDLED_DATA_FILE, SimConfig
from gateway.sim.engine import MatchingEngine, OrderSpec
from gateway.sim.feeds import Candle, ListFeed, load_candles
from gateway.sim.server import SimExchange
from gateway.sim.venue import Venue

RESTING = 200
STEP = D("0.002")  # grid spacing, relative
TICK = D("0.0000001")
UNLIMITED = CounterLimits(threshold=1e18, decay_per_s=1e9)


def _config() -> SimConfig:
    return SimConfig(usd=D("1e12"), doge=D("1e12"), fill_volume_share=D("0"), open_order_limit=10_000)


def _grid(engine: MatchingEngine, now: float) -> None:
    price = engine.price
    assert price is not None
    for i in range(1, RESTING // 2 + 1):
        engine.add_order(OrderSpec(side="buy", qty=D("1000"), price=(price * (1 - STEP * i)).quantize(TICK)), now)
        engine.add_order(OrderSpec(side="sell", qty=D("1000"), price=(price * (1 + STEP * i)).quantize(TICK)), now)


def _refill(engine: MatchingEngine, events: list, now: float) -> int:
    """Re-place every filled order one step on the other side (a grid bot): the book stays at 200."""
    fills = 0
    pending = list(events)
    for _ in range(100):  # bounded: a re-placed order that crosses fills at once and is re-placed again
        placed: list = []
        for channel, element in pending:
            if channel == "executions" and element["exec_type"] == "trade" and element["order_status"] == "filled":
                fills += 1
                price = element["last_price"]
                side = "sell" if element["side"] == "buy" else "buy"
                new_price = (price * (1 + STEP) if side == "sell" else price * (1 - STEP)).quantize(TICK)
                placed.extend(engine.add_order(OrderSpec(side=side, qty=D("1000"), price=new_price), now).events)
        if not placed:
            break
        pending = placed
    return fills


def bench_engine(candles: list[Candle]) -> tuple[float, int]:
    engine = MatchingEngine(_config())
    engine.rate_counter = DecayingCounter(UNLIMITED)
    engine.apply_candle(candles[0])
    _grid(engine, candles[0].time)
    fills = 0
    start = time.perf_counter()
    for candle in candles[1:]:
        fills += _refill(engine, engine.apply_candle(candle), candle.time + 45)
    elapsed = time.perf_counter() - start
    assert len(engine.open) == RESTING
    return (len(candles) - 1) / elapsed, fills


def bench_venue(candles: list[Candle], public_events: bool) -> tuple[float, int]:
    venue = Venue(_config(), feed=ListFeed(candles), public_events=public_events)
    venue.engine.rate_counter = DecayingCounter(UNLIMITED)
    _grid(venue.engine, venue.now)
    fills = 0
    n = 0
    start = time.perf_counter()
    while (events := venue.step_candle()) is not None:
        fills += _refill(venue.engine, events, venue.now)
        n += 1
    elapsed = time.perf_counter() - start
    return n / elapsed, fills


# --------------------------------------------------------------------------- WS reports


def _client(url: str, token: str, expected: int, pipe: Connection) -> None:
    from websockets.sync.client import connect

    with connect(url, compression=None, max_size=None) as ws:
        ws.send(json.dumps({"method": "subscribe", "params": {"channel": "executions", "token": token}}))
        ws.send(json.dumps({"method": "subscribe", "params": {"channel": "balances", "token": token}}))
        snapshots = 0
        while snapshots < 2:
            if '"type":"snapshot"' in ws.recv(timeout=10):
                snapshots += 1
        pipe.send("ready")
        got = 0
        while got < expected:
            frame = ws.recv(timeout=30)
            if frame.startswith('{"channel":"executions"') or frame.startswith('{"channel":"balances"'):
                got += 1
        pipe.send(time.time())


def bench_ws(bursts: int = 10) -> float:
    sim = SimExchange(_config())
    sim.start()
    try:
        sim.call(lambda v: setattr(v.engine, "rate_counter", DecayingCounter(UNLIMITED)))
        per_burst = RESTING * 4 + RESTING * 2  # pending_new, new, trade, filled + two ledger legs per fill
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(target=_client, args=(sim.private_ws_url, sim.issue_ws_token(),
                                                             per_burst * bursts, child))
        proc.start()
        assert parent.poll(20) and parent.recv() == "ready"

        def place(venue: Venue) -> None:
            price = venue.engine.price
            assert price is not None
            events = []
            for i in range(RESTING):
                spec = OrderSpec(side="buy", qty=D("100"), price=(price - TICK * (5 + i)).quantize(TICK))
                events.extend(venue.engine.add_order(spec, venue.now).events)
            sim.hub.publish(events)

        start = time.time()
        base = sim.call(lambda v: v.engine.price)
        for _ in range(bursts):
            sim.call(place)
            sim.set_price(base - TICK * (RESTING + 10))  # crosses all 200: trade + filled + 2 ledger legs each
            sim.set_price(base)
        assert parent.poll(60)
        last = parent.recv()
        proc.join(10)
        return per_burst * bursts / (last - start)
    finally:
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--candles", type=int, default=20_000)
    args = parser.parse_args(argv)
    candles = load_candles(BUNDLED_DATA_FILE)[: args.candles]
    results: dict[str, list[float]] = {}
    fills: dict[str, int] = {}
    for _ in range(args.runs):
        for name, run in (
            ("engine only", lambda: bench_engine(candles)),
            ("venue, executions only", lambda: bench_venue(candles, public_events=False)),
            ("venue + public market data", lambda: bench_venue(candles, public_events=True)),
        ):
            rate, n_fills = run()
            results.setdefault(name, []).append(rate)
            fills[name] = n_fills
        results.setdefault("ws reports", []).append(bench_ws())
    print(f"candles: {len(candles)} one-minute candles of the bundled data, {RESTING} resting orders")
    for name in ("engine only", "venue, executions only", "venue + public market data"):
        print(f"  {name:30s} {statistics.median(results[name]):>10,.0f} candles/s  ({fills[name]} fills)")
    print(f"  {'private WS execution reports':30s} {statistics.median(results['ws reports']):>10,.0f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
