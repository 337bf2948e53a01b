"""RouterActor: a start-up reconcile given a list read earlier (REST OpenOrders, no executions
snapshot) merges it with the live census as it stands when the broadcast is handled.

The list is read before the missed-fill replay; during the replay slots place exits (acknowledged
before the broadcast) and orders of the list close. The slots must be told the former are open and
the latter are not, or a slot places its exit again and the first copy stays live and unmanaged.
"""

from __future__ import annotations

import pytest

from actors.internal import BroadcastReconcile, ReconcileOpen
from actors.messages import ExecutionsSnapshotDone, Fill, OrderAccepted, OrderCanceled, OrderFilled, OrderOpen
from core import order_ids
from tests.actors.helpers import Recorded
from tests.actors.test_router import rig as router_rig  # noqa: F401  (the fixture, reused)


def cl(slot: int, local: int, role: str = "entry") -> str:
    return order_ids.encode(order_ids.OrderOwner(kind="s", slot_id=slot, trade_id="B", role=role, cycle=1,
                                                 local_id=local))


@pytest.fixture
def rig(router_rig):  # noqa: F811  (pytest injects the imported fixture)
    """test_router's rig (a real RouterActor, Recorder slots 1 and 2), seen as (push, reconciles)."""
    _router, slots, _runtime, _budget, push = router_rig

    def reconciles(slot: int) -> list[ReconcileOpen]:
        return slots[slot].ask(Recorded(ReconcileOpen))

    push.slots = slots  # type: ignore[attr-defined]
    return push, reconciles


def test_a_rest_base_is_merged_with_what_the_stream_reported_since(rig):
    push, reconciles = rig
    # REST OpenOrders, read before the replay: an entry of slot 1 still resting, one of slot 2 about
    # to fill, one of slot 2 about to be cancelled.
    rest = {"O-REST": cl(1, 1), "O-FILLS": cl(2, 2), "O-CANCELS": cl(2, 3)}
    # During the replay: slot 1 places an exit (acked and seen open), slot 2's entries close.
    push(OrderAccepted(cl_ord_id=cl(1, 4, "exit"), order_id="O-EXIT", ts=2.0),
         OrderOpen(order_id="O-EXIT", cl_ord_id=cl(1, 4, "exit"), side="sell", order_qty=100, limit_price=0.11,
                   ts=2.0),
         OrderAccepted(cl_ord_id=cl(2, 5, "exit"), order_id="O-ACKED", ts=2.1),  # acked, not yet "open"
         OrderOpen(order_id="O-FILLS", cl_ord_id=cl(2, 2), side="buy", order_qty=100, limit_price=0.09, ts=2.2),
         OrderFilled(order_id="O-FILLS", cl_ord_id=None, cum_qty=100, avg_price=0.09, ts=2.3),
         OrderCanceled(order_id="O-CANCELS", cl_ord_id=cl(2, 3), cum_qty=0, reason="User requested", ts=2.4))
    push(BroadcastReconcile(startup=True, now=3.0, base_open=rest))

    expected = {"O-REST": cl(1, 1), "O-EXIT": cl(1, 4, "exit"), "O-ACKED": cl(2, 5, "exit")}
    for slot in (1, 2):
        got = reconciles(slot)
        assert len(got) == 1 and got[0].startup is True
        assert got[0].open_orders == expected, f"slot {slot}: {got[0].open_orders}"


def test_the_base_does_not_blank_a_client_id_the_stream_knows(rig):
    push, reconciles = rig
    push(OrderOpen(order_id="O1", cl_ord_id=None, side="buy", order_qty=1, limit_price=0.1, ts=1.0))  # sparse
    push(BroadcastReconcile(startup=True, now=3.0, base_open={"O1": cl(1, 1)}))
    assert reconciles(1)[0].open_orders == {"O1": cl(1, 1)}


def test_without_a_base_the_live_census_is_used_as_before(rig):
    push, reconciles = rig
    push(OrderAccepted(cl_ord_id=cl(1, 1), order_id="O1", ts=1.0),
         OrderAccepted(cl_ord_id=cl(1, 2), order_id="O2", ts=1.0),
         OrderCanceled(order_id="O2", cl_ord_id=None, cum_qty=0, reason="User requested", ts=2.0))
    push(BroadcastReconcile(startup=True, now=3.0, slot_id=1))
    assert reconciles(1)[0].open_orders == {"O1": cl(1, 1)}
    assert reconciles(2) == []


def test_a_snapshot_seen_before_the_broadcast_supersedes_the_base(rig):
    push, reconciles = rig
    # A late snapshot (after the REST read) says O-GONE closed meanwhile: the base cannot revive it.
    push(OrderOpen(order_id="O1", cl_ord_id=cl(1, 1), side="buy", order_qty=1, limit_price=0.1, ts=1.0,
                   snapshot=True),
         ExecutionsSnapshotDone(open_order_ids=["O1"], ts=2.0))
    push(BroadcastReconcile(startup=True, now=3.0, base_open={"O1": cl(1, 1), "O-GONE": cl(1, 2)}))
    assert reconciles(1)[0].open_orders == {"O1": cl(1, 1)}


def test_an_ack_arriving_after_the_orders_end_does_not_reopen_it(rig):
    push, reconciles = rig
    # Filled on arrival: the executions stream reports the end before add_order's answer arrives.
    push(OrderFilled(order_id="O-FAST", cl_ord_id=cl(1, 7), cum_qty=100.0, avg_price=0.1, ts=1.0),
         OrderAccepted(cl_ord_id=cl(1, 7), order_id="O-FAST", ts=1.1),
         BroadcastReconcile(startup=False, now=2.0))
    assert "O-FAST" not in reconciles(1)[-1].open_orders
    assert "O-FAST" not in reconciles(2)[-1].open_orders


def test_the_base_teaches_owners_so_reports_naming_only_the_order_id_are_delivered(rig):
    push, reconciles = rig
    # After a restart without a snapshot, an execution of an order placed before the restart
    # arrives with only its exchange id: parked until the router learns whose it is.
    execution = Fill(exec_id="E-1", order_id="O-OLD", cl_ord_id=None, side="buy", last_qty=40.0,
                     last_price=0.09, cum_qty=40.0, order_qty=100.0, fee=0.01, ts=1.0)
    push(execution)
    push(BroadcastReconcile(startup=True, now=2.0, base_open={"O-OLD": cl(1, 1)}))
    got = push.slots[1].ask(Recorded())
    kinds = [type(m).__name__ for m in got]
    assert kinds.index("Fill") < kinds.index("ReconcileOpen"), "the execution reaches its slot first"
    delivered = next(m for m in got if isinstance(m, Fill))
    assert delivered.exec_id == "E-1" and delivered.cl_ord_id == cl(1, 1)
    assert "O-OLD" in reconciles(1)[-1].open_orders
