"""Regressions of the adversarial review: malformed inputs, reports that disagree with the order,
fees paid exactly once, hand-computed P&L, and float-noise ties."""

from __future__ import annotations

import math

import pytest
from msgspec.structs import replace

from core import pricing
from core import state_machine as sm
from tests.core.test_state_machine_builders import (
    CFG,
    fill_of,
    of_type,
    order_of,
    s0_state,
    s1_state,
    s2_state,
    step,
)

NAN, INF = math.nan, math.inf


def _exit_fill(st: sm.PairState, **changes: float) -> sm.FillEvent:
    return replace(fill_of(order_of(st, "B", "exit"), 2000.0), **changes)


def _cancel(local_id: int, **changes: float) -> sm.OrderCanceledEvent:
    return replace(sm.OrderCanceledEvent(order_local_id=local_id, txid="", timestamp=2000.0), **changes)


# --------------------------------------------------------------------------- malformed events


@pytest.mark.parametrize(
    "make",
    [
        lambda st: sm.TimerTick(timestamp=INF),
        lambda st: sm.TimerTick(timestamp=NAN),
        lambda st: sm.PriceTick(price=NAN, timestamp=2000.0),
        lambda st: sm.PriceTick(price=INF, timestamp=2000.0),
        lambda st: sm.PriceTick(price=-0.1, timestamp=2000.0),
        lambda st: sm.PriceTick(price=0.1, timestamp=INF),
        lambda st: _exit_fill(st, volume=NAN),
        lambda st: _exit_fill(st, volume=INF),
        lambda st: _exit_fill(st, fee=NAN),
        lambda st: _exit_fill(st, fee=-0.01),
        lambda st: _exit_fill(st, price=INF),
        lambda st: _exit_fill(st, price=-0.1),
        lambda st: _cancel(order_of(st, "B", "exit").local_id, executed_volume=NAN),
        lambda st: _cancel(order_of(st, "B", "exit").local_id, executed_volume=10.0, fee=NAN),
        lambda st: _cancel(order_of(st, "B", "exit").local_id, executed_volume=10.0, avg_price=INF),
        lambda st: sm.RecoveryFillEvent(
            recovery_id=1, txid="", side="sell", price=0.1, volume=INF, fee=0.0, timestamp=2000.0
        ),
        lambda st: sm.RecoveryCancelEvent(recovery_id=1, txid="", timestamp=2000.0, fee=NAN),
    ],
)
def test_malformed_events_are_refused_without_touching_the_books(make) -> None:
    """Before the fix a NaN/inf fill poisoned total_profit/total_fees unnoticed (check_invariants
    passed) and an infinite timestamp crashed the reducer."""
    st = s1_state("B")
    st2, actions = step(st, make(st))
    assert actions == []
    assert st2 == replace(st, rejected_events=st.rejected_events + 1)


def test_non_finite_totals_break_the_invariants() -> None:
    st = s1_state("B")
    assert any("total_profit" in v for v in sm.check_invariants(replace(st, total_profit=NAN)))
    assert any("total_fees" in v for v in sm.check_invariants(replace(st, total_fees=INF)))
    ex = replace(order_of(st, "B", "exit"), volume=INF)
    broken = replace(st, orders=(order_of(st, "A", "entry"), ex))
    assert any("non-finite" in v for v in sm.check_invariants(broken))


def test_release_and_reprice_refuse_non_finite_prices() -> None:
    st = s1_state("B")
    ex = order_of(st, "B", "exit")
    assert sm.release_exit(st, ex.local_id, INF, 3000.0, CFG) == (st, [])
    assert sm.release_exit(st, ex.local_id, 0.1, INF, CFG) == (st, [])
    rec = sm.RecoveryOrder(
        recovery_id=1, local_id=99, side="sell", price=0.2, volume=60.0, trade_id="B", cycle=1,
        entry_price=0.1,
    )
    st = replace(st, recovery_orders=(rec,), next_recovery_id=2, next_order_id=100)
    assert sm.reprice_recovery(st, 1, INF, CFG) == st


# --------------------------------------------------------------------------- reports vs the order


