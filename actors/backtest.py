"""Backtests: the same actors on the simulator's in-process engine under a virtual clock.

The driver steps the venue one candle at a time. After each step it waits for quiescence (the
InFlight barrier: every fill, follow-up order, store write and report caused by the step is
handled), then asks the rate budget to forward the intents it held, in (slot, arrival) order,
and repeats until nothing more is produced; then it advances the virtual clock (one runtime
loop) and does the same. Thread timing can change how fast this happens, never what happens:
the same data gives the same summary.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from actors.internal import AdvanceTo, FlushIntents, Inspect
from actors.sim_venue import StepCandle
from actors.system import System, SystemConfig
from actors.venues import inprocess_venue
from core.config import Settings
from core.market import PairRules
from gateway.sim.config import SimConfig
from gateway.sim.feeds import CsvFeed
from gateway.sim.venue import Venue

log = logging.getLogger("backtest")

IDLE_TIMEOUT_S = 60.0


class BacktestSummary(msgspec.Struct, kw_only=True):
    data: str
    slots: int
    candles: int
    first_ts: float
    last_ts: float
    cycles: int
    realized_pnl_usd: float
    fees_usd: float
    fills: int
    orders_placed: int
    orders_rejected: int
    open_exits: int
    open_exit_capital_usd: float
    recoveries: int
    halts: int
    invariant_violations: int
    mode: str
    pause_reason: str
    start_value_usd: float
    end_value_usd: float
    end_usd: float
    end_doge: float
    final_price: float
    events: int
    wall_s: float
    events_per_s: float

    def deterministic(self) -> dict[str, Any]:
        """Everything except the timing figures (what two runs on the same data must share)."""
        out = msgspec.to_builtins(self)
        for k in ("wall_s", "events_per_s", "events"):
            out.pop(k)
        return out


def sim_config(settings: Settings, usd: float, doge: float) -> SimConfig:
    rules = PairRules(min_volume=settings.sim_min_volume, min_cost_usd=settings.sim_min_cost,
                      maker_fee_pct=settings.sim_maker_fee_pct, taker_fee_pct=settings.sim_taker_fee_pct)
    return SimConfig(clock="manual", usd=Decimal(repr(usd)), doge=Decimal(repr(doge)), rules=rules,
                     open_order_limit=settings.sim_open_orders_limit, rate_tier=settings.sim_rate_tier,  # type: ignore[arg-type]
                     seed=settings.sim_seed, cl_ord_id_on_all_events=True, idle_timeout_s=0)


class Backtest:
    def __init__(self, settings: Settings, data: str, *, usd: float | None = None, doge: float | None = None,
                 db_path: str | None = None, max_candles: int | None = None) -> None:
        self.settings = settings
        self.data = data
        self.usd = settings.sim_usd_balance if usd is None else usd
        self.doge = settings.sim_doge_balance if doge is None else doge
        self.max_candles = max_candles
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if db_path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dogebot-bt-")
            db_path = str(Path(self._tmp.name) / "backtest.sqlite")
        self.db_path = db_path
        # Public market-data elements (ticker/OHLC/trades per path point) are off: the venue reports one
        # price per candle, which is all the runtime's loop uses.
        self.venue = Venue(sim_config(settings, self.usd, self.doge), feed=CsvFeed(Path(data)), prime_candles=1,
                           public_events=False)
        self.system = System(SystemConfig(
            settings=settings, venue_name="backtest", venue=inprocess_venue(self.venue), db_path=db_path,
            virtual=True, start_ts=self.venue.now, store_tick_s=None,
            # A backtest's file is scratch: durability syncs would only measure the disk.
            store_options={"money_sync": "OFF", "bulk_sync": "OFF", "integrity_check": False},
        ))
        self.candles = 0
        self.first_ts = self.venue.now
        self.start_price = float(self.venue.engine.price or 0)

    # ------------------------------------------------------------------ the barrier

    def settle(self) -> None:
        """Quiescence, then held intents forwarded deterministically, until nothing is left."""
        sys = self.system
        rate_budget = sys.refs["rate_budget"]
        for _ in range(10_000):
            if not sys.wait_idle(IDLE_TIMEOUT_S):
                raise RuntimeError(f"backtest: system not quiescent after {IDLE_TIMEOUT_S}s "
                                   f"({sys.inflight.count} messages in flight)")
            if rate_budget.ask(FlushIntents(now=sys.clock.now()), timeout=IDLE_TIMEOUT_S) == 0:
                return
        raise RuntimeError("backtest: intents kept coming after 10000 flushes at one step")

    def run(self, before_stop: Callable[[Backtest], None] | None = None) -> BacktestSummary:
        """Replay the data; `before_stop` (tests) sees the live system after the last step."""
        t0 = time.perf_counter()
        sys = self.system
        sys.start()
        try:
            self.settle()
            venue_ref = sys.venue.actor  # type: ignore[union-attr]
            while self.max_candles is None or self.candles < self.max_candles:
                ts = venue_ref.ask(StepCandle(), timeout=IDLE_TIMEOUT_S)
                if ts is None:
                    break
                self.candles += 1
                self.settle()
                sys.tell("clock", AdvanceTo(ts=ts))
                self.settle()
            summary = self.summary(time.perf_counter() - t0)
            if before_stop is not None:
                before_stop(self)
            return summary
        finally:
            sys.stop()
            if self._tmp is not None:
                self._tmp.cleanup()

    # ------------------------------------------------------------------ results

    def summary(self, wall: float) -> BacktestSummary:
        sys = self.system
        status = sys.status()
        venue = sys.venue.actor.ask(Inspect(), timeout=10)  # type: ignore[union-attr]
        price = venue["price"]
        exits = [o for s in status.slots for o in s.orders if o.role == "exit"]
        recoveries = [r for s in status.slots for r in s.recoveries]
        capital = sum(o.volume * (o.entry_price or o.price) for o in exits)
        capital += sum(r.volume * r.entry_price for r in recoveries)
        events = sys.inflight.total
        return BacktestSummary(
            data=Path(self.data).name,
            slots=len(status.slots),
            candles=self.candles,
            first_ts=self.first_ts,
            last_ts=venue["now"],
            cycles=status.total_round_trips,
            realized_pnl_usd=round(status.total_profit, 8),
            fees_usd=round(status.total_fees, 8),
            fills=venue["fills"],
            orders_placed=status.counters.orders_placed,
            orders_rejected=status.counters.orders_rejected,
            open_exits=len(exits),
            open_exit_capital_usd=round(capital, 6),
            recoveries=len(recoveries),
            halts=sum(1 for s in status.slots if s.halted) + (1 if status.mode == "HALTED" else 0),
            invariant_violations=status.counters.invariant_halts,
            mode=status.mode,
            pause_reason=status.pause_reason,
            start_value_usd=round(self.usd + self.doge * self.start_price, 6),
            end_value_usd=round(venue["usd"] + venue["doge"] * price, 6),
            end_usd=round(venue["usd"], 6),
            end_doge=round(venue["doge"], 8),
            final_price=price,
            events=events,
            wall_s=round(wall, 3),
            events_per_s=round(events / wall, 1) if wall > 0 and math.isfinite(wall) else 0.0,
        )


def format_summary(s: BacktestSummary) -> str:
    span_days = max(0.0, s.last_ts - s.first_ts) / 86400.0
    lines = [
        f"backtest {s.data}: {s.candles} candles ({span_days:.1f} days), {s.slots} slot(s)",
        f"  cycles booked        {s.cycles}",
        f"  realized P&L         {s.realized_pnl_usd:+.4f} USD (fees {s.fees_usd:.4f} USD)",
        f"  fills                {s.fills} executions; {s.orders_placed} orders placed, {s.orders_rejected} rejected",
        f"  open exits           {s.open_exits} (+{s.recoveries} recoveries) holding {s.open_exit_capital_usd:.2f} USD",
        f"  account value        {s.start_value_usd:.2f} -> {s.end_value_usd:.2f} USD at {s.final_price:.5f}",
        f"  halts / violations   {s.halts} / {s.invariant_violations}; final mode {s.mode}"
        + (f" ({s.pause_reason})" if s.pause_reason else ""),
        f"  speed                {s.events} messages in {s.wall_s:.1f}s = {s.events_per_s:,.0f} events/s",
    ]
    return "\n".join(lines)
