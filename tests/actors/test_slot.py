"""SlotActor: messages in, messages out (store, rate budget, runtime, status)."""

from __future__ import annotations

import time

import pytest

from actors.base import send
from actors.internal import (
    BootstrapSlot,
    InjectCrash,
    Inspect,
    ReconcileOpen,
    SlotFailed,
    SlotReport,
    SlotTick,
    Submit,
)
from actors.messages import (
    CancelOrder,
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    PlaceOrder,
)
from actors.slot_io import SlotSnapshot
from actors.status import SlotStatus
from actors.store_messages import BookFills
from core import order_ids
from tests.actors.helpers import Recorded

PRICE = 0.1
T0 = 1_000_000.0


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def deliver(rig, *messages):
    for m in messages:
        send(rig.slot, m, rig.inflight)
    assert rig.inflight.wait_idle(10)


def places(rig) -> list[PlaceOrder]:
    return [s.intent for s in rig.rb.ask(Recorded(Submit)) if isinstance(s.intent, PlaceOrder)]


def bootstrapped(rig) -> dict[str, PlaceOrder]:
    deliver(rig, SlotTick(now=T0, price=PRICE, price_ts=T0), BootstrapSlot(now=T0, which="both"))
    orders = places(rig)
    assert len(orders) == 2
    return {order_ids.decode(o.cl_ord_id).trade_id: o for o in orders}


def accept(rig, order: PlaceOrder, oid: str) -> None:
    deliver(rig, OrderAccepted(cl_ord_id=order.cl_ord_id, order_id=oid, ts=T0 + 1))


def fill(order: PlaceOrder, oid: str, exec_id: str, qty: float, cum: float, *, final: bool = False,
         with_cl: bool = True, price: float | None = None) -> Fill:
    return Fill(exec_id=exec_id, order_id=oid, cl_ord_id=order.cl_ord_id if with_cl else None, side=order.side,
                last_qty=qty, last_price=order.price if price is None else price, cum_qty=cum,
                order_qty=order.volume, fee=round(qty * order.price * 0.0025, 8), final=final, ts=T0 + 10)


def test_bootstrap_places_both_entries_only_after_the_state_is_persisted(rig):
    orders = bootstrapped(rig)
    assert orders["A"].side == "sell" and orders["B"].side == "buy"
    assert orders["A"].price > PRICE > orders["B"].price
    book = rig.store.ask(Recorded())
    assert book and all(isinstance(b, BookFills) for b in book)
    subs = rig.rb.ask(Recorded(Submit))
    assert all(s.is_entry and s.source == "bootstrap" for s in subs)
    status = rig.status.ask(Recorded(SlotStatus))[-1]
    assert status.phase == "S0" and len(status.orders) == 2


def test_partial_fills_aggregate_into_one_fill_event_and_one_exit(rig):
    orders = bootstrapped(rig)
    buy = orders["B"]
    accept(rig, buy, "OB-1")
    half = round(buy.volume / 2, 8)
    deliver(rig, fill(buy, "OB-1", "E1", half, half))
    assert len(places(rig)) == 2, "no exit before the entry completes"
    deliver(rig, fill(buy, "OB-1", "E2", buy.volume - half, buy.volume, final=True, price=buy.price * 0.999))
    exits = [o for o in places(rig) if order_ids.decode(o.cl_ord_id).role == "exit"]
    assert len(exits) == 1
    assert exits[0].side == "sell" and exits[0].volume == pytest.approx(buy.volume)
    booked = [f.exec_id for b in rig.store.ask(Recorded()) for f in b.fills]
    assert booked == ["E1", "E2"]
    state = rig.slot.ask(Inspect())["state"]
    exit_order = next(o for o in state.orders if o.role == "exit")
    vwap = (half * buy.price + (buy.volume - half) * buy.price * 0.999) / buy.volume
    assert exit_order.entry_price == pytest.approx(vwap, rel=1e-9)


def test_duplicate_and_replayed_executions_are_ignored(rig):
    orders = bootstrapped(rig)
    buy = orders["B"]
    accept(rig, buy, "OB-1")
    done = fill(buy, "OB-1", "E1", buy.volume, buy.volume, final=True)
    deliver(rig, done, done, OrderFilled(order_id="OB-1", cl_ord_id=None, cum_qty=buy.volume, avg_price=buy.price,
                                         ts=T0 + 11))
    deliver(rig, fill(buy, "OB-1", "E1", buy.volume, buy.volume, final=True, with_cl=False))
    booked = [f.exec_id for b in rig.store.ask(Recorded()) for f in b.fills]
    assert booked == ["E1"]
    assert len([o for o in places(rig) if order_ids.decode(o.cl_ord_id).role == "exit"]) == 1
    counters = rig.slot.ask(Inspect())["counters"]
    assert counters["duplicate_fills_ignored"] >= 2


