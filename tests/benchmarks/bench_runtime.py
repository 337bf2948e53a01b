"""Actor runtime figures (prints them; not a pytest test).

Run: python -m tests.benchmarks.bench_runtime [--only latency,startup,backtest,rest,memory]
     [--slots 100] [--days 30] [--backtest-slots 20]

1. latency: fill-to-order with 100 slots. Measured at the simulated exchange's socket edge, so it
   includes both loopback hops: the completing `trade` frame of an entry leaving the exchange ->
   the `add_order` of that slot's exit arriving back (gateway decode, router, slot reducer, store
   commit of the fill, rate budget, gateway encode). Prices are moved so all entries of one side
   fill at once (a burst of 100), several times; p50/p99 over all samples.
2. startup: a bot with 200 tracked orders is stopped and started again on the same exchange:
   start-up timings and private REST calls.
3. backtest: N days of 1-minute candles of the bundled data with 20 slots: wall time, events/s.
4. rest: private REST requests reaching the exchange in steady state, per hour (target zero).
5. memory: resident set size of the process with the 100-slot system running.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pykka

from actors.backtest import Backtest, format_summary
from actors.internal import Inspect
from actors.system import System, SystemConfig
from actors.venues import kraken_venue
from core.config import load_settings
from gateway.sim.config import BUNDLED_DATA_FILE
from tests.faults.sim_host import SimHostProcess


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class Rig:
    """The full actor system in this process, over loopback sockets to the simulated exchange
    running in another process (so the exchange's CPU is not counted against the bot's)."""

    def __init__(self, slots: int, db: str, money_sync: str = "FULL") -> None:
        self.money_sync = money_sync
        self.host = SimHostProcess(usd=str(slots * 60), doge=str(slots * 600), share="0", limit=str(slots * 3),
                                   tier="pro")
        self.settings, _ = load_settings(env={
            "INITIAL_SLOTS": str(slots), "ORDER_SIZE_USD": "6", "LOG_LEVEL": "ERROR", "DAILY_LOSS_LIMIT": "0",
            "STALE_PRICE_MAX_AGE_SEC": "3600", "KRAKEN_RATE_TIER": "pro",
            "KRAKEN_OPEN_ORDERS_PER_PAIR_LIMIT": str(slots * 3), "MAX_ENTRY_ADDS_PER_LOOP": "100",
            "REENTRY_BASE_COOLDOWN_SEC": "0", "REFRESH_PCT": "20", "DEAD_MAN_SWITCH_ENABLED": "false"})
        self.db = db
        self.system = self.build()
        # The exchange's clock is stepped by hand; let it follow the wall clock between steps so its
        # rate counters decay as the bot's mirror (which follows the wall clock) expects.
        self._pacing = threading.Event()
        self._pacer = threading.Thread(target=self._pace, name="pacer", daemon=True)
        self._pacer.start()

    def _pace(self) -> None:
        last = time.monotonic()
        while not self._pacing.wait(0.1):
            now = time.monotonic()
            self.host.call(f"wait {now - last:.3f}")
            last = now

    def build(self) -> System:
        info = self.host.info
        venue = kraken_venue(self.settings, public_ws_url=info["public"], private_ws_url=info["private"],
                             rest_url=info["rest"], api_key=info["key"], api_secret=info["secret"])
        return System(SystemConfig(settings=self.settings, venue_name="sim", venue=venue, db_path=self.db,
                                   startup_timeout=60, store_options={"money_sync": self.money_sync}))

    def bound_orders(self) -> int:
        return sum(len([o for o in s.orders if o.txid]) for s in self.system.status().slots)

    def close(self) -> None:
        self.system.stop()
        self._pacing.set()
        self._pacer.join(timeout=5)
        self.host.close()
        pykka.ActorRegistry.stop_all()


# --------------------------------------------------------------------------- 1. latency


def bench_latency(rig: Rig, slots: int) -> list[float]:
    """Two bursts: the market drops through every buy entry, then rises through every sell entry."""
    host = rig.host
    host.call("hook")
    budget = rig.system.refs["rate_budget"]
    for move in ("-0.6", "+0.6", "+0.6"):
        # Kraken's trading counter (Pro: 180, -3.75/s) cannot take a burst of 100 exits on top of the
        # bootstrap burst: wait until it has room, so the figure is the bot's latency, not the venue's limit.
        wait(lambda: budget.ask(Inspect(), timeout=10)["trading_counter"] < 175 - slots, 120)
        expected = len(host.call("samples")) + (slots if move != "+0.6" or rig.bound_orders() else 0)
        host.call(f"move {move.lstrip('+')}")
        wait(lambda exp=expected: len(host.call("samples")) >= exp, 60)
    return list(host.call("samples"))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="latency,startup,rest,memory,backtest")
    parser.add_argument("--slots", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--backtest-slots", type=int, default=20)
    parser.add_argument("--money-sync", default="FULL", help="SQLite synchronous level of money writes")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    tmp = tempfile.TemporaryDirectory(prefix="dogebot-bench-")
    db = str(Path(tmp.name) / "bench.sqlite")

    if only & {"latency", "startup", "rest", "memory"}:
        rig = Rig(args.slots, db, args.money_sync)
        t0 = time.perf_counter()
        rig.system.start()
        ok = wait(lambda: rig.bound_orders() >= args.slots * 2, 180)
        print(f"[setup] {args.slots} slots, {rig.bound_orders()} orders resting after "
              f"{time.perf_counter() - t0:.1f}s{'' if ok else ' (not all placed)'}")
        if "latency" in only:
            samples = bench_latency(rig, args.slots)
            if samples:
                print(f"[latency] fill->exit order ({args.money_sync} sync), {len(samples)} samples in bursts of "
                      f"{args.slots}: p50 {pct(samples, 50) * 1000:.2f} ms, p99 {pct(samples, 99) * 1000:.2f} ms, "
                      f"min {min(samples) * 1000:.2f} ms")
        if "rest" in only:
            before, t1 = rig.host.call("requests"), time.perf_counter()
            for _ in range(60):  # an hour of market (one candle a step), with fills and loops
                rig.host.call("advance 1")
                time.sleep(0.1)
            wall = time.perf_counter() - t1
            used = rig.host.call("requests") - before
            print(f"[rest] {used} private REST request(s) during 1 h of market ({wall:.1f}s wall, "
                  f"{rig.system.inspect('runtime')['loops']} loops): {used:.1f}/hour")
        if "memory" in only:
            gc.collect()
            print(f"[memory] RSS of the bot process with {args.slots} slots: {rss_mb():.0f} MB "
                  f"({threading.active_count()} threads)")
        if "startup" in only:
            rig.system.stop()
            pykka.ActorRegistry.stop_all()
            tracked = len(rig.host.call("state")["open"])
            before = rig.host.call("requests")
            rig.system = rig.build()
            t0 = time.perf_counter()
            rig.system.start()
            timings = rig.system.startup_timings
            print(f"[startup] {tracked} tracked orders on the exchange: start() {time.perf_counter() - t0:.2f}s; "
                  f"reconcile {timings.startup_reconcile_ms:.0f} ms, replay {timings.startup_replay_ms:.0f} ms, "
                  f"bootstrap {timings.startup_bootstrap_ms:.0f} ms, total {timings.startup_total_ms:.0f} ms; "
                  f"{timings.rest_calls} private REST call(s) counted by the bot, "
                  f"{rig.host.call('requests') - before} seen by the exchange")
        rig.close()

    if "backtest" in only:
        settings, _ = load_settings(env={"INITIAL_SLOTS": str(args.backtest_slots), "ORDER_SIZE_USD": "40",
                                         "LOG_LEVEL": "ERROR", "SIM_USD_BALANCE": "20000",
                                         "SIM_DOGE_BALANCE": "150000"})
        candles = int(args.days * 1440)
        summary = Backtest(settings, BUNDLED_DATA_FILE, max_candles=candles).run()
        print("[backtest] " + format_summary(summary).replace("\n", "\n           "))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
