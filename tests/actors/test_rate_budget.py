"""RateBudgetActor: entry scheduler (§12), bypass sources, pause, trading counter, held mode."""

from __future__ import annotations

import pykka
import pytest

from actors.base import InFlight, send
from actors.clock import VirtualClock
from actors.internal import BudgetMode, FlushIntents, Inspect, LoopBegin, LoopEnd, Submit, Withdrawn
from actors.messages import CancelOrder, PlaceOrder
from actors.rate_budget import RateBudgetActor
from tests.actors.helpers import Recorded, Recorder


class Sink:
    def __init__(self) -> None:
        self.got: list = []

    def tell(self, m) -> None:
        self.got.append(m)


@pytest.fixture
def rig():
    inflight = InFlight()
    clock = VirtualClock(1000.0)
    gateway = Sink()
    slot = Recorder.start(inflight)
    budget = RateBudgetActor.start(inflight, clock, gateway, None, max_entry_adds_per_loop=2)

    def push(*msgs):
        for m in msgs:
            send(budget, m, inflight)
        assert inflight.wait_idle(10)

    yield budget, gateway, slot, clock, push
    pykka.ActorRegistry.stop_all()


def entry(slot, i: int, source: str = "normal") -> Submit:
    return Submit(slot_id=i, intent=PlaceOrder(cl_ord_id=f"s{i}-BE1-{i}", side="buy", price=0.1, volume=60),
                  is_entry=True, source=source, reply_to=slot)


def test_entries_beyond_the_loop_cap_are_deferred_and_drained_next_loop(rig):
    budget, gateway, slot, _clock, push = rig
    push(LoopBegin(now=1000, headroom=100), *[entry(slot, i) for i in range(5)])
    assert len(gateway.got) == 2
    push(LoopEnd(now=1000), LoopBegin(now=1030, headroom=100))
    assert len(gateway.got) == 4
    assert budget.ask(Inspect())["scheduler"].deferred_total == 3


@pytest.mark.parametrize("source", ["bootstrap", "bootstrap_regime", "auto_repair"])
def test_bootstrap_and_repair_bypass_the_cap(rig, source):
    _budget, gateway, slot, _clock, push = rig
    push(LoopBegin(now=1000, headroom=100), *[entry(slot, i, source) for i in range(5)])
    assert len(gateway.got) == 5


def test_exits_are_never_capped(rig):
    _budget, gateway, _slot, _clock, push = rig
    exits = [Submit(slot_id=i, intent=PlaceOrder(cl_ord_id=f"s{i}-BX1-{i}", side="sell", price=0.11, volume=60))
             for i in range(6)]
    push(LoopBegin(now=1000, headroom=100), *exits)
    assert len(gateway.got) == 6


def test_the_cap_tightens_near_the_open_order_limit():
    inflight = InFlight()
    gateway = Sink()
    budget = RateBudgetActor.start(inflight, VirtualClock(1000.0), gateway, None, max_entry_adds_per_loop=5)
    try:
        send(budget, LoopBegin(now=1000, headroom=4), inflight)
        for i in range(5):
            send(budget, Submit(slot_id=i, intent=PlaceOrder(cl_ord_id=f"s{i}-BE1-{i}", side="buy", price=0.1,
                                                             volume=60), is_entry=True), inflight)
        assert inflight.wait_idle(10)
        assert len(gateway.got) == 1  # headroom < 5: one entry per loop
    finally:
        budget.stop()


def test_paused_entries_wait_and_go_out_on_resume(rig):
    _budget, gateway, slot, _clock, push = rig
    push(LoopBegin(now=1000, headroom=100, paused=True), entry(slot, 1))
    assert gateway.got == []
    push(BudgetMode(paused=False))
    assert len(gateway.got) == 1


def test_a_cancel_withdraws_a_queued_entry_and_tells_the_slot(rig):
    _budget, gateway, slot, _clock, push = rig
    push(LoopBegin(now=1000, headroom=100, paused=True), entry(slot, 1))
    push(Submit(slot_id=1, intent=CancelOrder(cl_ord_id="s1-BE1-1")))
    assert gateway.got == []
    assert [w.cl_ord_id for w in slot.ask(Recorded(Withdrawn))] == ["s1-BE1-1"]
    push(BudgetMode(paused=False))
    assert gateway.got == []


def test_the_trading_counter_throttles_until_it_decays(rig):
    _budget, gateway, _slot, clock, push = rig
    exits = [Submit(slot_id=0, intent=PlaceOrder(cl_ord_id=f"s0-BX1-{i}", side="sell", price=0.11, volume=60))
             for i in range(140)]
    push(LoopBegin(now=1000, headroom=1000), *exits)
    sent = len(gateway.got)
    assert sent == 125  # Intermediate tier threshold; add_order costs 1
    clock.set(1010.0)  # 10 s decay at 2.34/s frees 23 units
    push(LoopBegin(now=1010, headroom=1000))
    assert len(gateway.got) == 140


def test_held_mode_forwards_in_slot_order_whatever_the_arrival_order():
    inflight = InFlight()
    gateway = Sink()
    budget = RateBudgetActor.start(inflight, VirtualClock(1000.0), gateway, None, hold_until_flush=True)
    try:
        for i in (3, 1, 2):
            send(budget, Submit(slot_id=i, intent=PlaceOrder(cl_ord_id=f"s{i}-BX1-{i}", side="sell", price=0.1,
                                                             volume=60)), inflight)
        assert inflight.wait_idle(10)
        assert gateway.got == []
        assert budget.ask(FlushIntents(now=1000.0)) == 3
        assert [m.cl_ord_id for m in gateway.got] == ["s1-BX1-1", "s2-BX1-2", "s3-BX1-3"]
    finally:
        budget.stop()
