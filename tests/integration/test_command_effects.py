"""Operator commands judged by what they change, not by their reply's `ok`: the recovery's exchange
order (the simulated exchange's own book), the slots left, the aliases, the audit's totals."""

from __future__ import annotations

import re

from actors import commands as c
from core import recovery_ops
from tests.integration.conftest import RANGING, UPTREND, consistency

# Legacy (non-sticky) mode with short orphan timers: on a trend the exits are orphaned quickly.
ORPHANING = {"S1_ORPHAN_AFTER_SEC": "120", "S2_ORPHAN_AFTER_SEC": "180"}
_MOVE = re.compile(r"slot (\d+) recovery (\d+): ([0-9.]+) -> ([0-9.]+)")


def _recoveries(d) -> dict[tuple[int, int], object]:
    return {(s.slot_id, r.recovery_id): r for s in d.system.status().slots for r in s.recoveries}


def _step_until(d, pred, limit: int = 1500) -> None:
    for _ in range(limit):
        d.step(1)
        if pred(d):
            return
    raise AssertionError("condition never reached")


def _exchange_price(d, txid: str) -> float:
    order = d.bt.venue.engine.open.get(txid)
    assert order is not None, f"recovery order {txid} is not open on the exchange"
    return float(order.price)


def _moves(messages: list[str]) -> dict[tuple[int, int], tuple[float, float]]:
    out = {}
    for m in messages:
        hit = _MOVE.search(m)
        assert hit, m
        out[(int(hit[1]), int(hit[2]))] = (float(hit[3]), float(hit[4]))
    return out


def _far(d, n: int, pct: float = 1.0):
    """Step until at least n recoveries sit farther than pct from the market."""
    def ready(d) -> bool:
        return sum(abs(r.distance_pct) > pct for r in _recoveries(d).values()) >= n
    _step_until(d, ready)


def test_soft_close_amends_that_recovery_on_the_exchange_to_the_price_it_reports(driven):
    d = driven(ORPHANING, UPTREND)
    _far(d, 2)
    before = _recoveries(d)
    market = d.system.status().price
    key, rec = next((k, r) for k, r in before.items() if abs(r.distance_pct) > 1.0)
    assert _exchange_price(d, rec.txid) == rec.price
    reply = d.command(c.SoftClose(slot_id=key[0], recovery_id=key[1]))
    assert reply.ok, reply.message
    (_, (old, new)), = _moves([reply.message]).items()
    assert old == rec.price and abs(new - market) < abs(rec.price - market)
    after = _recoveries(d)
    moved = after[key]
    assert moved.txid == rec.txid, "amended in place: the same exchange order"
    assert moved.price == new, "the reply reports the price the slot really used"
    assert _exchange_price(d, rec.txid) == new, "the exchange order itself was repriced"
    for k, r in before.items():
        if k != key:
            assert after[k].price == r.price and _exchange_price(d, r.txid) == r.price, f"{k} was touched"
    consistency(d.bt)
    # Already near the market: a second soft close is refused and changes nothing.
    again = d.command(c.SoftClose(slot_id=key[0], recovery_id=key[1]))
    assert not again.ok and "near-market" in again.message
    assert _recoveries(d)[key].price == new and _exchange_price(d, rec.txid) == new


def test_soft_close_next_moves_only_the_oldest_recovery(driven):
    d = driven(ORPHANING, UPTREND)

    def spread(d) -> bool:
        recs = _recoveries(d)
        return len({r.orphaned_at for r in recs.values()}) >= 2 and sum(
            abs(r.distance_pct) > 1.0 for r in recs.values()) >= 2
    _step_until(d, spread)
    before = _recoveries(d)
    oldest = min(before, key=lambda k: (before[k].orphaned_at, k[0], k[1]))
    assert abs(before[oldest].distance_pct) > 0.5, "precondition: the oldest is far from the market"
    reply = d.command(c.SoftCloseNext())
    assert reply.ok, reply.message
    (key, (_, new)), = _moves([reply.message]).items()
    assert key == oldest
    after = _recoveries(d)
    assert after[oldest].price == new != before[oldest].price
    assert _exchange_price(d, before[oldest].txid) == new
    assert all(after[k].price == r.price for k, r in before.items() if k != oldest)
    consistency(d.bt)
    # The oldest is now near the market: the next call refuses rather than pick another one.
    again = d.command(c.SoftCloseNext())
    assert not again.ok and "near market" in again.message
    assert {k: r.price for k, r in _recoveries(d).items()} == {k: r.price for k, r in after.items()}


