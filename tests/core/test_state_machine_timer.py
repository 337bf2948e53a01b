"""TimerTick rules (§7.2, §11): S1 stale-exit orphaning, S2 timeout, sticky mode, recovery cap."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from core import state_machine as sm
from tests.core.test_state_machine_builders import (
    CFG,
    fill_entry,
    fill_of,
    make_cfg,
    of_type,
    order_of,
    s1_state,
    s2_state,
    step,
)

S1_AGE = CFG.s1_orphan_after_sec
S2_AGE = CFG.s2_orphan_after_sec


def _moved(st: sm.PairState, price: float, ts: float) -> sm.PairState:
    st, _ = step(st, sm.PriceTick(price=price, timestamp=ts))
    return st


def test_s1_stale_exit_is_orphaned_after_timeout_when_market_moved_away() -> None:
    st = _moved(s1_state("B"), 0.098, 1100.0)  # B holds DOGE; the market fell away from its sell exit
    exit_ = order_of(st, "B", "exit")
    st2, actions = step(st, sm.TimerTick(timestamp=1010.0 + S1_AGE))
    (orphan,) = of_type(actions, sm.OrphanOrderAction)
    assert (orphan.local_id, orphan.reason) == (exit_.local_id, "s1_timeout")
    (rec,) = st2.recovery_orders
    assert (rec.recovery_id, rec.local_id, rec.txid) == (orphan.recovery_id, exit_.local_id, exit_.txid)
    assert (rec.price, rec.volume, rec.entry_price, rec.entry_fee) == (
        exit_.price,
        exit_.volume,
        exit_.entry_price,
        exit_.entry_fee,
    )
    assert rec.orphaned_at == 1010.0 + S1_AGE
    assert of_type(actions, sm.CancelOrderAction) == []  # the exchange order stays live
    assert all(o.role == "entry" for o in st2.orders)
    assert sm.check_invariants(st2, CFG) == []


def test_s1_exit_is_not_orphaned_before_the_timeout() -> None:
    st = _moved(s1_state("B"), 0.098, 1100.0)
    st2, actions = step(st, sm.TimerTick(timestamp=1010.0 + S1_AGE - 1))
    assert actions == [] and st2.recovery_orders == ()


def test_s1_exit_is_not_orphaned_when_market_moved_toward_it() -> None:
    st = _moved(s1_state("B"), 0.1008, 1100.0)  # rising toward the sell exit
    st2, actions = step(st, sm.TimerTick(timestamp=1010.0 + 3 * S1_AGE))
    assert of_type(actions, sm.OrphanOrderAction) == [] and st2.recovery_orders == ()


def test_s1a_buy_exit_is_orphaned_when_market_rises_away() -> None:
    st = _moved(s1_state("A"), 0.102, 1100.0)
    _, actions = step(st, sm.TimerTick(timestamp=1010.0 + S1_AGE))
    (orphan,) = of_type(actions, sm.OrphanOrderAction)
    assert orphan.reason == "s1_timeout"


def test_orphan_advances_cycle_applies_base_cooldown_and_rearms_later() -> None:
    st = _moved(s1_state("B"), 0.098, 1100.0)
    t = 1010.0 + S1_AGE
    st2, actions = step(st, sm.TimerTick(timestamp=t))
    assert st2.cycle_b == 2 and st2.cooldown_until_b == t + CFG.reentry_base_cooldown_sec
    assert st2.entry_pending_b and of_type(actions, sm.PlaceOrderAction) == []
    st3, actions = step(st2, sm.TimerTick(timestamp=t + CFG.reentry_base_cooldown_sec))
    (place,) = of_type(actions, sm.PlaceOrderAction)
    assert (place.trade_id, place.role, place.cycle) == ("B", "entry", 2)
    assert sm.derive_phase(st3) == "S0" and sm.check_invariants(st3) == []


def test_s2_timeout_orphans_the_worse_exit() -> None:
    st = _moved(s2_state(), 0.1030, 1100.0)  # far above A's buy exit, near B's sell exit
    a_exit, b_exit = order_of(st, "A", "exit"), order_of(st, "B", "exit")
    assert abs(a_exit.price - 0.103) > abs(b_exit.price - 0.103)
    st2, actions = step(st, sm.TimerTick(timestamp=1020.0 + S2_AGE))
    (orphan,) = of_type(actions, sm.OrphanOrderAction)
    assert (orphan.local_id, orphan.reason) == (a_exit.local_id, "s2_timeout")
    assert sm.derive_phase(st2) == "S1b"
    assert st2.s2_entered_at is None and st2.cycle_a == 2
    assert sm.check_invariants(st2, CFG) == []


def test_s2_timeout_waits_for_s2_orphan_after_sec() -> None:
    st = _moved(s2_state(), 0.1030, 1100.0)
    st2, actions = step(st, sm.TimerTick(timestamp=1020.0 + S2_AGE - 1))
    assert actions == [] and st2.s2_entered_at == 1020.0


def test_s2_worse_exit_tie_orphans_the_older_exit() -> None:
    st = s2_state()
    a_exit, b_exit = order_of(st, "A", "exit"), order_of(st, "B", "exit")
    mid = (a_exit.price + b_exit.price) / 2
    # Make the two distances exactly equal around the market.
    orders = (replace(a_exit, price=mid - 0.002), replace(b_exit, price=mid + 0.002))
    st = replace(st, orders=orders, market_price=mid)
    _, actions = step(st, sm.TimerTick(timestamp=1020.0 + S2_AGE))
    (orphan,) = of_type(actions, sm.OrphanOrderAction)
    assert orphan.local_id == min(a_exit.local_id, b_exit.local_id)


def test_timer_tick_starts_the_s2_clock_for_a_loaded_s2_state_without_one() -> None:
    st = replace(s2_state(), s2_entered_at=None, now=5000.0)
    st2, actions = step(st, sm.TimerTick(timestamp=5001.0))
    assert actions == [] and st2.s2_entered_at == 5001.0


def test_sticky_mode_timer_never_orphans() -> None:
    cfg = make_cfg(sticky_mode_enabled=True)
    st = _moved(s1_state("B", cfg=cfg), 0.05, 1100.0)
    st2, actions = step(st, sm.TimerTick(timestamp=1010.0 + 100 * S1_AGE), cfg)
    assert of_type(actions, sm.OrphanOrderAction) == [] and st2.recovery_orders == ()
    assert order_of(st2, "B", "exit") == order_of(st, "B", "exit")


def test_sticky_mode_s2_is_two_independent_exit_waits() -> None:
    cfg = make_cfg(sticky_mode_enabled=True)
    st = s2_state(cfg)
    assert st.s2_entered_at is None  # no S2 timer in sticky mode
    st2, actions = step(_moved(st, 0.2, 1100.0), sm.TimerTick(timestamp=1020.0 + 100 * S2_AGE), cfg)
    assert of_type(actions, sm.OrphanOrderAction) == [] and len(st2.orders) == 2
    # Each exit then completes on its own, exactly as in S1.
    st3, actions = step(st2, fill_of(order_of(st2, "B", "exit"), 1_000_000.0), cfg)
    assert len(of_type(actions, sm.BookCycleAction)) == 1
    assert sm.derive_phase(st3) == "S1a" and sm.check_invariants(st3, cfg) == []


def test_non_sticky_mode_keeps_the_legacy_orphan_path() -> None:
    st = _moved(s1_state("B"), 0.05, 1100.0)
    _, actions = step(st, sm.TimerTick(timestamp=1010.0 + S1_AGE), make_cfg(sticky_mode_enabled=False))
    assert len(of_type(actions, sm.OrphanOrderAction)) == 1


def _orphan_cycle(
    st: sm.PairState, t: float, cfg: sm.EngineConfig
) -> tuple[sm.PairState, list[sm.Action], float]:
    """Fill B's entry, let its exit go stale and orphan it; returns the state after the orphan."""
    st = fill_entry(st, "B", t, cfg)
    st = _moved(st, st.market_price * 0.98, t + 1)
    st, actions = step(st, sm.TimerTick(timestamp=t + cfg.s1_orphan_after_sec), cfg)
    t = t + cfg.s1_orphan_after_sec
    st, _ = step(st, sm.TimerTick(timestamp=t + cfg.reentry_base_cooldown_sec), cfg)  # re-arm B
    return st, actions, t + cfg.reentry_base_cooldown_sec + 1


