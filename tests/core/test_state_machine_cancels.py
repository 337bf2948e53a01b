"""Cancels after partial fills (the capacity spec's deferred issue) and recovery events (§7.4-§7.5)."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from core import pricing
from core import state_machine as sm
from tests.core.test_state_machine_builders import (
    CFG,
    fill_of,
    make_cfg,
    of_type,
    order_of,
    s0_state,
    s1_state,
    step,
)


def _refreshed() -> tuple[sm.PairState, sm.OrderState]:
    """B's buy entry was refreshed away (cancel requested, not yet confirmed)."""
    st = s0_state()
    old = order_of(st, "B", "entry")
    st, _ = step(st, sm.PriceTick(price=0.1012, timestamp=1500.0))
    assert any(p.local_id == old.local_id for p in st.pending_cancels)
    return st, old


def _canceled(order: sm.OrderState, ts: float, executed: float = 0.0, price: float = 0.0, fee: float = 0.0):
    return sm.OrderCanceledEvent(
        order_local_id=order.local_id,
        txid=order.txid,
        timestamp=ts,
        executed_volume=executed,
        avg_price=price,
        fee=fee,
        side=order.side,
        role=order.role,
        trade_id=order.trade_id,
        cycle=order.cycle,
        price=order.price,
    )


def test_refreshed_entry_partial_cancel_hands_executed_volume_to_a_recovery_exit() -> None:
    st, old = _refreshed()
    orders_before = st.orders
    st2, actions = step(st, _canceled(old, 1501.0, executed=60.5, price=0.09965, fee=0.015))
    (place,) = of_type(actions, sm.PlaceOrderAction)
    (rec,) = st2.recovery_orders
    assert place.recovery_id == rec.recovery_id and place.local_id == rec.local_id
    assert (place.side, place.role, place.trade_id, place.cycle) == ("sell", "exit", "B", old.cycle)
    assert place.volume == rec.volume == 60.5
    assert rec.entry_price == 0.09965 and rec.entry_fee == 0.015
    assert place.price == pricing.exit_price(0.09965, st.market_price, "sell", CFG)
    assert st2.total_fees == pytest.approx(st.total_fees + 0.015)
    assert st2.orders == orders_before  # the S0 structure is untouched
    assert st2.pending_cancels == ()
    assert sm.check_invariants(st2, CFG) == []


def test_refreshed_entry_cancel_without_execution_only_clears_the_marker() -> None:
    st, old = _refreshed()
    st2, actions = step(st, _canceled(old, 1501.0))
    assert actions == [] and st2.pending_cancels == () and st2.recovery_orders == ()


def test_refreshed_entry_that_filled_before_the_cancel_gets_a_recovery_exit() -> None:
    st, old = _refreshed()
    st2, actions = step(st, fill_of(old, 1501.0))
    (place,) = of_type(actions, sm.PlaceOrderAction)
    assert place.recovery_id is not None and place.volume == old.volume
    assert len(st2.recovery_orders) == 1 and st2.pending_cancels == ()


def test_partial_cancel_below_min_volume_is_written_off_at_market() -> None:
    st, old = _refreshed()
    st2, actions = step(st, _canceled(old, 1501.0, executed=12.0, price=0.09965, fee=0.003))
    assert of_type(actions, sm.PlaceOrderAction) == []  # Kraken would reject a 12 DOGE exit
    (book,) = of_type(actions, sm.BookCycleAction)
    rec = book.record
    assert (rec.close_reason, rec.volume, rec.exit_price) == ("dust_writeoff", 12.0, st.market_price)
    assert rec.net_profit == pytest.approx((st.market_price - 0.09965) * 12.0 - 0.003)
    assert st2.total_profit == pytest.approx(rec.net_profit)
    assert st2.recovery_orders == ()


def test_partial_cancel_event_is_applied_exactly_once() -> None:
    st, old = _refreshed()
    event = _canceled(old, 1501.0, executed=60.5, price=0.09965, fee=0.015)
    st2, _ = step(st, event)
    st3, actions = step(st2, event)
    assert actions == [] and st3.recovery_orders == st2.recovery_orders and st3.total_fees == st2.total_fees


def test_external_entry_cancel_after_partial_fill_gets_recovery_exit_and_entry_rearmed() -> None:
    st = s0_state()
    b = order_of(st, "B", "entry")
    st2, actions = step(st, _canceled(b, 1500.0, executed=70.0, price=b.price, fee=0.017))
    places = of_type(actions, sm.PlaceOrderAction)
    recovery_exit = next(a for a in places if a.recovery_id is not None)
    entry = next(a for a in places if a.role == "entry")
    assert recovery_exit.volume == 70.0 and recovery_exit.side == "sell"
    assert (entry.trade_id, entry.cycle) == ("B", b.cycle)
    assert sm.derive_phase(st2) == "S0" and sm.check_invariants(st2, CFG) == []