def test_cancel_stale_recoveries_reprices_exactly_those_beyond_the_threshold(driven):
    d = driven(ORPHANING, UPTREND)

    def mixed(d) -> bool:
        return len({round(abs(r.distance_pct), 3) for r in _recoveries(d).values()}) >= 2
    _step_until(d, mixed)
    before = _recoveries(d)
    market = d.system.status().price
    dist = {k: recovery_ops.distance_pct(r.price, market) for k, r in before.items()}
    levels = sorted(set(dist.values()))
    threshold = (levels[-1] + levels[-2]) / 2  # the farthest group is stale, the rest not
    assert threshold > 0.5, "precondition: the stale ones are far beyond the near-market price"
    stale = {k for k, v in dist.items() if v > threshold}
    assert stale and stale != set(before)
    reply = d.command(c.CancelStaleRecoveries(min_distance_pct=threshold))
    assert reply.ok, reply.message
    assert reply.message.startswith(f"soft-closed {len(stale)} ")
    assert set(_moves(reply.data["repriced"])) == stale
    after = _recoveries(d)
    for k, r in before.items():
        if k in stale:
            assert abs(after[k].price - market) < abs(r.price - market), f"{k} not moved toward the market"
            assert _exchange_price(d, r.txid) == after[k].price
        else:
            assert after[k].price == r.price and _exchange_price(d, r.txid) == r.price, f"{k} was touched"
    consistency(d.bt)
    # Nothing beyond the threshold any more: the command reports and changes nothing.
    idle = d.command(c.CancelStaleRecoveries(min_distance_pct=threshold))
    assert idle.ok and idle.data["repriced"] == [] and idle.message.startswith("soft-closed 0 ")
    assert {k: r.price for k, r in _recoveries(d).items()} == {k: r.price for k, r in after.items()}


def test_remove_slots_retires_the_highest_live_slots_and_recycles_their_aliases(driven):
    d = driven({}, RANGING)
    d.step(2)
    added = [d.command(c.AddSlot()) for _ in range(2)]
    assert [a.data["slot_id"] for a in added] == [3, 4]
    status = d.system.status()
    alias = {s.slot_id: s.alias for s in status.slots}
    fresh = [s for s in status.slots if s.slot_id in (3, 4)]
    # Removed before their first loop: no order placed yet.
    assert not any(s.orders for s in fresh)
    reply = d.command(c.RemoveSlots(count=2))
    assert reply.ok and reply.data["slot_ids"] == [4, 3]
    d.step(1)
    left = {s.slot_id for s in d.system.status().slots}
    assert left == {0, 1, 2}, "entry-only slots are removed outright; the others untouched"
    consistency(d.bt)
    # Their aliases are free again: the next slot gets one of them (pool names reused lowest-first).
    again = d.command(c.AddSlot())
    assert again.ok and again.data["slot_id"] == 5
    assert again.data["alias"] in {alias[3], alias[4]}
    assert again.data["alias"] not in {alias[s] for s in (0, 1, 2)}
    # RemoveSlots never picks a slot already being removed.
    first = d.command(c.RemoveSlots(count=1))
    assert first.ok and first.data["slot_ids"] == [5]
    second = d.command(c.RemoveSlots(count=1))
    assert second.ok and second.data["slot_ids"] == [2]



def test_audit_pnl_totals_are_the_slots_booked_profit(driven):
    d = driven(ORPHANING, UPTREND)
    _step_until(d, lambda d: sum(s.round_trips for s in d.system.status().slots) >= 2
                and any(s.recoveries for s in d.system.status().slots), limit=2500)
    status = d.system.status()
    reply = d.command(c.AuditPnl())
    assert reply.ok, reply.message
    report = reply.data["report"]
    assert report["ok"] and all(s["ok"] and not s["problems"] and not s["cycle_mismatches"] for s in report["slots"])
    by_slot = {s["slot_id"]: s for s in report["slots"]}
    assert set(by_slot) == {s.slot_id for s in status.slots}
    for s in status.slots:
        assert abs(by_slot[s.slot_id]["recorded_profit"] - s.total_profit) < 1e-9
        assert abs(by_slot[s.slot_id]["recorded_fees"] - s.total_fees) < 1e-9
    total = sum(s.total_profit for s in status.slots)
    assert abs(report["total_recorded_profit"] - total) < 1e-9
    assert abs(report["total_recomputed_profit"] - total) <= report["tolerance"] * len(status.slots)
    assert sum(s["cycles"] for s in report["slots"]) >= 2 and total != 0.0
