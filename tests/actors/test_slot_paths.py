"""SlotActor paths the reviewers asked to confirm: fallback flags on bootstrap/repair, a fill held
through a store outage, the exactly-once guard across a restart."""

from __future__ import annotations

import msgspec
import pytest

from actors.base import send
from actors.internal import BootstrapSlot, Inspect, RepairSlot, SlotTick
from actors.messages import OrderRejected
from actors.slot_io import decode_snapshot
from core import order_ids
from core import state_machine as sm
from tests.actors.helpers import Recorded
from tests.actors.test_slot import PRICE, T0, accept, bootstrapped, deliver, fill, places, wait_for


def state(rig) -> sm.PairState:
    return rig.slot.ask(Inspect())["state"]


def entries(st: sm.PairState) -> dict[str, sm.OrderState]:
    return {o.trade_id: o for o in st.orders if o.role == "entry"}


def consistent(rig) -> sm.PairState:
    info = rig.slot.ask(Inspect())
    st = info["state"]
    assert not info["halted"], info["halt_reason"]
    assert sm.check_invariants(st, rig.cfg) == [] or sm.is_bootstrap_pending_state(st)
    # A switched-off trade never keeps an entry (normalize_slot_mode would clear the flag).
    assert not (st.long_only and "A" in entries(st)) and not (st.short_only and "B" in entries(st))
    return st


# --------------------------------------------------------------------------- 4. fallback flags


@pytest.mark.parametrize(("which", "flag", "missing"), [("A", "short_only", "B"), ("B", "long_only", "A")])
def test_one_sided_bootstrap_then_repair_keeps_flags_and_entries_consistent(rig, which, flag, missing):
    deliver(rig, SlotTick(now=T0, price=PRICE, price_ts=T0),
            BootstrapSlot(now=T0, which=which, mode_source="regime", source="bootstrap_regime", doge_volume=200.0))
    st = consistent(rig)
    assert list(entries(st)) == [which] and getattr(st, flag) and st.mode_source == "regime"
    deliver(rig, RepairSlot(now=T0 + 60, trade_id=missing, doge_volume=200.0))
    st = consistent(rig)
    assert sorted(entries(st)) == ["A", "B"] and not st.long_only and not st.short_only
    assert st.mode_source == "none"


def test_a_rejected_entry_switches_its_trade_off_and_repair_brings_it_back(rig):
    orders = bootstrapped(rig)
    deliver(rig, OrderRejected(cl_ord_id=orders["A"].cl_ord_id, error="EOrder:Insufficient funds", ts=T0 + 1))
    st = consistent(rig)
    assert st.long_only and list(entries(st)) == ["B"]
    deliver(rig, RepairSlot(now=T0 + 60, trade_id="A", doge_volume=200.0))
    st = consistent(rig)
    assert sorted(entries(st)) == ["A", "B"] and not st.long_only


def test_repair_of_a_trade_in_position_is_a_no_op(rig):
    orders = bootstrapped(rig)
    buy = orders["B"]
    accept(rig, buy, "OB-1")
    deliver(rig, fill(buy, "OB-1", "E1", buy.volume, buy.volume, final=True))
    before = len(places(rig))
    deliver(rig, RepairSlot(now=T0 + 60, trade_id="B", doge_volume=200.0))
    st = consistent(rig)
    assert len(places(rig)) == before and [o.role for o in st.orders if o.trade_id == "B"] == ["exit"]


# --------------------------------------------------------------------------- BookFills retry


def test_a_fill_is_held_through_a_store_outage_and_booked_exactly_once(rig):
    orders = bootstrapped(rig)
    buy = orders["B"]
    accept(rig, buy, "OB-1")
    rig.store.ask(1)  # the next write fails and is retried by the store
    done = fill(buy, "OB-1", "E1", buy.volume, buy.volume, final=True)
    send(rig.slot, done, rig.inflight)
    assert wait_for(lambda: rig.slot.ask(Inspect())["unsent"] == 1), "the exit waits for the fill's commit"
    send(rig.slot, done, rig.inflight)  # a duplicate while the write is pending: not booked again
    exits = [o for o in places(rig) if order_ids.decode(o.cl_ord_id).role == "exit"]
    assert exits == []
    assert rig.store.ask("recover") == 1
    assert rig.inflight.wait_idle(10)
    booked = [f.exec_id for b in rig.store.ask(Recorded()) for f in b.fills]
    assert booked == ["E1"]
    exits = [o for o in places(rig) if order_ids.decode(o.cl_ord_id).role == "exit"]
    assert len(exits) == 1
    assert rig.slot.ask(Inspect())["counters"]["duplicate_fills_ignored"] == 1


def test_a_slot_restarted_from_its_store_does_not_apply_a_replay_twice(rig):
    orders = bootstrapped(rig)
    buy = orders["B"]
    accept(rig, buy, "OB-1")
    half = round(buy.volume / 2, 8)
    replay = [fill(buy, "OB-1", "E1", half, half), fill(buy, "OB-1", "E2", buy.volume - half, buy.volume, final=True)]
    deliver(rig, *replay)
    writes = rig.store.ask(Recorded())
    seen = {f.exec_id for b in writes for f in b.fills}
    snap = decode_snapshot(writes[-1].state_payload)  # what a restart loads: the last committed write
    rig.slot.stop()
    before = len(places(rig))
    fresh = rig.start_slot(snap, seen=seen)
    for m in replay:  # the reconnect snapshot / TradesHistory replay brings them again
        send(fresh, msgspec.structs.replace(m, snapshot=True), rig.inflight)
    assert rig.inflight.wait_idle(10)
    info = fresh.ask(Inspect())
    assert info["counters"]["duplicate_fills_ignored"] == 2 and not info["halted"]
    assert len(places(rig)) == before, "no second exit"
    assert [o.role for o in info["state"].orders if o.trade_id == "B"] == ["exit"]