def test_external_exit_cancel_after_partial_fill_books_the_executed_part_and_reissues_the_rest() -> None:
    st = s1_state("B", fee=0.03)
    ex = order_of(st, "B", "exit")
    st2, actions = step(st, _canceled(ex, 2000.0, executed=40.0, price=ex.price, fee=0.01))
    (book,) = of_type(actions, sm.BookCycleAction)
    rec = book.record
    assert (rec.close_reason, rec.volume) == ("partial_cancel", 40.0)
    share = 0.03 * 40.0 / ex.volume
    assert rec.entry_fee == pytest.approx(share)
    assert rec.net_profit == pytest.approx((ex.price - ex.entry_price) * 40.0 - share - 0.01)
    (place,) = of_type(actions, sm.PlaceOrderAction)
    new_exit = order_of(st2, "B", "exit")
    assert place.local_id == new_exit.local_id != ex.local_id
    assert new_exit.volume == pytest.approx(ex.volume - 40.0)
    assert new_exit.entry_fee == pytest.approx(0.03 - share)
    assert new_exit.price == ex.price and new_exit.cycle == ex.cycle
    assert st2.cycle_b == 1  # the position is still open
    assert sm.check_invariants(st2, CFG) == []


def test_external_exit_cancel_without_execution_reissues_the_exit() -> None:
    st = s1_state("B")
    ex = order_of(st, "B", "exit")
    st2, actions = step(st, _canceled(ex, 2000.0))
    (place,) = actions
    assert isinstance(place, sm.PlaceOrderAction) and place.reason == "exit_reissue"
    assert order_of(st2, "B", "exit").volume == ex.volume
    assert st2.total_profit == st.total_profit


def test_exit_cancel_after_executing_everything_closes_the_cycle() -> None:
    st = s1_state("B")
    ex = order_of(st, "B", "exit")
    st2, actions = step(st, _canceled(ex, 2000.0, executed=ex.volume, price=ex.price, fee=0.02))
    (book,) = of_type(actions, sm.BookCycleAction)
    assert book.record.close_reason == "filled"
    assert st2.cycle_b == 2 and st2.entry_pending_b


def _with_recovery(volume: float = 100.0) -> tuple[sm.PairState, sm.RecoveryOrder]:
    st = s0_state()
    rec = sm.RecoveryOrder(
        recovery_id=1,
        local_id=st.next_order_id,
        side="sell",
        price=0.104,
        volume=volume,
        trade_id="B",
        cycle=1,
        entry_price=0.1,
        entry_fee=0.025,
        entry_filled_at=500.0,
        orphaned_at=900.0,
        txid="TXR",
    )
    st = replace(
        st, recovery_orders=(rec,), next_recovery_id=2, next_order_id=st.next_order_id + 1, cycle_b=2
    )
    st = replace(st, orders=tuple(replace(o, cycle=2) if o.trade_id == "B" else o for o in st.orders))
    assert sm.check_invariants(st, CFG) == []
    return st, rec


def test_recovery_fill_books_the_cycle_from_recovery_and_updates_loss_counters() -> None:
    st, _rec = _with_recovery()
    st = replace(st, consecutive_losses_b=2)
    event = sm.RecoveryFillEvent(
        recovery_id=1, txid="TXR", side="sell", price=0.104, volume=100.0, fee=0.026, timestamp=2000.0
    )
    st2, actions = step(st, event)
    (book,) = of_type(actions, sm.BookCycleAction)
    assert book.record.from_recovery and book.record.close_reason == "recovery_fill"
    assert book.record.net_profit == pytest.approx((0.104 - 0.1) * 100.0 - 0.025 - 0.026)
    assert (book.record.entry_time, book.record.recovery_id) == (500.0, 1)
    assert st2.recovery_orders == () and st2.consecutive_losses_b == 0
    assert st2.total_profit == pytest.approx(book.record.net_profit)


def test_recovery_fill_routed_by_its_order_local_id_is_booked_too() -> None:
    st, rec = _with_recovery()
    event = sm.FillEvent(
        order_local_id=rec.local_id,
        txid="TXR",
        side="sell",
        price=0.104,
        volume=100.0,
        fee=0.0,
        timestamp=2000.0,
    )
    st2, actions = step(st, event)
    assert len(of_type(actions, sm.BookCycleAction)) == 1 and st2.recovery_orders == ()


