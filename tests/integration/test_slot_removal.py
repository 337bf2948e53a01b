"""Removing a slot: the barrier stays balanced and the alias is recycled (STATE_MACHINE §19)."""

from __future__ import annotations

from actors.commands import AddSlot, RemoveSlot
from tests.integration.conftest import Driven


def test_removing_a_slot_right_after_start_keeps_the_backtest_barrier_balanced_and_recycles_its_alias() -> None:
    d = Driven()
    try:
        before = {s.slot_id: s.alias for s in d.system.status().slots}
        assert d.command(RemoveSlot(slot_id=2)).ok  # settles: raised "not quiescent" before the fix
        d.step(2)
        after = {s.slot_id: s.alias for s in d.system.status().slots}
        assert 2 not in after
        reply = d.command(AddSlot())
        assert reply.ok, reply.message
        d.step(1)
        added = {s.slot_id: s.alias for s in d.system.status().slots if s.slot_id not in after}
        assert list(added.values()) == [before[2]], "the removed slot's alias is handed out again"
        assert d.system.inflight.count == 0
    finally:
        d.close()