def test_exit_fill_short_of_the_order_books_the_part_and_reissues_the_rest() -> None:
    """Before the fix the unexecuted rest of the position silently vanished (no exit, no booking)."""
    st = s1_state("B", fee=0.03)
    ex = order_of(st, "B", "exit")
    st2, actions = step(st, _exit_fill(st, volume=40.0, fee=0.01))
    (book,) = of_type(actions, sm.BookCycleAction)
    assert (book.record.close_reason, book.record.volume) == ("partial_cancel", 40.0)
    assert book.record.entry_fee == pytest.approx(0.03 * 40.0 / ex.volume)
    new = order_of(st2, "B", "exit")
    assert new.volume == pytest.approx(ex.volume - 40.0) and new.local_id != ex.local_id
    assert new.entry_fee + book.record.entry_fee == pytest.approx(0.03)
    assert st2.cycle_b == 1 and sm.check_invariants(st2, CFG) == []


def test_exit_fill_reporting_more_than_the_order_books_only_the_order() -> None:
    st = s1_state("B")
    ex = order_of(st, "B", "exit")
    _, actions = step(st, _exit_fill(st, volume=ex.volume + 25.0))
    (book,) = of_type(actions, sm.BookCycleAction)
    assert book.record.volume == ex.volume and book.record.close_reason == "filled"


def test_entry_fill_reporting_more_than_the_order_exits_only_the_order() -> None:
    st = s0_state()
    b = order_of(st, "B", "entry")
    st2, _ = step(st, fill_of(b, 1500.0, volume=b.volume + 10.0))
    assert order_of(st2, "B", "exit").volume == b.volume


def test_entry_fill_too_small_for_an_exit_is_written_off_not_placed() -> None:
    st = s0_state()
    b = order_of(st, "B", "entry")
    st2, actions = step(st, fill_of(b, 1500.0, volume=20.0, fee=0.005))
    assert of_type(actions, sm.PlaceOrderAction) == []  # Kraken would reject a 20 DOGE exit
    (book,) = of_type(actions, sm.BookCycleAction)
    r = book.record
    assert (r.close_reason, r.volume, r.entry_fee) == ("dust_writeoff", 20.0, 0.005)
    assert st2.total_fees == pytest.approx(0.005) and st2.cycle_b == 2 and st2.entry_pending_b
    assert sm.check_invariants(st2, CFG) == []


def _recovery_state() -> tuple[sm.PairState, sm.RecoveryOrder]:
    st = s0_state()
    rec = sm.RecoveryOrder(
        recovery_id=1, local_id=st.next_order_id, side="sell", price=0.104, volume=100.0, trade_id="B",
        cycle=1, entry_price=0.1, entry_fee=0.025, orphaned_at=900.0, txid="TXR",
    )
    st = replace(st, recovery_orders=(rec,), next_recovery_id=2, next_order_id=st.next_order_id + 1)
    return st, rec


def test_recovery_fill_short_of_its_volume_books_the_part_and_reissues_the_rest() -> None:
    st, _ = _recovery_state()
    event = sm.RecoveryFillEvent(
        recovery_id=1, txid="TXR", side="sell", price=0.104, volume=30.0, fee=0.0078, timestamp=2000.0
    )
    st2, actions = step(st, event)
    (book,) = of_type(actions, sm.BookCycleAction)
    assert (book.record.volume, book.record.entry_fee) == (30.0, pytest.approx(0.0075))
    (place,) = of_type(actions, sm.PlaceOrderAction)
    (left,) = st2.recovery_orders
    assert (left.recovery_id, left.volume, left.local_id) == (1, pytest.approx(70.0), place.local_id)
    assert left.entry_fee == pytest.approx(0.0175) and place.recovery_id == 1
    assert sm.check_invariants(st2, CFG) == []


def test_recovery_fill_reporting_more_than_its_volume_books_only_its_volume() -> None:
    st, _ = _recovery_state()
    event = sm.RecoveryFillEvent(
        recovery_id=1, txid="TXR", side="sell", price=0.104, volume=130.0, fee=0.026, timestamp=2000.0
    )
    _, actions = step(st, event)
    (book,) = of_type(actions, sm.BookCycleAction)
    assert book.record.volume == 100.0 and book.record.close_reason == "recovery_fill"