def test_persisted_seen_ids_block_a_replay_after_restart(rig):
    from actors.slot_io import SlotSnapshot

    orders = bootstrapped(rig)
    buy = orders["B"]
    accept(rig, buy, "OB-1")
    state = rig.slot.ask(Inspect())["state"]
    fresh = rig.start_slot(SlotSnapshot(slot_id=4, alias="x", state=state.__class__(**{
        **{f: getattr(state, f) for f in state.__struct_fields__}, "slot_id": 4})), seen={"E9"})
    send(fresh, fill(buy, "OB-1", "E9", buy.volume, buy.volume, final=True), rig.inflight)
    assert rig.inflight.wait_idle(10)
    assert fresh.ask(Inspect())["counters"]["duplicate_fills_ignored"] == 1


def test_cancel_after_partial_fill_hands_the_volume_to_an_exit_and_counts_the_canary(rig, caplog):
    orders = bootstrapped(rig)
    sell = orders["A"]
    accept(rig, sell, "OA-1")
    part = round(sell.volume * 0.6, 8)  # above the 50 DOGE minimum, so it gets a real exit
    deliver(rig, fill(sell, "OA-1", "X1", part, part))
    with caplog.at_level("WARNING"):
        deliver(rig, OrderCanceled(order_id="OA-1", cl_ord_id=None, cum_qty=part, reason="User requested",
                                   ts=T0 + 20))
    assert "PHANTOM_POSITION_CANARY" in caplog.text
    state = rig.slot.ask(Inspect())["state"]
    covering = [r for r in state.recovery_orders if r.side == "buy"] + [o for o in state.orders if o.role == "exit"]
    assert sum(x.volume for x in covering) == pytest.approx(part)
    reports = rig.runtime.ask(Recorded(SlotReport))
    assert sum(len(r.partial_cancel) for r in reports) == 1
    assert [f.exec_id for b in rig.store.ask(Recorded()) for f in b.fills] == ["X1"]


def test_rejected_entry_is_removed_and_the_slot_stays_consistent(rig):
    orders = bootstrapped(rig)
    deliver(rig, OrderRejected(cl_ord_id=orders["B"].cl_ord_id, error="EOrder:Insufficient funds", ts=T0 + 1))
    info = rig.slot.ask(Inspect())
    assert not info["halted"]
    assert [o.trade_id for o in info["state"].orders] == ["A"]
    assert info["state"].short_only
    report = rig.runtime.ask(Recorded(SlotReport))[-1]
    assert report.rejects == [] or "Insufficient funds" in "".join(r for rep in rig.runtime.ask(Recorded(SlotReport))
                                                                     for r in rep.rejects)


def test_rejected_exit_is_reissued(rig):
    orders = bootstrapped(rig)
    buy = orders["B"]
    accept(rig, buy, "OB-1")
    deliver(rig, fill(buy, "OB-1", "E1", buy.volume, buy.volume, final=True))
    exit_order = [o for o in places(rig) if order_ids.decode(o.cl_ord_id).role == "exit"][-1]
    deliver(rig, OrderRejected(cl_ord_id=exit_order.cl_ord_id, error="EOrder:Rate limit exceeded", ts=T0 + 30))
    exits = [o for o in places(rig) if order_ids.decode(o.cl_ord_id).role == "exit"]
    assert len(exits) == 2 and exits[1].cl_ord_id != exits[0].cl_ord_id
    assert exits[1].volume == pytest.approx(exit_order.volume)
    assert not rig.slot.ask(Inspect())["halted"]


def test_intents_wait_for_the_store_and_go_out_when_it_recovers(rig):
    rig.store.ask(1)  # the next write fails (held, retrying)
    for m in (SlotTick(now=T0, price=PRICE, price_ts=T0), BootstrapSlot(now=T0, which="both")):
        send(rig.slot, m, rig.inflight)
    # The held write keeps the barrier closed: the system is not quiescent while the store works.
    assert not rig.inflight.wait_idle(0.2)
    assert wait_for(lambda: rig.slot.ask(Inspect())["unsent"] == 2)
    assert places(rig) == []
    assert rig.store.ask("recover") >= 1
    assert rig.inflight.wait_idle(10)
    assert len(places(rig)) == 2


def _restarted(rig):
    """The slot as a new process starts it: from its persisted state, nothing in flight."""
    state = rig.slot.ask(Inspect())["state"]
    rig.slot.stop()
    rig.slot = rig.start_slot(SlotSnapshot(slot_id=3, alias="doge", state=state))


def test_startup_reconcile_binds_replaces_and_cancels_strays(rig):
    orders = bootstrapped(rig)
    sell, buy = orders["A"], orders["B"]
    _restarted(rig)
    stray_cl = order_ids.encode(order_ids.OrderOwner(kind="s", slot_id=3, trade_id="A", role="entry", cycle=9,
                                                     local_id=99))
    before = len(places(rig))
    deliver(rig, ReconcileOpen(open_orders={"OA-1": sell.cl_ord_id, "OZ-9": stray_cl}, startup=True, now=T0 + 5))
    state = rig.slot.ask(Inspect())["state"]
    bound = {o.trade_id: o.txid for o in state.orders}
    assert bound["A"] == "OA-1"
    replaced = places(rig)[before:]
    assert [p.cl_ord_id for p in replaced] == [buy.cl_ord_id]
    # Only bootstrap and auto-repair entries bypass the per-loop entry cap; a re-placed one does not.
    sub = [s for s in rig.rb.ask(Recorded(Submit)) if getattr(s.intent, "cl_ord_id", None) == buy.cl_ord_id][-1]
    assert sub.is_entry and sub.source == "normal"
    cancels = [s.intent for s in rig.rb.ask(Recorded(Submit)) if isinstance(s.intent, CancelOrder)]
    assert [c.order_id for c in cancels] == ["OZ-9"]


