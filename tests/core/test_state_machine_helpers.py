"""Runtime helpers: bootstrap, txid binding, rejected placements, sticky release, mode normalisation."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from core import pricing
from core import state_machine as sm
from core.sizing import TradeSizes
from tests.core.test_state_machine_builders import (
    CFG,
    make_cfg,
    of_type,
    order_of,
    s0_state,
    s1_state,
    s2_state,
    step,
)

FRESH = sm.PairState(market_price=0.1, now=1000.0)


def test_bootstrap_both_places_a_sell_and_b_buy_entries() -> None:
    st, actions = sm.bootstrap_orders(FRESH, CFG, 10.0)
    assert [(a.trade_id, a.side, a.role, a.cycle, a.reason) for a in actions] == [
        ("A", "sell", "entry", 1, "bootstrap"),
        ("B", "buy", "entry", 1, "bootstrap"),
    ]
    assert [a.price for a in actions] == [0.10035, 0.09965]
    assert actions[1].volume == CFG.rules.floor_volume(10.0 / 0.09965)
    assert (st.long_only, st.short_only, st.mode_source) == (False, False, "none")
    assert st.next_order_id == 3 and sm.check_invariants(st) == []


@pytest.mark.parametrize(("which", "flag"), [("A", "short_only"), ("B", "long_only")])
def test_bootstrap_one_side_sets_the_fallback_flag(which: str, flag: str) -> None:
    st, actions = sm.bootstrap_orders(FRESH, CFG, 10.0, which, mode_source="balance")  # type: ignore[arg-type]
    assert [a.trade_id for a in actions] == [which]
    assert getattr(st, flag) is True and st.mode_source == "balance"
    assert sm.check_invariants(st) == []


def test_bootstrap_reseed_at_twice_the_minimum_volume() -> None:
    sizes = TradeSizes(a=2 * CFG.rules.min_volume, b=0.0, unit="DOGE")
    st, actions = sm.bootstrap_orders(FRESH, CFG, sizes, "A")
    assert [a.volume for a in actions] == [100.0]
    assert st.short_only


def test_bootstrap_places_nothing_below_the_exchange_minimum() -> None:
    st, actions = sm.bootstrap_orders(FRESH, CFG, 1.0)
    assert actions == [] and st.orders == ()
    assert sm.is_bootstrap_pending_state(st) and sm.is_min_size_wait_state(st, CFG, 1.0, 0.1)


def test_bootstrap_repairs_a_missing_leg_and_clears_the_flag() -> None:
    st, _ = sm.bootstrap_orders(FRESH, CFG, 10.0, "B")
    st2, actions = sm.bootstrap_orders(st, CFG, 10.0, "A")
    assert [a.trade_id for a in actions] == ["A"]
    assert (st2.long_only, st2.short_only, st2.mode_source) == (False, False, "none")
    st3, again = sm.bootstrap_orders(st2, CFG, 10.0)
    assert again == [] and st3 == st2  # trades that already have orders are left alone


def test_bootstrap_leaves_a_trade_in_reentry_cooldown_to_the_reducer() -> None:
    st = replace(FRESH, cooldown_until_a=1060.0, entry_pending_a=True)
    st2, actions = sm.bootstrap_orders(st, CFG, 10.0)
    assert [a.trade_id for a in actions] == ["B"]
    assert st2.entry_pending_a and not st2.long_only


def test_bind_txid_sets_the_exchange_id_of_orders_recoveries_and_pending_cancels() -> None:
    st, _ = sm.bootstrap_orders(FRESH, CFG, 10.0)
    st = sm.bind_txid(st, 1, "OABC")
    assert order_of(st, "A", "entry").txid == "OABC" and order_of(st, "B", "entry").txid == ""
    rec = sm.RecoveryOrder(
        recovery_id=1, local_id=9, side="buy", price=0.09, volume=60.0, trade_id="A", cycle=1, entry_price=0.1
    )
    st = replace(st, recovery_orders=(rec,))
    assert sm.bind_txid(st, 9, "OREC").recovery_orders[0].txid == "OREC"
    assert sm.bind_recovery_txid(st, 1, "OREC2").recovery_orders[0].txid == "OREC2"


def test_remove_rejected_entry_leaves_a_consistent_one_sided_slot() -> None:
    st = s0_state()
    st2, actions = sm.remove_order(st, order_of(st, "A", "entry").local_id, CFG)
    assert actions == [] and [o.trade_id for o in st2.orders] == ["B"]
    assert st2.long_only and st2.mode_source == "balance"
    assert sm.check_invariants(st2) == []


def test_remove_rejected_exit_reissues_it_so_the_position_keeps_an_exit() -> None:
    st = s1_state("B")
    ex = order_of(st, "B", "exit")
    st = replace(st, market_price=ex.price)  # the post-only exit was rejected: market reached it
    st2, actions = sm.remove_order(st, ex.local_id, CFG)
    (place,) = actions
    new = order_of(st2, "B", "exit")
    assert isinstance(place, sm.PlaceOrderAction) and place.local_id == new.local_id != ex.local_id
    assert new.price > st.market_price and new.price == pricing.maker_guard(ex.price, ex.price, "sell", CFG)
    assert (new.volume, new.entry_price, new.entry_fee) == (ex.volume, ex.entry_price, ex.entry_fee)
    assert sm.check_invariants(st2) == []


def test_remove_rejected_exit_below_minimum_is_written_off() -> None:
    st = s1_state("B", volume=60.0)
    ex = replace(order_of(st, "B", "exit"), volume=20.0)
    st = replace(st, orders=tuple(ex if o.local_id == ex.local_id else o for o in st.orders))
    st2, actions = sm.remove_order(st, ex.local_id, CFG)
    (book,) = actions
    assert isinstance(book, sm.BookCycleAction) and book.record.close_reason == "dust_writeoff"
    assert st2.cycle_b == 2 and st2.entry_pending_b and sm.check_invariants(st2) == []


def test_remove_rejected_recovery_placement_reissues_it() -> None:
    st = s0_state()
    st, actions = step(
        st,
        sm.OrderCanceledEvent(
            order_local_id=2, txid="TX2", timestamp=1100.0, executed_volume=80.0, avg_price=0.09965, fee=0.02
        ),
    )
    place = next(a for a in actions if isinstance(a, sm.PlaceOrderAction) and a.recovery_id is not None)
    st2, again = sm.remove_order(st, place.local_id, CFG)
    (re_place,) = again
    assert re_place.recovery_id == place.recovery_id and re_place.local_id != place.local_id
    assert st2.recovery_orders[0].local_id == re_place.local_id


def test_release_exit_books_at_the_given_price_and_rearms_the_entry() -> None:
    cfg = make_cfg(sticky_mode_enabled=True)
    st = s1_state("B", cfg=cfg)
    ex = order_of(st, "B", "exit")
    st2, actions = sm.release_exit(st, ex.local_id, 0.0990, 5000.0, cfg)
    book, cancel = actions
    assert isinstance(book, sm.BookCycleAction) and isinstance(cancel, sm.CancelOrderAction)
    assert book.record.close_reason == "released" and book.record.exit_price == 0.0990
    assert book.record.net_profit == pytest.approx((0.0990 - ex.entry_price) * ex.volume - ex.entry_fee)
    assert (cancel.local_id, cancel.txid) == (ex.local_id, ex.txid)
    assert st2.cycle_b == 2 and st2.consecutive_losses_b == 1
    assert st2.cooldown_until_b == 5000.0 + cfg.reentry_base_cooldown_sec and st2.entry_pending_b
    assert st2.total_profit == pytest.approx(book.record.net_profit)
    assert sm.check_invariants(st2, cfg) == []
    _st3, later = step(st2, sm.TimerTick(timestamp=5000.0 + cfg.reentry_base_cooldown_sec), cfg)
    assert [(a.trade_id, a.role, a.cycle) for a in of_type(later, sm.PlaceOrderAction)] == [("B", "entry", 2)]


def test_release_exit_places_the_entry_at_once_when_given_a_size_and_no_cooldown() -> None:
    cfg = make_cfg(sticky_mode_enabled=True, reentry_base_cooldown_sec=0.0)
    st = s1_state("B", cfg=cfg)
    st2, actions = sm.release_exit(st, order_of(st, "B", "exit").local_id, 0.1, 5000.0, cfg, 10.0)
    assert [type(a).__name__ for a in actions] == ["BookCycleAction", "CancelOrderAction", "PlaceOrderAction"]
    assert order_of(st2, "B", "entry").cycle == 2


def test_release_exit_loss_streak_starts_the_loss_cooldown() -> None:
    cfg = make_cfg(max_consecutive_losses=1, loss_cooldown_sec=900.0)
    st = s1_state("B", cfg=cfg)
    st2, _ = sm.release_exit(st, order_of(st, "B", "exit").local_id, 0.09, 5000.0, cfg)
    assert st2.cooldown_until_b == 5900.0


def test_released_exit_that_partly_filled_before_the_cancel_books_an_adjustment() -> None:
    st = s1_state("B")
    ex = order_of(st, "B", "exit")
    st2, actions = sm.release_exit(st, ex.local_id, 0.0990, 5000.0, CFG)
    released = actions[0].record
    late = sm.OrderCanceledEvent(
        order_local_id=ex.local_id,
        txid=ex.txid,
        timestamp=5001.0,
        executed_volume=30.0,
        avg_price=ex.price,
        fee=0.008,
    )
    st3, adj_actions = step(st2, late)
    (adj,) = of_type(adj_actions, sm.BookCycleAction)
    assert adj.record.close_reason == "adjustment"
    assert adj.record.net_profit == pytest.approx((ex.price - 0.0990) * 30.0 - 0.008)
    exact = (
        (ex.price - ex.entry_price) * 30.0
        + (0.0990 - ex.entry_price) * (ex.volume - 30.0)
        - ex.entry_fee
        - 0.008
    )
    assert released.net_profit + adj.record.net_profit == pytest.approx(exact)
    assert st3.pending_cancels == ()


def test_release_exit_ignores_entries_and_unknown_ids() -> None:
    st = s0_state()
    assert sm.release_exit(st, order_of(st, "A", "entry").local_id, 0.1, 2000.0, CFG) == (st, [])
    assert sm.release_exit(st, 999, 0.1, 2000.0, CFG) == (st, [])


def test_release_from_s2_leaves_a_consistent_s1() -> None:
    st = s2_state()
    st2, _ = sm.release_exit(st, order_of(st, "A", "exit").local_id, 0.1, 5000.0, CFG)
    assert sm.derive_phase(st2) == "S1b" and st2.s2_entered_at is None
    assert sm.check_invariants(st2) == []


def test_normalize_slot_mode_aligns_flags_with_one_sided_entries() -> None:
    st = s0_state()
    only_b = replace(st, orders=(order_of(st, "B", "entry"),))
    assert sm.normalize_slot_mode(only_b).long_only
    only_a = replace(st, orders=(order_of(st, "A", "entry"),))
    normalized = sm.normalize_slot_mode(only_a, source="regime")
    assert normalized.short_only and normalized.mode_source == "regime"
    stale_flag = replace(st, long_only=True, mode_source="balance")  # both entries exist
    cleared = sm.normalize_slot_mode(stale_flag)
    assert (cleared.long_only, cleared.short_only, cleared.mode_source) == (False, False, "none")


def test_normalize_slot_mode_keeps_a_trade_that_is_owed_an_entry() -> None:
    st = s0_state()
    waiting = replace(st, orders=(order_of(st, "B", "entry"),), entry_pending_a=True, cooldown_until_a=2000.0)
    assert sm.normalize_slot_mode(waiting) == waiting


def test_normalize_slot_mode_keeps_the_existing_flag_source() -> None:
    st = s0_state()
    regime = replace(st, orders=(order_of(st, "B", "entry"),), long_only=True, mode_source="regime")
    assert sm.normalize_slot_mode(regime, source="balance").mode_source == "regime"


def test_bootstrap_pending_predicate_matches_the_seed() -> None:
    assert sm.is_bootstrap_pending_state(sm.PairState())
    st = s0_state()
    assert not sm.is_bootstrap_pending_state(st)
    assert sm.is_bootstrap_pending_state(replace(st, orders=st.orders[:1]))
    assert not sm.is_bootstrap_pending_state(s1_state("B"))


def test_min_size_wait_predicate() -> None:
    st = sm.PairState(market_price=0.1)
    assert sm.is_min_size_wait_state(st, CFG, 4.0, 0.1)  # ~40 DOGE < 50
    assert not sm.is_min_size_wait_state(st, CFG, 10.0, 0.1)
    assert not sm.is_min_size_wait_state(s0_state(), CFG, 1.0, 0.1)  # nothing is missing


def test_reprice_recovery_moves_its_price_post_only_safe() -> None:
    st = s0_state()
    rec = sm.RecoveryOrder(
        recovery_id=1,
        local_id=9,
        side="sell",
        price=0.2,
        volume=60.0,
        trade_id="B",
        cycle=1,
        entry_price=0.1,
        txid="OREC",
    )
    st = replace(st, recovery_orders=(rec,), next_recovery_id=2, next_order_id=10)
    moved = sm.reprice_recovery(st, 1, 0.1001, CFG)
    new = moved.recovery_orders[0]
    assert new.price == pricing.maker_guard(0.1001, 0.1, "sell", CFG) and new.price > 0.1
    assert (new.local_id, new.txid, new.volume) == (9, "OREC", 60.0)  # amended in place
    assert sm.reprice_recovery(st, 42, 0.1, CFG) == st


def test_bootstrap_marks_a_trade_still_in_cooldown_as_owed() -> None:
    st = replace(FRESH, cooldown_until_b=1100.0)
    st2, actions = sm.bootstrap_orders(st, CFG, 10.0)
    assert [a.trade_id for a in actions] == ["A"] and st2.entry_pending_b
    st3, later = step(st2, sm.TimerTick(timestamp=1100.0))
    assert [a.trade_id for a in of_type(later, sm.PlaceOrderAction)] == ["B"]
    assert sm.check_invariants(st3) == []
