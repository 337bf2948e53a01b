"""RouterActor: execution reports to the owning slot by client order id; the rest to the runtime."""

from __future__ import annotations

import pykka
import pytest

from actors.base import InFlight, send
from actors.internal import (
    BroadcastReconcile,
    CensusRequest,
    Inspect,
    OpenOrderCensus,
    OrderDone,
    ReconcileOpen,
    SetRoute,
    Wire,
)
from actors.messages import (
    BalanceUpdate,
    ExecutionsSnapshotDone,
    Fill,
    OrderAccepted,
    OrderCanceled,
    OrderOpen,
    PriceTick,
)
from actors.router import RouterActor
from core import order_ids
from tests.actors.helpers import Recorded, Recorder


def cl(slot: int, local: int) -> str:
    return order_ids.encode(order_ids.OrderOwner(kind="s", slot_id=slot, trade_id="B", role="entry", cycle=1,
                                                 local_id=local))


@pytest.fixture
def rig():
    inflight = InFlight()
    router = RouterActor.start(inflight)
    slots = {i: Recorder.start(inflight) for i in (1, 2)}
    runtime = Recorder.start(inflight)
    budget = Recorder.start(inflight)
    router.ask(Wire(refs={"runtime": runtime, "rate_budget": budget}))
    for i, ref in slots.items():
        router.ask(SetRoute(kind="s", slot_id=i, ref=ref))

    def push(*msgs):
        for m in msgs:
            send(router, m, inflight)
        assert inflight.wait_idle(10)

    yield router, slots, runtime, budget, push
    pykka.ActorRegistry.stop_all()


def fill(order_id: str, cl_ord_id: str | None, exec_id: str) -> Fill:
    return Fill(exec_id=exec_id, order_id=order_id, cl_ord_id=cl_ord_id, side="buy", last_qty=1, last_price=0.1,
                cum_qty=1, order_qty=2, fee=0.0, ts=1.0)


def test_reports_reach_the_owner_named_by_the_client_id(rig):
    _router, slots, _runtime, _budget, push = rig
    push(OrderAccepted(cl_ord_id=cl(2, 5), order_id="O5", ts=1.0), fill("O5", cl(2, 5), "E1"))
    assert [type(m).__name__ for m in slots[2].ask(Recorded())] == ["OrderAccepted", "Fill"]
    assert slots[1].ask(Recorded()) == []


def test_sparse_events_are_routed_by_the_learned_order_id(rig):
    _router, slots, _runtime, budget, push = rig
    push(OrderAccepted(cl_ord_id=cl(1, 7), order_id="O7", ts=1.0),
         fill("O7", None, "E2"),
         OrderCanceled(order_id="O7", cl_ord_id=None, cum_qty=1, reason="User requested", ts=2.0))
    got = slots[1].ask(Recorded())
    assert [type(m).__name__ for m in got] == ["OrderAccepted", "Fill", "OrderCanceled"]
    assert budget.ask(Recorded(OrderDone))[0].cl_ord_id == cl(1, 7)


def test_an_execution_overtaking_its_ack_waits_for_the_mapping(rig):
    _router, slots, _runtime, _budget, push = rig
    push(fill("O9", None, "E3"))
    assert slots[1].ask(Recorded()) == []
    push(OrderOpen(order_id="O9", cl_ord_id=cl(1, 9), side="buy", order_qty=2, limit_price=0.1, ts=1.0))
    assert [type(m).__name__ for m in slots[1].ask(Recorded())] == ["Fill", "OrderOpen"]


def test_foreign_orders_are_counted_not_routed(rig):
    router, _slots, runtime, _budget, push = rig
    push(OrderOpen(order_id="MANUAL", cl_ord_id="operator-1", side="sell", order_qty=1, limit_price=1, ts=1.0,
                   snapshot=True),
         ExecutionsSnapshotDone(open_order_ids=["MANUAL"], ts=2.0),
         CensusRequest(now=3.0))
    census = runtime.ask(Recorded(OpenOrderCensus))[-1]
    assert census.kraken_open == 1 and census.foreign == 1
    assert router.ask(Inspect())["unrouted_total"] >= 1


def test_market_data_and_balances_go_to_the_runtime(rig):
    _router, _slots, runtime, _budget, push = rig
    push(PriceTick(symbol="DOGE/USD", bid=0.1, ask=0.1002, last=0.1001, ts=1.0),
         BalanceUpdate(balances={"USD": 5.0}, ts=1.0))
    assert [type(m).__name__ for m in runtime.ask(Recorded())] == ["PriceTick", "BalanceUpdate"]


def test_reconcile_broadcast_follows_the_snapshot_in_stream_order(rig):
    router, slots, _runtime, _budget, push = rig
    router.ask(Wire(refs={"auto_reconcile": True}))
    push(OrderOpen(order_id="O1", cl_ord_id=cl(1, 1), side="buy", order_qty=2, limit_price=0.1, ts=1.0, snapshot=True),
         ExecutionsSnapshotDone(open_order_ids=["O1"], ts=2.0))
    got = slots[1].ask(Recorded())
    assert [type(m).__name__ for m in got] == ["OrderOpen", "ReconcileOpen"]
    assert got[1].open_orders == {"O1": cl(1, 1)} and got[1].startup is False
    push(BroadcastReconcile(startup=True, now=3.0, slot_id=2))
    assert isinstance(slots[2].ask(Recorded())[-1], ReconcileOpen)


def test_an_add_order_timeout_keeps_the_order_counted_but_a_rejection_releases_it(rig):
    from actors.messages import OrderRejected

    _router, slots, _runtime, budget, push = rig
    push(OrderRejected(cl_ord_id=cl(1, 5), error="timeout", ts=1.0),
         OrderRejected(cl_ord_id=cl(1, 6), error="EOrder:Insufficient funds", ts=1.0))
    assert [m.cl_ord_id for m in slots[1].ask(Recorded(OrderRejected))] == [cl(1, 5), cl(1, 6)]
    # Outcome unknown: the order may be live, so the open-order count keeps it until it is resolved.
    assert [d.cl_ord_id for d in budget.ask(Recorded(OrderDone))] == [cl(1, 6)]


def test_a_parked_execution_is_delivered_naming_its_order(rig):
    _router, slots, _runtime, _budget, push = rig
    push(fill("O9", None, "E3"))
    push(OrderAccepted(cl_ord_id=cl(1, 9), order_id="O9", ts=1.0))
    got = slots[1].ask(Recorded())
    assert [type(m).__name__ for m in got] == ["Fill", "OrderAccepted"]
    # Delivered before the ack, so the slot has not bound O9 yet: the client id must come with it.
    assert got[0].cl_ord_id == cl(1, 9)
