"""Soft-close amends of a recovery whose answer is lost: the exchange's stream has the last word.

An `amend_order` that times out reverts the slot's recovery to its old price (the amend may not
have happened); when the executions stream then reports the order `amended` at the new price, the
slot must take that price, or it would show and reason about a price the order no longer has.
"""

from __future__ import annotations

from actors.internal import Inspect, SoftCloseRecovery, Submit
from actors.messages import AmendOrder, OrderAmended, OrderRejected
from actors.slot_io import SlotSnapshot
from core import state_machine as sm
from tests.actors.helpers import Recorded
from tests.actors.test_slot import T0, deliver

OLD, NEW = 0.2, 0.1005


def _start(rig):
    rec = sm.RecoveryOrder(recovery_id=1, side="sell", price=OLD, volume=100.0, trade_id="B", cycle=1,
                           entry_price=0.1, local_id=5, txid="OR-5", orphaned_at=T0 - 86_400.0)
    state = sm.PairState(slot_id=4, market_price=0.1, now=T0, recovery_orders=(rec,), next_order_id=6,
                         next_recovery_id=2, last_price_update_at=T0)
    rig.clock.set(T0)
    return rig.start_slot(SlotSnapshot(slot_id=4, alias="kabosu", state=state))


def _price(slot) -> float:
    return slot.ask(Inspect())["state"].recovery_orders[0].price


def _deliver(rig, slot, *messages) -> None:
    rig.slot, saved = slot, rig.slot
    try:
        deliver(rig, *messages)
    finally:
        rig.slot = saved


def test_an_amend_that_timed_out_but_happened_takes_the_streams_price(rig):
    slot = _start(rig)
    _deliver(rig, slot, SoftCloseRecovery(recovery_id=1, price=NEW, now=T0))
    amends = [s.intent for s in rig.rb.ask(Recorded(Submit)) if isinstance(s.intent, AmendOrder)]
    assert [(a.order_id, a.price) for a in amends] == [("OR-5", NEW)]
    assert _price(slot) == NEW

    _deliver(rig, slot, OrderRejected(cl_ord_id="", order_id="OR-5", error="timeout", request="amend_order",
                                      ts=T0 + 10))
    assert _price(slot) == OLD, "outcome unknown: back to the price known to be on the exchange"

    _deliver(rig, slot, OrderAmended(order_id="OR-5", cl_ord_id=None, order_qty=100.0, limit_price=NEW,
                                     ts=T0 + 11))
    assert _price(slot) == NEW, "the stream says the amend happened"
    saved = [b for b in rig.store.ask(Recorded()) if b.state_payload]
    assert saved and b'"price":0.1005' in saved[-1].state_payload, "the confirmed price is persisted"


def test_an_amended_report_ahead_of_the_timeout_is_not_undone(rig):
    slot = _start(rig)
    _deliver(rig, slot, SoftCloseRecovery(recovery_id=1, price=NEW, now=T0))
    _deliver(rig, slot, OrderAmended(order_id="OR-5", cl_ord_id=None, order_qty=100.0, limit_price=NEW,
                                     ts=T0 + 5))
    _deliver(rig, slot, OrderRejected(cl_ord_id="", order_id="OR-5", error="timeout", request="amend_order",
                                      ts=T0 + 10))
    assert _price(slot) == NEW
