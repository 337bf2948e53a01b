"""Capital-layer propagation tags (core/layer_propagation.py), driven through the real reducer."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from core import bootstrap, sizing
from core import layer_propagation as lp
from core import state_machine as sm

CFG = sm.EngineConfig()
SIZE = 10.0


def _boot(layers: int) -> tuple[sm.PairState, dict[int, int]]:
    start = sm.PairState(slot_id=1, market_price=0.1, now=1000.0)
    new, _ = sm.bootstrap_orders(start, CFG, SIZE)
    return new, lp.carry(start, new, {}, layers)


def _fill(state: sm.PairState, order: sm.OrderState, ts: float) -> sm.PairState:
    new, _ = sm.transition(state, sm.FillEvent(order_local_id=order.local_id, txid=f"T{order.local_id}",
                                               side=order.side, price=order.price, volume=order.volume,
                                               fee=0.0, timestamp=ts), CFG, SIZE)
    return new


def test_new_entries_carry_the_layers_they_were_sized_with() -> None:
    state, tags = _boot(2)
    assert {o.role for o in state.orders} == {"entry"}
    assert set(tags) == {o.local_id for o in state.orders}
    assert set(tags.values()) == {2}
    assert lp.counts(state, tags) == {2: 2}


def test_an_exit_inherits_its_entrys_layers_even_after_the_layers_changed() -> None:
    state, tags = _boot(1)
    entry = next(o for o in state.orders if o.trade_id == "B")
    new = _fill(state, entry, 1010.0)
    tags = lp.carry(state, new, tags, placing_layers=3)  # layers went up meanwhile
    exit_b = next(o for o in new.orders if o.trade_id == "B" and o.role == "exit")
    assert tags[exit_b.local_id] == 1, "the exit closes a 1-layer position"
    assert entry.local_id not in tags, "tags of orders gone are dropped"
    assert set(tags) == {o.local_id for o in new.orders}


def test_untagged_orders_count_as_unknown_and_summaries_compare_with_the_effective_count() -> None:
    state, _ = _boot(0)
    assert lp.counts(state, {}) == {lp.UNKNOWN: 2}
    p = lp.summarize([{1: 3, 2: 1}, {lp.UNKNOWN: 2, 2: 4}], effective_layers=2)
    assert (p.orders_total, p.orders_at_effective, p.orders_unknown) == (10, 5, 2)
    assert p.progress_pct == 50.0
    assert lp.summarize([], effective_layers=1).progress_pct is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fill", "tick"]), st.integers(0, 5), st.floats(0.09, 0.11)),
                max_size=25))
def test_tags_always_cover_exactly_the_active_orders(steps: list[tuple[str, int, float]]) -> None:
    state, tags = _boot(0)
    ts = 1000.0
    for kind, layers, price in steps:
        ts += 60.0
        if kind == "fill" and state.orders:
            new = _fill(state, state.orders[0], ts)
        else:
            new, _ = sm.transition(state, sm.PriceTick(price=price, timestamp=ts), CFG, SIZE)
        tags = lp.carry(state, new, tags, layers)
        state = new
        active = {o.local_id for o in state.orders}
        assert set(tags) == active, "every active order descends from a tagged entry"
        entries = {o.local_id for o in state.orders if o.role == "entry"}
        assert entries <= set(tags), "every entry is tagged when placed"
        assert sum(lp.counts(state, tags).values()) == len(state.orders)


# --------------------------------------------------------------------------- fixed-volume entries

LAYERED = sm.EngineConfig(capital_layer_doge_per_order=30.0)  # 10 USD + 2 x 30 DOGE at 0.1 = 160 DOGE
PRICE = 0.1


def _own(cfg: sm.EngineConfig, layers: int, profit: float = 0.0) -> sizing.TradeSizes:
    return sizing.slot_trade_sizes(cfg, slot_total_profit=profit, price=PRICE, effective_layers=layers)


def test_a_fixed_volume_carries_the_layers_exactly_when_it_reaches_the_layered_size() -> None:
    sizes = _own(LAYERED, 2)
    layered = sizing.entry_volume(sizes, "B", PRICE, LAYERED).volume
    assert layered == 160.0
    # The runtime's repair volume (order_volume: the slot's size at the effective layers).
    assert lp.fixed_volume_layers(layered, sizes, ("B",), PRICE, LAYERED, 2) == 2
    assert lp.fixed_volume_layers(layered, sizes, ("A", "B"), PRICE, LAYERED, 2) == 2
    assert lp.fixed_volume_layers(layered + 5, sizes, ("A",), PRICE, LAYERED, 2) == 2
    # Reduced to what the funds allow (degraded single-side bootstrap): no layer.
    assert lp.fixed_volume_layers(layered - 1e-6, sizes, ("A",), PRICE, LAYERED, 2) == 0
    assert lp.fixed_volume_layers(130.0, sizes, ("B",), PRICE, LAYERED, 2) == 0
    # The 2 x minimum reseed order: no layer.
    reseed = LAYERED.rules.floor_volume(2 * bootstrap.min_tradeable_volume(PRICE, LAYERED.rules))
    assert lp.fixed_volume_layers(reseed, sizes, ("A",), PRICE, LAYERED, 2) == 0
    # The unlayered size at 0 layers is tagged 0 either way.
    assert lp.fixed_volume_layers(100.0, _own(LAYERED, 0), ("A",), PRICE, LAYERED, 0) == 0


def test_compounded_sizes_and_doge_mode_are_compared_with_the_slots_own_size() -> None:
    grown = _own(LAYERED, 1, profit=2.0)  # 12 USD + 3 USD of layer = 150 DOGE
    assert lp.fixed_volume_layers(130.0, grown, ("B",), PRICE, LAYERED, 1) == 0
    assert lp.fixed_volume_layers(150.0, grown, ("B",), PRICE, LAYERED, 1) == 1
    doge = msgspec.structs.replace(LAYERED, order_size_mode="DOGE")  # 60 + 30 per layer
    assert lp.fixed_volume_layers(120.0, _own(doge, 2), ("A",), PRICE, doge, 2) == 2
    assert lp.fixed_volume_layers(119.0, _own(doge, 2), ("A",), PRICE, doge, 2) == 0


def test_no_layer_when_the_slot_size_cannot_be_placed_or_the_volume_is_garbage() -> None:
    tiny = msgspec.structs.replace(LAYERED, order_size_usd=1.0, capital_layer_doge_per_order=1.0)
    assert sizing.entry_volume(_own(tiny, 1), "A", PRICE, tiny).volume is None  # 11 DOGE < 50 minimum
    assert lp.fixed_volume_layers(100.0, _own(tiny, 1), ("A",), PRICE, tiny, 1) == 0
    assert lp.fixed_volume_layers(160.0, _own(LAYERED, 2), ("A",), 0.0, LAYERED, 2) == 0
    for bad in (float("nan"), float("inf"), 0.0, -160.0):
        assert lp.fixed_volume_layers(bad, _own(LAYERED, 2), ("A",), PRICE, LAYERED, 2) == 0
