"""PriceTick rules (§7.1): market update, stale-entry refresh, anti-chase counter and cooldown."""

from __future__ import annotations

from msgspec.structs import replace

from core import pricing
from core import state_machine as sm
from tests.core.test_state_machine_builders import CFG, make_cfg, of_type, order_of, s0_state, step


def test_price_tick_updates_market_now_and_last_price_update() -> None:
    st2, actions = step(s0_state(), sm.PriceTick(price=0.1003, timestamp=1500.0))
    assert (st2.market_price, st2.now, st2.last_price_update_at) == (0.1003, 1500.0, 1500.0)
    assert actions == []  # 0.3 % drift: nothing to refresh


def test_invalid_price_tick_is_ignored() -> None:
    st = s0_state()
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        st2, actions = step(st, sm.PriceTick(price=bad, timestamp=1500.0))
        assert st2.market_price == 0.1 and actions == []


def test_stale_entry_is_refreshed_when_drift_exceeds_refresh_pct() -> None:
    st = s0_state()
    old = order_of(st, "B", "entry")  # buy at 0.09965
    st2, actions = step(st, sm.PriceTick(price=0.1012, timestamp=1500.0))  # buy now 1.53 % away
    cancel, place = actions
    assert isinstance(cancel, sm.CancelOrderAction) and isinstance(place, sm.PlaceOrderAction)
    assert (cancel.local_id, cancel.txid, cancel.reason) == (old.local_id, old.txid, "stale_entry")
    assert (place.trade_id, place.side, place.role, place.reason) == ("B", "buy", "entry", "refresh_entry")
    assert place.price == pricing.entry_price(0.1012, "buy", CFG)
    assert place.cycle == old.cycle
    new = order_of(st2, "B", "entry")
    assert new.local_id == place.local_id != old.local_id
    assert [p.local_id for p in st2.pending_cancels] == [old.local_id]  # tracked until confirmed
    assert (st2.consecutive_refreshes_b, st2.last_refresh_direction_b) == (1, "up")
    assert sm.check_invariants(st2) == []


def test_entry_within_refresh_pct_is_not_refreshed() -> None:
    st = s0_state()
    # Buy entry at 0.09965: at 0.10065 it is 0.994 % away, under the 1 % threshold.
    st2, actions = step(st, sm.PriceTick(price=0.10065, timestamp=1500.0))
    assert actions == [] and st2.orders == st.orders


def test_at_most_one_entry_replacement_per_tick() -> None:
    st = s0_state()
    # Both entries out of band at once: shrink the band (0.1 %) below entry_pct (0.35 %).
    cfg = make_cfg(refresh_pct=0.1)
    st2, actions = step(st, sm.PriceTick(price=0.1, timestamp=1500.0), cfg)
    assert len(of_type(actions, sm.CancelOrderAction)) == 1
    assert [a.trade_id for a in of_type(actions, sm.PlaceOrderAction)] == ["A"]  # oldest entry first
    # The other trade's entry, now the oldest out-of-band one, goes on the next tick.
    _, actions = step(st2, sm.PriceTick(price=0.1, timestamp=1501.0), cfg)
    assert [a.trade_id for a in of_type(actions, sm.PlaceOrderAction)] == ["B"]
    assert len(of_type(actions, sm.CancelOrderAction)) == 1


def _b_only() -> sm.PairState:
    """A long_only slot: only B's buy entry, so every refresh in these tests is B's."""
    st, _ = sm.bootstrap_orders(sm.PairState(market_price=0.1, now=1000.0), CFG, 10.0, "B")
    assert st.long_only and len(st.orders) == 1
    return st


def _chase(st: sm.PairState, prices: list[float], t0: float = 1500.0, cfg: sm.EngineConfig = CFG):
    out = []
    for i, p in enumerate(prices):
        st, actions = step(st, sm.PriceTick(price=p, timestamp=t0 + i), cfg)
        out.append(actions)
    return st, out


def test_anti_chase_cooldown_after_max_consecutive_refreshes() -> None:
    st = _b_only()
    # The market keeps running up: B's buy entry is chased upward every tick.
    prices = [0.1012, 0.1025, 0.1038, 0.1051]
    st, per_tick = _chase(st, prices)
    b_refreshes = [
        sum(1 for a in acts if isinstance(a, sm.PlaceOrderAction) and a.trade_id == "B") for acts in per_tick
    ]
    assert b_refreshes == [1, 1, 1, 0]  # three refreshes, the fourth starts the cooldown
    assert st.consecutive_refreshes_b == 3 and st.last_refresh_direction_b == "up"
    assert st.refresh_cooldown_until_b == 1503.0 + CFG.refresh_cooldown_sec
    assert sm.check_invariants(st) == []


def test_refresh_is_allowed_again_after_the_refresh_cooldown_lapses() -> None:
    st, _ = _chase(_b_only(), [0.1012, 0.1025, 0.1038, 0.1051])
    until = st.refresh_cooldown_until_b
    st_mid, actions = step(st, sm.PriceTick(price=0.1064, timestamp=until - 1))
    assert not any(isinstance(a, sm.PlaceOrderAction) and a.trade_id == "B" for a in actions)
    st2, actions = step(st_mid, sm.PriceTick(price=0.1064, timestamp=until))
    assert [a.trade_id for a in of_type(actions, sm.PlaceOrderAction)] == ["B"]
    assert (st2.consecutive_refreshes_b, st2.refresh_cooldown_until_b) == (1, 0.0)


def test_direction_flip_restarts_the_refresh_count() -> None:
    st = replace(_b_only(), consecutive_refreshes_b=2, last_refresh_direction_b="up")
    st2, actions = step(st, sm.PriceTick(price=0.0975, timestamp=1500.0))  # B's buy entry now above market
    assert [a.trade_id for a in of_type(actions, sm.PlaceOrderAction)] == ["B"]
    assert (st2.consecutive_refreshes_b, st2.last_refresh_direction_b) == (1, "down")


def test_refresh_is_skipped_when_the_replacement_cannot_be_sized() -> None:
    st = s0_state()
    st2, actions = sm.transition(
        st, sm.PriceTick(price=0.1012, timestamp=1500.0), CFG, 1.0
    )  # 1 USD: too small
    assert actions == []
    assert order_of(st2, "B", "entry") == order_of(st, "B", "entry")  # the stale entry stays


def test_entry_fill_resets_the_anti_chase_counter() -> None:
    st = replace(
        s0_state(), consecutive_refreshes_b=3, last_refresh_direction_b="up", refresh_cooldown_until_b=9e9
    )
    b = order_of(st, "B", "entry")
    st2, _ = step(
        st,
        sm.FillEvent(
            order_local_id=b.local_id,
            txid="T",
            side="buy",
            price=b.price,
            volume=b.volume,
            fee=0.02,
            timestamp=1500.0,
        ),
    )
    assert (st2.consecutive_refreshes_b, st2.last_refresh_direction_b, st2.refresh_cooldown_until_b) == (
        0,
        None,
        0.0,
    )
