"""Order sizing (§8, §9, §18, checklist §2.5/§3.10/§5.7): never upsize, compounding, DOGE mode,
capital layers, rebalancer skew and its fund guard."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import state_machine as sm
from core.market import PairRules
from core.sizing import (
    TradeSizes,
    base_order_size_usd,
    compute_order_volume,
    effective_layers,
    entry_volume,
    skew_multiplier,
    slot_order_size_doge,
    slot_order_size_usd,
    slot_trade_sizes,
)
from tests.core.test_state_machine_builders import CFG, make_cfg

RULES = PairRules()


def test_compute_order_volume_divides_usd_by_price_and_floors_to_the_step() -> None:
    res = compute_order_volume(10.0, 0.0997, RULES)
    assert res.ok and res.reason == "ok"
    assert res.volume == 100.30090270  # 100.300902708... floored, never rounded up


def test_compute_order_volume_never_upsizes_below_min_volume() -> None:
    res = compute_order_volume(4.0, 0.1, RULES)  # 40 DOGE < 50
    assert res.volume is None and res.reason == "below_min_volume"
    assert "ORDER_SIZE_USD=4" in res.detail and "min_vol=50" in res.detail and "price=0.1000000" in res.detail


def test_compute_order_volume_never_upsizes_below_min_cost() -> None:
    rules = PairRules(min_volume=1.0, min_cost_usd=0.5)
    res = compute_order_volume(0.4, 0.1, rules)
    assert res.volume is None and res.reason == "below_min_cost"


def test_compute_order_volume_rejects_bad_inputs() -> None:
    assert compute_order_volume(10.0, 0.0, RULES).reason == "invalid_price"
    assert compute_order_volume(10.0, float("nan"), RULES).reason == "invalid_price"
    assert compute_order_volume(0.0, 0.1, RULES).reason == "non_positive_size"


@settings(max_examples=200, deadline=None)
@given(usd=st.floats(min_value=0.0, max_value=1e5), price=st.floats(min_value=1e-4, max_value=10.0))
def test_compute_order_volume_never_exceeds_the_requested_notional(usd: float, price: float) -> None:
    res = compute_order_volume(usd, price, RULES)
    if res.volume is None:
        assert usd / price < RULES.min_volume + 1e-6 or usd < RULES.min_cost_usd + 1e-9
    else:
        assert res.volume * price <= usd + 1e-9
        assert res.volume >= RULES.min_volume and res.volume * price >= RULES.min_cost_usd - 1e-12


def test_doge_mode_uses_a_fixed_precision_clamped_volume_independent_of_price() -> None:
    for price in (0.05, 0.1, 0.5):
        res = compute_order_volume(0.0, price, RULES, order_size_mode="DOGE", order_size_doge=60.123456789)
        assert res.volume == 60.12345678
    assert compute_order_volume(0.0, 0.1, RULES, order_size_mode="DOGE", order_size_doge=18.0).reason == (
        "below_min_volume"
    )


def test_doge_mode_keeps_the_min_cost_guard() -> None:
    rules = PairRules(min_volume=1.0, min_cost_usd=0.5)
    res = compute_order_volume(0.0, 0.001, rules, order_size_mode="DOGE", order_size_doge=60.0)
    assert res.reason == "below_min_cost"


def test_doge_mode_avoids_the_min_size_failure_of_the_usd_division_path() -> None:
    # 6 USD at 0.125 USD/DOGE is 48 DOGE: below Kraken's 50 DOGE minimum in USD mode...
    assert compute_order_volume(6.0, 0.125 * 1.0035, RULES).volume is None
    # ...while DOGE mode asks for 60 DOGE whatever the price does.
    cfg = make_cfg(order_size_mode="DOGE", order_size_doge=60.0)
    assert entry_volume(6.0, "A", 0.125 * 1.0035, cfg).volume == 60.0


def test_reducer_places_doge_mode_entries_with_the_fixed_volume() -> None:
    cfg = make_cfg(order_size_mode="DOGE", order_size_doge=60.0)
    for market in (0.07, 0.2):
        _, actions = sm.bootstrap_orders(sm.PairState(market_price=market), cfg, 10.0)
        assert [a.volume for a in actions] == [60.0, 60.0]


def test_legacy_profit_compounding_adds_slot_profit() -> None:
    assert base_order_size_usd(CFG, 2.5) == 12.5
    assert base_order_size_usd(CFG, -3.0) == 10.0  # losses never shrink the base


def test_fixed_compounding_keeps_notional_stable_as_profits_change() -> None:
    cfg = make_cfg(sticky_compounding_mode="fixed")
    assert {base_order_size_usd(cfg, p) for p in (-5.0, 0.0, 3.0, 100.0)} == {10.0}


def test_capital_layers_add_doge_per_order_at_market_price() -> None:
    size = slot_order_size_usd(CFG, slot_total_profit=0.0, price=0.1, effective_layers=3)
    assert size == pytest.approx(10.0 + 3 * 1.0 * 0.1)


def test_skew_scales_only_the_favoured_side() -> None:
    assert skew_multiplier(0.2, "B", CFG) == pytest.approx(1.2)
    assert skew_multiplier(0.2, "A", CFG) == 1.0
    assert skew_multiplier(-0.2, "A", CFG) == pytest.approx(1.2)
    assert skew_multiplier(-0.2, "B", CFG) == 1.0
    assert skew_multiplier(0.0, "B", CFG) == 1.0
    assert skew_multiplier(0.2, None, CFG) == 1.0


def test_skew_multiplier_is_capped_at_max_size_mult() -> None:
    assert skew_multiplier(0.9, "B", CFG) == 1.5
    assert (
        skew_multiplier(0.3, "B", make_cfg(rebalance_size_sensitivity=3.0, rebalance_max_size_mult=1.6))
        == 1.6
    )


def test_skewed_size_applies_to_base_with_layers() -> None:
    size = slot_order_size_usd(
        CFG, slot_total_profit=2.0, price=0.1, effective_layers=10, skew=0.25, trade_id="B"
    )
    assert size == pytest.approx((12.0 + 1.0) * 1.25)


def test_fund_guard_caps_scaling_at_the_favoured_side_balance() -> None:
    b = slot_order_size_usd(CFG, slot_total_profit=0.0, price=0.1, skew=0.3, trade_id="B", available_usd=11.0)
    assert b == 11.0  # wanted 13.0
    a = slot_order_size_usd(
        CFG, slot_total_profit=0.0, price=0.1, skew=-0.3, trade_id="A", available_doge=120.0
    )
    assert a == pytest.approx(12.0)  # 120 DOGE x 0.1


def test_fund_guard_never_scales_below_base() -> None:
    b = slot_order_size_usd(CFG, slot_total_profit=0.0, price=0.1, skew=0.3, trade_id="B", available_usd=2.0)
    assert b == 10.0


def test_doge_mode_slot_size_is_not_coupled_to_usd_compounding() -> None:
    cfg = make_cfg(order_size_mode="DOGE", order_size_doge=60.0)
    assert slot_order_size_doge(cfg, price=0.1, effective_layers=2) == 62.0
    sizes_rich = slot_trade_sizes(cfg, slot_total_profit=50.0, price=0.1)
    sizes_poor = slot_trade_sizes(cfg, slot_total_profit=0.0, price=0.3)
    assert sizes_rich == sizes_poor == TradeSizes(a=60.0, b=60.0, unit="DOGE")


def test_doge_mode_skew_and_fund_guard() -> None:
    cfg = make_cfg(order_size_mode="DOGE", order_size_doge=60.0)
    assert slot_order_size_doge(cfg, price=0.1, skew=-0.5, trade_id="A") == 90.0
    assert slot_order_size_doge(cfg, price=0.1, skew=-0.5, trade_id="A", available_doge=70.0) == 70.0
    assert slot_order_size_doge(cfg, price=0.1, skew=0.5, trade_id="B", available_usd=8.0) == pytest.approx(
        80.0
    )


def test_slot_trade_sizes_feed_the_reducer_per_trade() -> None:
    sizes = slot_trade_sizes(CFG, slot_total_profit=0.0, price=0.1, skew=0.5)
    assert sizes == TradeSizes(a=10.0, b=15.0, unit="USD")
    _, actions = sm.bootstrap_orders(sm.PairState(market_price=0.1), CFG, sizes)
    by_trade = {a.trade_id: a.volume for a in actions}
    assert by_trade["B"] == CFG.rules.floor_volume(15.0 / 0.09965)
    assert by_trade["A"] == CFG.rules.floor_volume(10.0 / 0.10035)


def test_effective_layers_is_limited_by_target_doge_and_usd() -> None:
    cfg = make_cfg(capital_layer_doge_per_order=1.0, capital_layer_balance_buffer=1.5)
    # 10 sells x 1 DOGE x 1.5 = 15 DOGE per layer; 10 buys x 1 DOGE x 0.1 x 1.5 = 1.5 USD per layer.
    kw = {"active_sell_orders": 10, "active_buy_orders": 10}
    assert effective_layers(5, 1000.0, 1000.0, 0.1, cfg, **kw) == 5
    assert effective_layers(5, 46.0, 1000.0, 0.1, cfg, **kw) == 3
    assert effective_layers(5, 1000.0, 3.1, 0.1, cfg, **kw) == 2
    assert effective_layers(0, 1000.0, 1000.0, 0.1, cfg, **kw) == 0
    assert effective_layers(5, 1000.0, 1000.0, 0.0, cfg, **kw) == 0


def test_trade_sizes_select_by_trade() -> None:
    sizes = TradeSizes(a=1.0, b=2.0)
    assert (sizes.for_trade("A"), sizes.for_trade("B"), sizes.unit) == (1.0, 2.0, "USD")
