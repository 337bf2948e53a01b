"""FillEvent rules (§7.3): entry fills open positions, exit fills close cycles and re-arm entries."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from core import pricing
from core import state_machine as sm
from tests.core.test_state_machine_builders import (
    CFG,
    fill_entry,
    fill_of,
    make_cfg,
    of_type,
    order_of,
    s0_state,
    s1_state,
    s2_state,
    step,
)


def test_entry_fill_places_exit_with_exact_filled_volume() -> None:
    st = s0_state()
    entry = order_of(st, "B", "entry")
    st2, actions = step(st, fill_of(entry, 1010.0, volume=87.12345678))
    (place,) = of_type(actions, sm.PlaceOrderAction)
    assert place.role == "exit" and place.side == "sell" and place.trade_id == "B"
    assert place.volume == 87.12345678
    exit_ = order_of(st2, "B", "exit")
    assert exit_.volume == 87.12345678 and exit_.local_id == place.local_id
    assert all(o.local_id != entry.local_id for o in st2.orders)
    assert sm.derive_phase(st2) == "S1b"
    assert sm.check_invariants(st2) == []


def test_entry_fill_books_entry_fee_into_total_fees() -> None:
    st = s0_state()
    st2, actions = step(st, fill_of(order_of(st, "A", "entry"), 1010.0, fee=0.0251))
    assert st2.total_fees == pytest.approx(0.0251)
    assert st2.total_profit == 0.0
    assert of_type(actions, sm.BookCycleAction) == []
    assert order_of(st2, "A", "exit").entry_fee == 0.0251


def test_entry_fill_exit_is_priced_from_the_actual_fill_price() -> None:
    st = s0_state()
    entry = order_of(st, "B", "entry")
    better = round(entry.price - 0.0002, 7)  # filled below the limit
    st2, _ = step(st, fill_of(entry, 1010.0, price=better))
    exit_ = order_of(st2, "B", "exit")
    assert exit_.entry_price == better
    assert exit_.price == pricing.exit_price(better, st.market_price, "sell", CFG)
    assert exit_.entry_filled_at == 1010.0 and exit_.placed_market == st.market_price


def test_second_entry_fill_enters_s2_and_sets_s2_entered_at() -> None:
    st = s1_state("B")
    assert st.s2_entered_at is None
    st2 = fill_entry(st, "A", 1234.0)
    assert sm.derive_phase(st2) == "S2"
    assert st2.s2_entered_at == 1234.0
    assert sm.check_invariants(st2) == []


def test_exit_fill_books_cycle_via_book_cycle() -> None:
    st = s1_state("B", price=0.0996, fee=0.025)
    exit_ = order_of(st, "B", "exit")
    st2, actions = step(st, fill_of(exit_, 2000.0, price=0.1012, fee=0.0253))
    (book,) = of_type(actions, sm.BookCycleAction)
    rec = book.record
    gross = (0.1012 - 0.0996) * exit_.volume
    assert rec.gross_profit == pytest.approx(gross)
    assert rec.fees == pytest.approx(0.025 + 0.0253)
    assert rec.net_profit == pytest.approx(gross - 0.0503)
    assert (rec.trade_id, rec.cycle, rec.close_reason, rec.from_recovery) == ("B", 1, "filled", False)
    assert (rec.entry_time, rec.exit_time) == (1010.0, 2000.0)
    assert st2.total_profit == pytest.approx(rec.net_profit)
    assert st2.total_fees == pytest.approx(0.0503)
    assert st2.total_round_trips == 1
    assert st2.completed_cycles == (rec,)


def test_trade_a_profits_when_buying_back_lower() -> None:
    st = s1_state("A", price=0.1004, fee=0.0)
    exit_ = order_of(st, "A", "exit")
    _, actions = step(st, fill_of(exit_, 2000.0, price=0.0990, fee=0.0))
    (book,) = of_type(actions, sm.BookCycleAction)
    assert book.record.gross_profit == pytest.approx((0.1004 - 0.0990) * exit_.volume)
    assert book.record.net_profit > 0


def test_exit_fill_increments_cycle_counter_of_its_trade_only() -> None:
    st = s1_state("B")
    st2, _ = step(st, fill_of(order_of(st, "B", "exit"), 2000.0))
    assert (st2.cycle_a, st2.cycle_b) == (1, 2)


def test_exit_fill_applies_base_reentry_cooldown_and_defers_the_entry() -> None:
    st = s1_state("B")
    st2, actions = step(st, fill_of(order_of(st, "B", "exit"), 2000.0))
    assert st2.cooldown_until_b == 2000.0 + CFG.reentry_base_cooldown_sec
    assert of_type(actions, sm.PlaceOrderAction) == []
    assert st2.entry_pending_b is True
    assert sm.check_invariants(st2) == []  # owed entry: a legal gap


def test_blocked_reentry_is_rearmed_by_timer_tick_once_cooldown_lapses() -> None:
    st = s1_state("B")
    st, _ = step(st, fill_of(order_of(st, "B", "exit"), 2000.0))
    st_early, early = step(st, sm.TimerTick(timestamp=2059.0))
    assert of_type(early, sm.PlaceOrderAction) == [] and st_early.entry_pending_b
    st_late, late = step(st_early, sm.TimerTick(timestamp=2060.0))
    (place,) = of_type(late, sm.PlaceOrderAction)
    assert (place.trade_id, place.side, place.role, place.cycle, place.reason) == (
        "B",
        "buy",
        "entry",
        2,
        "reentry",
    )
    assert place.price == pricing.entry_price(st.market_price, "buy", CFG)
    assert st_late.entry_pending_b is False
    assert sm.derive_phase(st_late) == "S0" and sm.check_invariants(st_late) == []


def test_price_tick_also_rearms_an_owed_entry_after_cooldown() -> None:
    st = s1_state("B")
    st, _ = step(st, fill_of(order_of(st, "B", "exit"), 2000.0))
    st2, actions = step(st, sm.PriceTick(price=0.1001, timestamp=2100.0))
    assert [a.trade_id for a in of_type(actions, sm.PlaceOrderAction)] == ["B"]
    assert sm.check_invariants(st2) == []


def test_reentry_is_immediate_without_base_cooldown() -> None:
    cfg = make_cfg(reentry_base_cooldown_sec=0.0)
    st = s1_state("B", cfg=cfg)
    st2, actions = step(st, fill_of(order_of(st, "B", "exit"), 2000.0), cfg)
    kinds = [type(a).__name__ for a in actions]
    assert kinds == ["BookCycleAction", "PlaceOrderAction"]
    assert order_of(st2, "B", "entry").cycle == 2


def test_loss_streak_starts_loss_cooldown() -> None:
    cfg = make_cfg(reentry_base_cooldown_sec=0.0, max_consecutive_losses=3, loss_cooldown_sec=900.0)
    st = s0_state(cfg=cfg)
    t = 1010.0
    for n in range(1, 4):
        st = fill_entry(st, "B", t, cfg)
        exit_ = order_of(st, "B", "exit")
        st, actions = step(st, fill_of(exit_, t + 5, price=exit_.entry_price * 0.99), cfg)
        assert st.consecutive_losses_b == n
        t += 10
    assert st.cooldown_until_b == pytest.approx(t - 10 + 5 + 900.0)
    assert of_type(actions, sm.PlaceOrderAction) == []
    assert st.entry_pending_b and sm.check_invariants(st) == []


def test_winning_cycle_resets_the_loss_streak() -> None:
    st = replace(s1_state("B"), consecutive_losses_b=2)
    st2, _ = step(st, fill_of(order_of(st, "B", "exit"), 2000.0))
    assert st2.consecutive_losses_b == 0
    assert st2.cooldown_until_b == 2060.0  # base cooldown only


def test_fallback_mode_blocks_reentry_until_the_flag_clears() -> None:
    st = replace(s1_state("A"), long_only=True, mode_source="regime")
    st, _ = step(st, fill_of(order_of(st, "A", "exit"), 2000.0))
    st, actions = step(st, sm.TimerTick(timestamp=5000.0))
    assert of_type(actions, sm.PlaceOrderAction) == []
    assert st.entry_pending_a and sm.check_invariants(st) == []
    st = replace(st, long_only=False, mode_source="none")  # runtime lifts the regime suppression
    st, actions = step(st, sm.TimerTick(timestamp=5001.0))
    assert [(a.trade_id, a.side) for a in of_type(actions, sm.PlaceOrderAction)] == [("A", "sell")]


def test_leaving_s2_clears_s2_entered_at() -> None:
    st = s2_state()
    assert st.s2_entered_at == 1020.0
    st2, _ = step(st, fill_of(order_of(st, "A", "exit"), 2000.0))
    assert sm.derive_phase(st2) == "S1b"
    assert st2.s2_entered_at is None
    assert sm.check_invariants(st2) == []


def test_duplicate_fill_is_applied_exactly_once() -> None:
    st = s1_state("B")
    fill = fill_of(order_of(st, "B", "exit"), 2000.0)
    st2, first = step(st, fill)
    st3, second = step(st2, fill)
    assert len(of_type(first, sm.BookCycleAction)) == 1
    assert second == []
    assert st3.total_profit == st2.total_profit and st3.total_round_trips == 1


def test_fill_of_unknown_order_only_advances_time() -> None:
    st = s0_state()
    event = sm.FillEvent(
        order_local_id=999, txid="X", side="buy", price=0.1, volume=60.0, fee=0.0, timestamp=1500.0
    )
    st2, actions = step(st, event)
    assert actions == [] and st2 == replace(st, now=1500.0)


def test_late_timestamp_never_moves_the_clock_back() -> None:
    st = s0_state(now=5000.0)
    st2, _ = step(st, sm.TimerTick(timestamp=4000.0))
    assert st2.now == 5000.0


def test_completed_cycles_are_windowed_but_totals_stay_exact() -> None:
    cfg = make_cfg(completed_cycles_keep=3, reentry_base_cooldown_sec=0.0)
    st = s0_state(cfg=cfg)
    nets = []
    t = 1010.0
    for _ in range(5):
        st = fill_entry(st, "B", t, cfg)
        st, actions = step(st, fill_of(order_of(st, "B", "exit"), t + 1), cfg)
        nets.append(of_type(actions, sm.BookCycleAction)[0].record.net_profit)
        t += 10
    assert len(st.completed_cycles) == 3
    assert [c.cycle for c in st.completed_cycles] == [3, 4, 5]
    assert st.total_profit == pytest.approx(sum(nets))
    assert st.total_round_trips == 5


def test_today_realized_loss_accumulates_and_rolls_over_at_utc_midnight() -> None:
    day = 86400.0
    st = replace(s1_state("B"), now=day + 100.0, loss_day=1)
    exit_ = order_of(st, "B", "exit")
    st, actions = step(st, fill_of(exit_, day + 200.0, price=exit_.entry_price * 0.98))
    loss = -of_type(actions, sm.BookCycleAction)[0].record.net_profit
    assert loss > 0 and st.today_realized_loss == pytest.approx(loss)
    st, _ = step(st, sm.TimerTick(timestamp=2 * day + 1.0))
    assert st.today_realized_loss == 0.0 and st.loss_day == 2


def test_reentry_waits_while_order_size_is_below_exchange_minimum() -> None:
    st = s1_state("B")
    st, _ = step(st, fill_of(order_of(st, "B", "exit"), 2000.0))
    tiny = 1.0  # USD: ~10 DOGE, below the 50 DOGE minimum
    st2, actions = sm.transition(st, sm.TimerTick(timestamp=3000.0), CFG, tiny)
    assert of_type(actions, sm.PlaceOrderAction) == []
    assert st2.entry_pending_b  # still owed: placed as soon as the size allows
    assert sm.is_min_size_wait_state(st2, CFG, tiny, st2.market_price)
    st3, actions = sm.transition(st2, sm.TimerTick(timestamp=3001.0), CFG, 10.0)
    assert len(of_type(actions, sm.PlaceOrderAction)) == 1 and not st3.entry_pending_b
