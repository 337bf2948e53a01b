"""core/rate_limits.py: Kraken's trading and REST counters (kraken-api.md §5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import rate_limits as rl
from core.rate_limits import DecayingCounter, Tier


@pytest.mark.parametrize(
    ("age", "amend", "edit", "cancel"),
    [
        (0.0, 4, 7, 8), (4.99, 4, 7, 8), (5.0, 3, 6, 6), (7.0, 3, 6, 6), (10.0, 2, 5, 5), (14.9, 2, 5, 5),
        (15.0, 1, 3, 4), (44.9, 1, 3, 4), (45.0, 1, 2, 2), (89.9, 1, 2, 2), (90.0, 1, 1, 1), (299.9, 1, 1, 1),
        (300.0, 1, 1, 0), (10_000.0, 1, 1, 0),
    ],
)
def test_age_dependent_costs_follow_the_table(age: float, amend: float, edit: float, cancel: float) -> None:
    assert rl.amend_cost(age) == amend
    assert rl.edit_cost(age) == edit
    assert rl.cancel_cost(age) == cancel


def test_fixed_and_batch_costs() -> None:
    assert rl.add_order_cost() == 1
    assert rl.batch_add_cost(15) == 7.5
    assert rl.batch_cancel_cost([1.0, 7.0, 400.0]) == 8 + 6 + 0


def test_worked_example_from_the_guide() -> None:
    # add (+1), amend after 7 s (+1 fixed +2 age), cancel 36 s after the amend (+4) = 8 before decay.
    assert rl.add_order_cost() + rl.amend_cost(7) + rl.cancel_cost(36) == 8


def test_intermediate_burst_decays_as_documented() -> None:
    counter = rl.trading_counter(Tier.INTERMEDIATE)
    for _ in range(50):
        assert counter.try_add(1, now=1000.0)
    assert counter.value_at(1010.0) == pytest.approx(50 - 10 * 2.34)


@pytest.mark.parametrize(("tier", "threshold", "decay"), [
    (Tier.STARTER, 60, 1.0), (Tier.INTERMEDIATE, 125, 2.34), (Tier.PRO, 180, 3.75)])
def test_trading_tiers(tier: Tier, threshold: float, decay: float) -> None:
    counter = rl.trading_counter(tier)
    assert counter.limits.threshold == threshold
    assert counter.limits.decay_per_s == decay
    for _ in range(int(threshold)):
        assert counter.try_add(1, now=0.0)
    assert not counter.try_add(1, now=0.0)
    assert counter.value_at(0.0) == threshold  # a refused transaction is not added
    wait = counter.seconds_until_fits(1, now=0.0)
    assert wait == pytest.approx(1 / decay)
    assert counter.try_add(1, now=wait)


@pytest.mark.parametrize(("tier", "maximum", "decay"), [
    (Tier.STARTER, 15, 0.33), (Tier.INTERMEDIATE, 20, 0.5), (Tier.PRO, 20, 1.0)])
def test_rest_tiers(tier: Tier, maximum: float, decay: float) -> None:
    counter = rl.rest_counter(tier)
    assert (counter.limits.threshold, counter.limits.decay_per_s) == (maximum, decay)


def test_rest_call_weights() -> None:
    assert rl.rest_call_cost("Balance") == 1
    assert rl.rest_call_cost("TradesHistory") == 2
    assert rl.rest_call_cost("Ledgers") == 2
    assert rl.rest_call_cost("TradesHistory", heavy_cost=4) == 4
    assert rl.rest_call_cost("AddOrder") == 0  # trading calls use the trading counter


def test_open_order_limits() -> None:
    assert rl.OPEN_ORDER_LIMITS == {Tier.STARTER: 60, Tier.INTERMEDIATE: 80, Tier.PRO: 225}


def test_time_going_backwards_does_not_inflate() -> None:
    counter = DecayingCounter(rl.TRADING_LIMITS[Tier.STARTER])
    counter.add(10, now=100.0)
    counter.add(1, now=90.0)
    assert counter.value_at(100.0) == 11
    assert counter.value_at(105.0) == 6


@given(st.lists(st.tuples(st.floats(0, 30), st.floats(0, 10)), max_size=60))
def test_counter_never_negative_and_never_accepts_past_threshold(steps: list[tuple[float, float]]) -> None:
    counter = rl.trading_counter(Tier.STARTER)
    now = 0.0
    for dt, cost in steps:
        now += dt
        before = counter.value_at(now)
        accepted = counter.try_add(cost, now)
        after = counter.value_at(now)
        assert after >= 0
        if accepted:
            assert after <= counter.limits.threshold + 1e-6
            assert after == pytest.approx(before + cost)
        else:
            assert after == pytest.approx(before)