def test_late_fill_of_a_refreshed_entry_is_capped_at_the_entry_volume() -> None:
    st = s0_state()
    old = order_of(st, "B", "entry")
    st, _ = step(st, sm.PriceTick(price=0.1012, timestamp=1500.0))
    _, actions = step(st, fill_of(old, 1501.0, volume=old.volume * 2))
    (place,) = of_type(actions, sm.PlaceOrderAction)
    assert place.volume == old.volume and place.recovery_id is not None


# --------------------------------------------------------------------------- P&L by hand


@pytest.mark.parametrize("trade", ["A", "B"])
def test_round_trip_pnl_by_hand_books_each_fee_once(trade: str) -> None:
    """Docs worked example (10 USD at 0.1, defaults): both trades net 1 % of the entry notional."""
    st = s0_state()
    entry = order_of(st, trade, "entry")
    entry_fee = entry.price * entry.volume * 0.0025
    st, _ = step(st, fill_of(entry, 1010.0, fee=entry_fee))
    ex = order_of(st, trade, "exit")
    assert ex.price == {"A": 0.0988485, "B": 0.1011485}[trade]
    exit_fee = ex.price * ex.volume * 0.0025
    st, actions = step(st, fill_of(ex, 2000.0, fee=exit_fee))
    (book,) = of_type(actions, sm.BookCycleAction)
    sell, buy = (entry.price, ex.price) if trade == "A" else (ex.price, entry.price)
    gross = (sell - buy) * entry.volume
    r = book.record
    assert r.gross_profit == pytest.approx(gross, abs=1e-12)
    assert r.fees == pytest.approx(entry_fee + exit_fee, abs=1e-12)
    assert r.net_profit == pytest.approx(gross - entry_fee - exit_fee, abs=1e-12)
    notional = entry.price * entry.volume
    assert notional * 0.01 <= r.net_profit <= notional * 0.01 + entry.volume * CFG.rules.price_tick
    assert st.total_fees == pytest.approx(entry_fee + exit_fee, abs=1e-12)  # entry fee once
    assert st.total_profit == pytest.approx(r.net_profit, abs=1e-12)


# --------------------------------------------------------------------------- ties


def test_s2_worse_exit_tie_survives_float_noise() -> None:
    """2.7 % below and 2.7 % above 0.1 differ by float noise (2.700000000000008 vs 2.6999...);
    before the fix that noise, not the age rule, picked the exit to orphan."""
    st = s2_state()
    a_exit, b_exit = order_of(st, "A", "exit"), order_of(st, "B", "exit")
    assert pricing.pct_distance(0.0973, 0.1) != pricing.pct_distance(0.1027, 0.1)
    orders = (replace(a_exit, price=0.0973), replace(b_exit, price=0.1027))
    st = replace(st, orders=orders, market_price=0.1)
    _, actions = step(st, sm.TimerTick(timestamp=1020.0 + CFG.s2_orphan_after_sec))
    (orphan,) = of_type(actions, sm.OrphanOrderAction)
    assert orphan.local_id == min(a_exit.local_id, b_exit.local_id)


# --------------------------------------------------------------------------- recovery cap


def test_a_lowered_recovery_cap_is_enforced_instead_of_halting_the_slot() -> None:
    """A snapshot with 3 recoveries restarted under MAX_RECOVERY_SLOTS=2 used to fail the cap
    invariant on its first event (the runtime halts on that); now the oldest is evicted."""
    st = s0_state()
    recs = tuple(
        sm.RecoveryOrder(
            recovery_id=i, local_id=10 + i, side="sell", price=0.104, volume=100.0, trade_id="B", cycle=1,
            entry_price=0.1, entry_fee=0.025, orphaned_at=100.0 * i, txid=f"TXR{i}",
        )
        for i in (1, 2, 3)
    )
    st = replace(st, recovery_orders=recs, next_recovery_id=4, next_order_id=20)
    cfg = replace(CFG, max_recovery_slots=2)
    assert sm.check_invariants(st, cfg)  # over the new cap
    st2, actions = step(st, sm.TimerTick(timestamp=2000.0), cfg)
    assert [r.recovery_id for r in st2.recovery_orders] == [2, 3]
    (book,) = of_type(actions, sm.BookCycleAction)
    (cancel,) = of_type(actions, sm.CancelOrderAction)
    assert (book.record.close_reason, book.record.recovery_id, cancel.recovery_id) == ("evicted", 1, 1)
    assert sm.check_invariants(st2, cfg) == []
