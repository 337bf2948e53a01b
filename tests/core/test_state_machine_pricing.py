"""Entry and exit price formulas, rounding direction and the post-only guard."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import pricing
from core.market import PairRules
from tests.core.test_state_machine_builders import CFG, make_cfg

TICK = 1e-7


def _net_after_maker_fees(entry: float, exit_: float, volume: float, exit_side: str, fee: float) -> float:
    if exit_side == "sell":  # trade B: bought at entry, sells at exit
        return exit_ * volume * (1 - fee) - entry * volume * (1 + fee)
    return entry * volume * (1 - fee) - exit_ * volume * (1 + fee)


def test_entry_prices_are_entry_pct_from_market() -> None:
    assert pricing.entry_price(0.1, "buy", CFG) == 0.09965
    assert pricing.entry_price(0.1, "sell", CFG) == 0.10035


def test_entry_rounding_moves_away_from_market() -> None:
    market = 0.123456789
    buy = pricing.entry_price(market, "buy", CFG)
    sell = pricing.entry_price(market, "sell", CFG)
    assert buy == 0.1230246  # 0.12302998...: rounded down
    assert sell == 0.1238889  # 0.12388888...: rounded up
    assert buy <= market * (1 - 0.0035) and sell >= market * (1 + 0.0035)


def test_entry_price_is_strictly_on_the_maker_side_even_with_zero_entry_pct() -> None:
    cfg = make_cfg(entry_pct=0.0)
    assert pricing.entry_price(0.1, "buy", cfg) == pytest.approx(0.1 - TICK)
    assert pricing.entry_price(0.1, "sell", cfg) == pytest.approx(0.1 + TICK)


def test_entry_price_is_zero_while_market_unknown() -> None:
    assert pricing.entry_price(0.0, "buy", CFG) == 0.0
    assert pricing.entry_price(-1.0, "sell", CFG) == 0.0


def test_exit_price_worked_example_trade_b() -> None:
    # docs/strategy.md: E = 0.1, f = 0.25 %, p = 1 % -> 0.1 * 1.0125 / 0.9975 = 0.10150376 -> up
    assert pricing.exit_price(0.1, 0.1, "sell", CFG) == 0.1015038


def test_exit_price_worked_example_trade_a() -> None:
    # E = 0.1 -> 0.1 * 0.9875 / 1.0025 = 0.09850374 -> down
    assert pricing.exit_price(0.1, 0.1, "buy", CFG) == 0.0985037


@pytest.mark.parametrize("exit_side", ["sell", "buy"])
def test_exit_price_nets_profit_pct_after_maker_fees_on_both_legs(exit_side: str) -> None:
    entry, volume = 0.0997, 100.0
    exit_ = pricing.exit_price(entry, entry, exit_side, CFG)  # type: ignore[arg-type]
    net = _net_after_maker_fees(entry, exit_, volume, exit_side, CFG.maker_fee)
    target = CFG.profit_pct / 100 * entry * volume
    assert net >= target - 1e-12
    assert net <= target + 2 * TICK * volume  # rounding adds at most one tick (plus fee on it)


@settings(max_examples=200, deadline=None)
@given(
    entry=st.floats(min_value=0.001, max_value=5.0),
    profit_pct=st.floats(min_value=0.05, max_value=5.0),
    fee_pct=st.floats(min_value=0.0, max_value=0.5),
    exit_side=st.sampled_from(["buy", "sell"]),
)
def test_exit_rounding_never_reduces_profit(
    entry: float, profit_pct: float, fee_pct: float, exit_side: str
) -> None:
    cfg = make_cfg(profit_pct=profit_pct, rules=PairRules(maker_fee_pct=fee_pct))
    exit_ = pricing.exit_price(entry, 0.0, exit_side, cfg)  # type: ignore[arg-type]
    target = pricing.exit_target(entry, exit_side, cfg)  # type: ignore[arg-type]
    if exit_side == "sell":
        assert exit_ >= target - 1e-12
    else:
        assert exit_ <= target + 1e-12 or exit_ == TICK
    net = _net_after_maker_fees(entry, exit_, 1.0, exit_side, cfg.maker_fee)
    assert net >= profit_pct / 100 * entry - 1e-9


def test_sell_exit_guard_keeps_post_only_exit_above_market() -> None:
    # The market jumped above the profit target before the exit was priced.
    exit_ = pricing.exit_price(0.1, 0.11, "sell", CFG)
    assert exit_ == pricing.ceil_to_tick(0.11 * 1.0035, 7)
    assert exit_ > 0.11


def test_buy_exit_guard_keeps_post_only_exit_below_market() -> None:
    exit_ = pricing.exit_price(0.1, 0.09, "buy", CFG)
    assert exit_ == pricing.floor_to_tick(0.09 * (1 - 0.0035), 7)
    assert exit_ < 0.09


def test_tick_rounding_absorbs_float_noise() -> None:
    assert pricing.floor_to_tick(0.1, 7) == 0.1
    assert pricing.ceil_to_tick(0.1, 7) == 0.1
    assert pricing.ceil_to_tick(0.10000001, 7) == 0.1000001
    assert pricing.floor_to_tick(0.09999999, 7) == 0.0999999


def test_pct_distance_is_relative_to_market() -> None:
    assert pricing.pct_distance(0.099, 0.1) == pytest.approx(1.0)
    assert pricing.pct_distance(0.1, 0.0) == 0.0
