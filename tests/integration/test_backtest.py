"""The whole system on the simulator's engine under a virtual clock, through ranging and trending data."""

from __future__ import annotations

import pytest

from actors.backtest import Backtest
from tests.integration.conftest import DOWNTREND, RANGING, UPTREND, consistency, settings


def test_same_data_gives_the_same_result_twice():
    runs = [Backtest(settings(), RANGING, max_candles=700).run().deterministic() for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0]["cycles"] > 0 and runs[0]["fills"] > 0


def test_ranging_market_bootstraps_cycles_and_compounds():
    checks: dict = {}
    summary = Backtest(settings(), RANGING).run(before_stop=lambda bt: checks.update(consistency(bt),
                                                                                         status=bt.system.status()))
    assert summary.candles > 4000
    assert summary.cycles >= 10
    assert summary.halts == 0 and summary.invariant_violations == 0
    assert summary.realized_pnl_usd > 0
    status = checks["status"]
    assert all(s.round_trips > 0 for s in status.slots), "every slot cycled"
    grown = [s for s in status.slots if s.total_profit > 0]
    assert grown and all(s.order_size_usd == pytest.approx(8 + s.total_profit) for s in grown), \
        "legacy_profit compounding: order size = base + slot profit"
    assert checks["booked"] > 0


def test_uptrend_orphans_stale_exits_into_recoveries():
    env = {"ORDER_SIZE_USD": "30", "S1_ORPHAN_AFTER_SEC": "3600", "S2_ORPHAN_AFTER_SEC": "7200",
           "SIM_USD_BALANCE": "3000", "SIM_DOGE_BALANCE": "20000"}
    checks: dict = {}
    summary = Backtest(settings(**env), UPTREND).run(before_stop=lambda bt: checks.update(consistency(bt)))
    assert summary.halts == 0 and summary.invariant_violations == 0
    assert summary.cycles > 0
    assert summary.recoveries > 0, "stale exits were orphaned into recoveries"
    assert checks["open"] >= summary.recoveries


def test_downtrend_sticky_exits_wait_instead_of_orphaning():
    env = {"ORDER_SIZE_USD": "30", "STICKY_MODE_ENABLED": "true", "SIM_USD_BALANCE": "3000",
           "SIM_DOGE_BALANCE": "20000"}
    checks: dict = {}
    summary = Backtest(settings(**env), DOWNTREND).run(before_stop=lambda bt: checks.update(consistency(bt)))
    assert summary.halts == 0 and summary.invariant_violations == 0
    assert summary.recoveries == 0, "sticky mode never orphans"
    assert summary.open_exits > 0, "exits stuck above a falling market wait"