def test_recovery_cap_evicts_the_oldest_with_its_loss_booked() -> None:
    cfg = make_cfg(max_recovery_slots=2, s1_orphan_after_sec=600.0)
    st = s1_state("B", cfg=cfg)
    st = _moved(st, 0.1, 1011.0)
    st, _ = step(st, fill_of(order_of(st, "B", "exit"), 1012.0), cfg)  # clean start
    st, _ = step(st, sm.TimerTick(timestamp=1100.0), cfg)
    t = 1200.0
    for _ in range(2):
        st, _, t = _orphan_cycle(st, t, cfg)
    assert len(st.recovery_orders) == 2
    oldest = min(st.recovery_orders, key=lambda r: r.orphaned_at)
    profit_before = st.total_profit
    st, actions, t = _orphan_cycle(st, t, cfg)
    assert len(st.recovery_orders) == 2
    assert oldest.recovery_id not in {r.recovery_id for r in st.recovery_orders}
    (book,) = of_type(actions, sm.BookCycleAction)
    rec = book.record
    assert (rec.close_reason, rec.from_recovery, rec.recovery_id) == ("evicted", True, oldest.recovery_id)
    expected = (rec.exit_price - oldest.entry_price) * oldest.volume - oldest.entry_fee
    assert rec.net_profit == pytest.approx(expected) and rec.net_profit < 0
    assert rec.exit_price == st.market_price  # booked at the market when evicted
    assert st.total_profit == pytest.approx(profit_before + rec.net_profit)
    (cancel,) = of_type(actions, sm.CancelOrderAction)
    assert (cancel.local_id, cancel.txid, cancel.recovery_id, cancel.reason) == (
        oldest.local_id,
        oldest.txid,
        oldest.recovery_id,
        "recovery_evicted",
    )
    assert any(p.recovery_id == oldest.recovery_id and p.kind == "recovery" for p in st.pending_cancels)
    assert sm.check_invariants(st, cfg) == []