def test_a_startup_reconcile_never_places_again_an_order_placed_in_this_life(rig):
    # Placed by this actor and not acknowledged yet: in flight, not lost. Placing it again would
    # leave two copies on the exchange (a retried or late start-up reconcile must be harmless).
    bootstrapped(rig)
    before = len(places(rig))
    deliver(rig, ReconcileOpen(open_orders={}, startup=True, now=T0 + 5))
    assert places(rig)[before:] == []
    assert len(rig.slot.ask(Inspect())["state"].orders) == 2


def test_an_incomplete_open_list_binds_but_never_closes_replaces_or_cancels(rig):
    orders = bootstrapped(rig)
    accept(rig, orders["A"], "OA-1")
    _restarted(rig)
    stray_cl = order_ids.encode(order_ids.OrderOwner(kind="s", slot_id=3, trade_id="A", role="entry", cycle=9,
                                                     local_id=99))
    before = len(places(rig))
    cancels_before = len(rig.rb.ask(Recorded(Submit)))
    # Only what the stream has reported since the restart; OpenOrders failed: the list is partial.
    deliver(rig, ReconcileOpen(open_orders={"OZ-9": stray_cl}, startup=True, now=T0 + 5, complete=False,
                               unresolved=frozenset({"OA-1"})))
    state = rig.slot.ask(Inspect())["state"]
    assert {o.trade_id: o.txid for o in state.orders} == {"A": "OA-1", "B": ""}, "nothing closed"
    assert places(rig)[before:] == [], "nothing placed again on a guess"
    assert len(rig.rb.ask(Recorded(Submit))) == cancels_before, "no stray cancelled on a partial list"


def test_an_unresolved_order_stays_tracked_until_a_reconcile_settles_it(rig):
    orders = bootstrapped(rig)
    accept(rig, orders["A"], "OA-1")
    accept(rig, orders["B"], "OB-1")
    deliver(rig, ReconcileOpen(open_orders={"OB-1": orders["B"].cl_ord_id}, startup=False, now=T0 + 5,
                               unresolved=frozenset({"OA-1"})))
    assert "OA-1" in {o.txid for o in rig.slot.ask(Inspect())["state"].orders}, "QueryOrders could not say"
    deliver(rig, ReconcileOpen(open_orders={"OB-1": orders["B"].cl_ord_id}, startup=False, now=T0 + 9))
    assert "OA-1" not in {o.txid for o in rig.slot.ask(Inspect())["state"].orders}


def test_order_gone_from_the_exchange_is_treated_as_cancelled(rig):
    orders = bootstrapped(rig)
    accept(rig, orders["A"], "OA-1")
    accept(rig, orders["B"], "OB-1")
    deliver(rig, ReconcileOpen(open_orders={"OB-1": orders["B"].cl_ord_id}, startup=False, now=T0 + 5))
    state = rig.slot.ask(Inspect())["state"]
    assert "OA-1" not in {o.txid for o in state.orders}
    assert not rig.slot.ask(Inspect())["halted"]


def test_injected_crash_reports_to_the_supervisor(rig):
    bootstrapped(rig)
    send(rig.slot, InjectCrash(reason="test"), rig.inflight)
    assert rig.inflight.wait_idle(10)
    assert wait_for(lambda: rig.supervisor.ask(Recorded(SlotFailed)))
    assert [f.slot_id for f in rig.supervisor.ask(Recorded(SlotFailed))] == [3]
    assert not rig.slot.is_alive()


def test_a_final_report_overtaking_a_partial_is_booked_once(rig):
    orders = bootstrapped(rig)
    buy = orders["B"]
    accept(rig, buy, "OB-1")
    part = round(buy.volume / 3, 8)
    deliver(rig, fill(buy, "OB-1", "LAST", buy.volume - part, buy.volume, final=True))
    deliver(rig, fill(buy, "OB-1", "FIRST", part, part))  # arrives after the order completed
    deliver(rig, fill(buy, "OB-1", "FIRST", part, part))
    booked = [f.exec_id for b in rig.store.ask(Recorded()) for f in b.fills]
    assert sorted(booked) == ["FIRST", "LAST"]
    state = rig.slot.ask(Inspect())["state"]
    exits = [o for o in state.orders if o.role == "exit"]
    assert len(exits) == 1 and exits[0].volume == pytest.approx(buy.volume)
