"""Every operator command, answered by the runtime with a CommandReply, on a live (virtual-clock) system."""

from __future__ import annotations

from decimal import Decimal

from actors import commands as c
from actors.commands import ACTION_NAMES
from actors.messages import OrderOpen
from actors.runtime_commands import _HANDLERS
from gateway.sim.engine import OrderSpec


def test_every_command_of_the_protocol_has_a_handler():
    assert {cls.__struct_config__.tag for cls in _HANDLERS} == set(ACTION_NAMES)


def test_pause_resume_and_tunables(driven):
    d = driven()
    d.step(3)
    assert d.command(c.Pause(reason="coffee")).ok
    assert d.system.status().mode == "PAUSED" and d.system.status().pause_reason == "coffee"
    assert not d.command(c.Pause()).ok
    assert d.command(c.Resume()).ok
    assert d.system.status().mode == "RUNNING"
    assert not d.command(c.Resume()).ok
    assert d.command(c.SetEntryPct(value=0.5)).ok
    assert d.command(c.SetProfitPct(value=1.5)).ok
    status = d.system.status()
    assert status.entry_pct == 0.5 and status.profit_pct == 1.5
    bad = d.command(c.SetProfitPct(value=99.0))
    assert not bad.ok and "invalid" in bad.message


def test_slots_and_layers(driven):
    d = driven()
    d.step(2)
    reply = d.command(c.AddSlot(alias="wow"))
    assert reply.ok and reply.data["alias"] == "wow"
    assert not d.command(c.AddSlot(alias="wow")).ok
    d.step(2)
    new = next(s for s in d.system.status().slots if s.alias == "wow")
    assert len(new.orders) == 2, "the new slot bootstrapped both sides"
    assert not d.command(c.RemoveSlot(slot_id=999)).ok
    assert d.command(c.RemoveSlot(slot_id=new.slot_id)).ok
    d.step(2)
    left = [s for s in d.system.status().slots if s.slot_id == new.slot_id]
    # Gone, or (if an entry filled meanwhile) retiring with only its exit left.
    assert not left or (left[0].waiting_reason.startswith("retiring")
                        and all(o.role == "exit" for o in left[0].orders))
    assert d.command(c.RemoveSlots(count=1)).ok
    assert d.command(c.AddLayer(source="auto")).ok
    assert d.command(c.RemoveLayer()).ok
    assert not d.command(c.RemoveLayer()).ok


def test_a_slot_with_a_position_retires_keeping_its_exit(driven):
    d = driven()
    for _ in range(300):
        d.step(1)
        holding = [s for s in d.system.status().slots if any(o.role == "exit" for o in s.orders)]
        if holding:
            break
    slot = holding[0]
    reply = d.command(c.RemoveSlot(slot_id=slot.slot_id))
    assert reply.ok and "stay tracked" in reply.message
    d.step(1)
    kept = next(s for s in d.system.status().slots if s.slot_id == slot.slot_id)
    assert [o.role for o in kept.orders] == ["exit"]
    assert kept.waiting_reason.startswith("retiring")


def test_recovery_commands_audit_and_drift(driven):
    d = driven({"S1_ORPHAN_AFTER_SEC": "600", "S2_ORPHAN_AFTER_SEC": "900"})
    assert not d.command(c.SoftCloseNext()).ok
    for _ in range(1500):
        d.step(1)
        if sum(len(s.recoveries) for s in d.system.status().slots) >= 2:
            break
    status = d.system.status()
    recs = [(s.slot_id, r) for s in status.slots for r in s.recoveries]
    assert len(recs) >= 2
    slot_id, rec = recs[0]
    assert not d.command(c.SoftClose(slot_id=slot_id, recovery_id=9999)).ok
    reply = d.command(c.SoftClose(slot_id=slot_id, recovery_id=rec.recovery_id))
    if reply.ok:
        moved = next(r for s in d.system.status().slots for r in s.recoveries if r.recovery_id == rec.recovery_id
                     and s.slot_id == slot_id)
        assert abs(moved.distance_pct) < abs(rec.distance_pct)
    else:
        assert "near-market" in reply.message
    assert d.command(c.CancelStaleRecoveries(min_distance_pct=0.0)).ok
    engine = d.bt.venue.engine
    now = d.system.clock.now()
    # An order naming a slot that no slot tracks (as after a crash between send and commit), and a
    # person's own order on the same account: reconcile_drift must cancel the first, never the second.
    ours = engine.add_order(OrderSpec(side="buy", qty=Decimal(60), price=Decimal("0.01"), post_only=True,
                                      cl_ord_id="s0-BE9-zz"), now=now)
    manual = engine.add_order(OrderSpec(side="buy", qty=Decimal(60), price=Decimal("0.01"), post_only=True,
                                        cl_ord_id="by-hand"), now=now)
    for outcome, cl in ((ours, "s0-BE9-zz"), (manual, "by-hand")):
        d.system.tell("router", OrderOpen(order_id=outcome.result["order_id"], cl_ord_id=cl, side="buy",
                                          order_qty=60, limit_price=0.01, ts=now, snapshot=True))
    d.bt.settle()
    assert d.command(c.ReconcileDrift()).ok
    open_cl = {o.cl_ord_id for o in engine.open.values()}
    assert "s0-BE9-zz" not in open_cl, "our untracked order was cancelled"
    assert "by-hand" in open_cl, "a foreign order is never touched"
    tracked = {o.txid for s in d.system.status().slots for o in s.orders if o.txid}
    assert tracked <= set(engine.open), "no tracked order was cancelled"
    audit = d.command(c.AuditPnl())
    assert audit.ok, audit.message


def test_release_loss_lock_and_blocked_resume(driven):
    d = driven({"STICKY_MODE_ENABLED": "true", "RELEASE_MIN_AGE_SEC": "0", "RELEASE_PANIC_MIN_AGE_SEC": "0",
                "RELEASE_MIN_DISTANCE_PCT": "0",
                "DAILY_LOSS_LIMIT": "0.01"})
    assert not d.command(c.ReleaseSlot(slot_id=0)).ok
    losers = []
    for _ in range(2000):
        d.step(1)
        status = d.system.status()
        market = status.price
        # A position under water: releasing it at the market books a loss.
        losers = [(s, o) for s in status.slots for o in s.orders if o.role == "exit" and o.entry_price and (
            market < o.entry_price * 0.995 if o.side == "sell" else market > o.entry_price * 1.005)]
        if losers:
            break
    slot, exit_order = losers[0]
    reply = d.command(c.ReleaseSlot(slot_id=slot.slot_id, local_id=exit_order.local_id))
    assert reply.ok, reply.message
    d.step(1)
    status = d.system.status()
    assert status.daily_loss_lock_active and status.mode == "PAUSED"
    blocked = d.command(c.Resume())
    assert not blocked.ok and "loss lock" in blocked.message