def test_eviction_books_at_the_market_price() -> None:
    cfg = make_cfg(max_recovery_slots=1)
    rec = sm.RecoveryOrder(
        recovery_id=1,
        local_id=5,
        side="sell",
        price=0.105,
        volume=100.0,
        trade_id="B",
        cycle=1,
        entry_price=0.1,
        entry_fee=0.025,
        orphaned_at=10.0,
        txid="TXR",
    )
    st = replace(s1_state("B", cfg=cfg), recovery_orders=(rec,), next_recovery_id=2, market_price=0.09)
    st = replace(st, next_order_id=max(st.next_order_id, 6))
    st, actions = step(st, sm.TimerTick(timestamp=1010.0 + S1_AGE), cfg)
    (book,) = of_type(actions, sm.BookCycleAction)
    assert book.record.exit_price == 0.09
    assert book.record.net_profit == pytest.approx((0.09 - 0.1) * 100.0 - 0.025)
    assert [r.recovery_id for r in st.recovery_orders] == [2]


def test_timer_tick_orphans_nothing_while_the_market_is_unknown() -> None:
    st = replace(s1_state("B"), market_price=0.0)
    st2, actions = step(st, sm.TimerTick(timestamp=1010.0 + 10 * S1_AGE))
    assert actions == [] and st2.recovery_orders == ()