def test_recovery_cancel_books_the_sunk_entry_fee_of_the_abandoned_volume() -> None:
    """The abandoned position is not traded, but its paid entry fee must reach total_profit."""
    st, _ = _with_recovery()
    st2, actions = step(st, sm.RecoveryCancelEvent(recovery_id=1, txid="TXR", timestamp=2000.0))
    (book,) = of_type(actions, sm.BookCycleAction)
    rec = book.record
    assert (rec.close_reason, rec.volume, rec.gross_profit) == ("recovery_cancel", 100.0, 0.0)
    assert rec.entry_fee == 0.025
    assert rec.net_profit == pytest.approx(-0.025) and rec.from_recovery and rec.recovery_id == 1
    assert st2.recovery_orders == ()
    assert st2.total_profit == pytest.approx(st.total_profit - 0.025)
    assert (st2.total_fees, st2.total_round_trips) == (st.total_fees, 0)  # the fee was already in
    st3, again = step(st2, sm.RecoveryCancelEvent(recovery_id=1, txid="TXR", timestamp=2001.0))
    assert again == [] and st3.total_profit == st2.total_profit


def test_recovery_cancel_after_partial_fill_books_the_executed_part_once() -> None:
    st, _ = _with_recovery()
    event = sm.RecoveryCancelEvent(
        recovery_id=1, txid="TXR", timestamp=2000.0, executed_volume=30.0, executed_price=0.104, fee=0.008
    )
    st2, actions = step(st, event)
    book, sunk = of_type(actions, sm.BookCycleAction)
    assert (book.record.close_reason, book.record.volume) == ("recovery_partial_cancel", 30.0)
    assert book.record.net_profit == pytest.approx((0.104 - 0.1) * 30.0 - 0.025 * 0.3 - 0.008)
    assert (sunk.record.close_reason, sunk.record.volume) == ("recovery_cancel", 70.0)
    assert sunk.record.net_profit == pytest.approx(-0.025 * 0.7)  # the rest of the entry fee
    assert st2.total_round_trips == 1
    st3, again = step(st2, event)
    assert again == [] and st3.total_profit == st2.total_profit


def test_evicted_recovery_late_fill_is_booked_as_an_adjustment() -> None:
    cfg = make_cfg(max_recovery_slots=1)
    st, rec = _with_recovery()
    st = replace(st, market_price=0.098)
    # Orphan B's new position to push the first recovery out.
    st, _ = step(st, fill_of(order_of(st, "B", "entry"), 1100.0), cfg)
    st, _ = step(st, sm.PriceTick(price=0.097, timestamp=1101.0), cfg)  # away from B's sell exit
    st, actions = step(st, sm.TimerTick(timestamp=1100.0 + cfg.s1_orphan_after_sec), cfg)
    evicted = next(
        a for a in actions if isinstance(a, sm.BookCycleAction) and a.record.close_reason == "evicted"
    )
    booked_at = evicted.record.exit_price
    # ...but the evicted order had filled before the cancel reached the exchange.
    st2, actions = step(
        st,
        sm.RecoveryFillEvent(
            recovery_id=rec.recovery_id,
            txid="TXR",
            side="sell",
            price=0.104,
            volume=100.0,
            fee=0.026,
            timestamp=99999.0,
        ),
        cfg,
    )
    (adj,) = of_type(actions, sm.BookCycleAction)
    assert adj.record.close_reason == "adjustment"
    assert adj.record.net_profit == pytest.approx((0.104 - booked_at) * 100.0 - 0.026)
    total = evicted.record.net_profit + adj.record.net_profit
    assert total == pytest.approx((0.104 - 0.1) * 100.0 - 0.025 - 0.026)  # as if it had simply filled
    assert all(p.recovery_id != rec.recovery_id for p in st2.pending_cancels)
    assert st2.total_round_trips == st.total_round_trips  # adjustments are not round trips


def test_external_entry_cancel_without_execution_replaces_the_entry_at_once() -> None:
    st = s0_state()
    a = order_of(st, "A", "entry")
    st2, actions = step(st, _canceled(a, 1500.0))
    (place,) = of_type(actions, sm.PlaceOrderAction)
    assert (place.trade_id, place.role, place.cycle, place.reason) == ("A", "entry", a.cycle, "reentry")
    assert place.local_id != a.local_id and st2.recovery_orders == ()
    assert sm.check_invariants(st2, CFG) == []


def test_entry_cancel_reporting_the_whole_volume_executed_is_an_entry_fill() -> None:
    st = s0_state()
    b = order_of(st, "B", "entry")
    st2, actions = step(st, _canceled(b, 1500.0, executed=b.volume, price=b.price, fee=0.025))
    (place,) = of_type(actions, sm.PlaceOrderAction)
    assert (place.role, place.recovery_id, place.volume) == ("exit", None, b.volume)
    assert sm.derive_phase(st2) == "S1b" and st2.recovery_orders == ()
    assert sm.check_invariants(st2, CFG) == []
