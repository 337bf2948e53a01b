"""The coordinator loop's wiring (STATE_MACHINE §4): every guard the loop is meant to run must
actually run from `runtime_loop.run`, not only exist as a core function.

Each test drives the real `runtime_loop.run` (and the real `RuntimeActor.pause` / `resume` /
`capacity`) on a minimal runtime object, so deleting one wiring from `run` fails its test here.
The price-history test also checks end to end through the backtest rig.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from actors import runtime_loop
from actors.internal import BootstrapSlot, BudgetMode, SlotReport, SoftCloseRecovery
from actors.store_messages import InsertPrices
from core import bootstrap
from core.recovery_ops import RecoveryView
from tests.integration import minimal_runtime

NOW = 1_700_000_000.0
PRICE = 0.1


def _settings(**env: str) -> Any:
    return minimal_runtime.settings(**env)


def _runtime(*, env: dict[str, str] | None = None, capacity: Any = None) -> SimpleNamespace:
    return minimal_runtime.runtime(env=env, capacity=capacity)


def _report(slot_id: int = 0, *, empty: bool = False, recoveries: list[RecoveryView] | None = None,
            tracked: int = 2, open_orders: int = 2) -> SlotReport:
    facts = bootstrap.SlotFacts(slot_id=slot_id, long_only=False, short_only=False, mode_source="none",
                                has_entry_a=not empty, has_entry_b=not empty, has_exit_a=False, has_exit_b=False)
    return SlotReport(
        slot_id=slot_id, alias=f"s{slot_id}", phase="S0", halted=False, halt_reason="", retiring=False,
        retired=False, empty=empty, facts=facts, open_orders=open_orders, recoveries=recoveries or [],
        tracked_txids=[f"T{slot_id}-{i}" for i in range(tracked)], tracked_cl_ord_ids=[], exits=[],
        usd_reserved=0.0, doge_reserved=0.0, order_volume=None, min_size_wait=False, total_profit=0.0,
        counters={},
    )


def _kinds(rt: SimpleNamespace) -> list[str]:
    return minimal_runtime.kinds(rt)


def _sent(rt: SimpleNamespace, kind: type) -> list[Any]:
    return [m for _, m in rt.sent if isinstance(m, kind)]


# ------------------------------------------------------------------------------ stale price


def test_a_stale_price_pauses_the_loop_and_a_fresh_one_resumes_it() -> None:
    rt = _runtime()
    rt.price_ts = NOW - rt.settings.stale_price_max_age_sec - 30.0
    runtime_loop.run(rt, NOW)
    assert rt.mode == "PAUSED" and rt.pause_kind == "stale_price"
    assert "stale price" in rt.pause_reason
    assert "paused" in _kinds(rt)
    assert any(m.paused for m in _sent(rt, BudgetMode))

    rt.price_ts = NOW + 5.0  # a fresh price arrived
    runtime_loop.run(rt, NOW + 6.0)
    assert rt.mode == "RUNNING" and rt.pause_kind == ""
    assert "resumed" in _kinds(rt)
    assert not _sent(rt, BudgetMode)[-1].paused


def test_a_fresh_price_keeps_the_loop_running() -> None:
    rt = _runtime()
    runtime_loop.run(rt, NOW + 1.0)
    assert rt.mode == "RUNNING" and "paused" not in _kinds(rt)


# -------------------------------------------------------------------------- cannot bootstrap


def test_an_unfundable_empty_slot_pauses_cannot_bootstrap_and_funds_resume_it() -> None:
    rt = _runtime()
    rt.balances = {"USD": 0.0, "DOGE": 0.0}
    rt.slots = {0: "slot0"}
    rt.reports = {0: _report(0, empty=True, tracked=0, open_orders=0)}
    runtime_loop.run(rt, NOW)
    assert rt.mode == "PAUSED" and rt.pause_kind == "cannot_bootstrap"
    assert "slot 0 cannot bootstrap: insufficient USD and DOGE" in rt.pause_reason
    assert "cannot_bootstrap" in _kinds(rt) and "paused" in _kinds(rt)
    assert not _sent(rt, BootstrapSlot)

    # Funds arrive: the same pause kind lets the loop re-plan, resume and bootstrap the slot.
    rt.balances = {"USD": 1000.0, "DOGE": 10_000.0}
    rt.price_ts = NOW + 1.0
    runtime_loop.run(rt, NOW + 1.0)
    assert rt.mode == "RUNNING" and rt.pause_kind == ""
    assert [(ref, m.which) for ref, m in rt.sent if isinstance(m, BootstrapSlot)] == [("slot0", "both")]


def test_one_fundable_and_one_unfundable_slot_pause_once_and_do_not_flap() -> None:
    # Enough for slot 0 at full size (80 DOGE + about $8), then too little for slot 1: the pass
    # pauses and places nothing. Slot reports lag behind the loop (both still report empty), which
    # used to resume for slot 0 and pause again for slot 1 on every loop, alerting each time.
    rt = _runtime()
    rt.balances = {"USD": 10.0, "DOGE": 100.0}
    rt.slots = {0: "slot0", 1: "slot1"}
    rt.reports = {i: _report(i, empty=True, tracked=0, open_orders=0) for i in (0, 1)}
    for i in range(5):
        rt.price_ts = NOW + i
        runtime_loop.run(rt, NOW + i)
        assert rt.mode == "PAUSED" and rt.pause_kind == "cannot_bootstrap"
    assert "slot 1 cannot bootstrap" in rt.pause_reason
    assert _kinds(rt).count("paused") == 1 and "resumed" not in _kinds(rt)
    assert _kinds(rt).count("cannot_bootstrap") == 1
    assert not _sent(rt, BootstrapSlot)
    assert rt.cannot_bootstrap == {1}

    # Funds for both: one resume, and both slots bootstrap in the same pass.
    rt.balances = {"USD": 1000.0, "DOGE": 10_000.0}
    rt.price_ts = NOW + 10.0
    runtime_loop.run(rt, NOW + 10.0)
    assert rt.mode == "RUNNING" and _kinds(rt).count("resumed") == 1
    assert [ref for ref, m in rt.sent if isinstance(m, BootstrapSlot)] == ["slot0", "slot1"]
    assert rt.cannot_bootstrap == set()


def test_removing_the_unfundable_slot_resumes_the_others() -> None:
    rt = _runtime()
    rt.balances = {"USD": 10.0, "DOGE": 100.0}
    rt.slots = {0: "slot0", 1: "slot1"}
    rt.reports = {i: _report(i, empty=True, tracked=0, open_orders=0) for i in (0, 1)}
    runtime_loop.run(rt, NOW)
    assert rt.mode == "PAUSED" and rt.pause_kind == "cannot_bootstrap"
    del rt.slots[1], rt.reports[1]
    rt.price_ts = NOW + 1.0
    runtime_loop.run(rt, NOW + 1.0)
    assert rt.mode == "RUNNING"
    assert [ref for ref, m in rt.sent if isinstance(m, BootstrapSlot)] == ["slot0"]
    assert rt.cannot_bootstrap == set()


# ------------------------------------------------------------------------ soft-close governor


def _recoveries() -> list[RecoveryView]:
    # Sells above the market: 0.20 and 0.18 are the farthest, 0.1005 is already near it.
    return [
        RecoveryView(slot_id=0, recovery_id=1, side="sell", price=0.1005, volume=80.0),
        RecoveryView(slot_id=0, recovery_id=2, side="sell", price=0.20, volume=80.0),
        RecoveryView(slot_id=0, recovery_id=3, side="sell", price=0.15, volume=80.0),
        RecoveryView(slot_id=0, recovery_id=4, side="sell", price=0.18, volume=80.0),
    ]


def test_the_governor_reprices_the_farthest_recoveries_above_the_capacity_threshold() -> None:
    env = {"AUTO_SOFT_CLOSE_CAPACITY_PCT": "80", "AUTO_SOFT_CLOSE_BATCH": "2", "STICKY_MODE_ENABLED": "false"}
    busy = SimpleNamespace(open_order_utilization_pct=95.0, open_order_headroom=5)
    rt = _runtime(env=env, capacity=busy)
    assert not rt.cfg.sticky_mode_enabled
    rt.slots = {0: "slot0"}
    rt.reports = {0: _report(0, recoveries=_recoveries())}
    runtime_loop.run(rt, NOW)
    plans = [(ref, m.recovery_id, m.reason) for ref, m in rt.sent if isinstance(m, SoftCloseRecovery)]
    assert plans == [("slot0", 2, "auto_soft_close"), ("slot0", 4, "auto_soft_close")]
    assert all(m.price < 0.102 for m in _sent(rt, SoftCloseRecovery))
    assert rt.auto_soft_close_total == 2


def test_the_governor_leaves_recoveries_alone_below_the_threshold() -> None:
    env = {"AUTO_SOFT_CLOSE_CAPACITY_PCT": "80", "AUTO_SOFT_CLOSE_BATCH": "2", "STICKY_MODE_ENABLED": "false"}
    calm = SimpleNamespace(open_order_utilization_pct=50.0, open_order_headroom=100)
    rt = _runtime(env=env, capacity=calm)
    rt.slots = {0: "slot0"}
    rt.reports = {0: _report(0, recoveries=_recoveries())}
    runtime_loop.run(rt, NOW)
    assert not _sent(rt, SoftCloseRecovery) and rt.auto_soft_close_total == 0


# ------------------------------------------------------------------------ drift and orphans


def test_persistent_open_order_drift_alerts_once_then_notices_when_resolved() -> None:
    rt = _runtime(env={"OPEN_ORDER_DRIFT_PERSIST_SEC": "300"})
    rt.slots = {0: "slot0"}
    rt.reports = {0: _report(0, tracked=2)}
    rt.telemetry.kraken_open = 10  # the exchange shows 8 orders the bot does not track

    persist = rt.settings.open_order_drift_persist_sec
    for now in (NOW, NOW + persist / 2, NOW + persist, NOW + persist + 30.0):
        rt.price_ts = now
        runtime_loop.run(rt, now)
    assert _kinds(rt).count("drift_on") == 1
    assert rt.telemetry.drift.alerted

    rt.telemetry.kraken_open = 2  # reconciled
    rt.price_ts = NOW + persist + 60.0
    runtime_loop.run(rt, rt.price_ts)
    assert _kinds(rt).count("drift_off") == 1
    assert _kinds(rt).index("drift_off") > _kinds(rt).index("drift_on")


def test_orphan_pressure_alerts_at_the_configured_multiple() -> None:
    rt = _runtime(env={"ORPHAN_PRESSURE_WARN_AT": "3"})
    warn_at = rt.settings.orphan_pressure_warn_at
    assert warn_at == 3
    rt.slots = {0: "slot0"}
    recs = [RecoveryView(slot_id=0, recovery_id=i, side="sell", price=0.2, volume=80.0) for i in range(warn_at)]
    rt.reports = {0: _report(0, recoveries=recs[:-1])}
    runtime_loop.run(rt, NOW)
    assert "orphan_pressure" not in _kinds(rt)
    rt.reports = {0: _report(0, recoveries=recs)}
    runtime_loop.run(rt, NOW + 1.0)
    assert _kinds(rt).count("orphan_pressure") == 1
    runtime_loop.run(rt, NOW + 2.0)  # same level: no repeat
    assert _kinds(rt).count("orphan_pressure") == 1


# ----------------------------------------------------------------------------- price history


def test_the_loop_batches_price_history_to_the_store() -> None:
    told: list[Any] = []
    rt = _runtime()
    rt.store = SimpleNamespace(tell=told.append)
    for i in range(runtime_loop.PRICE_BATCH):
        rt.price_ts = NOW + i
        runtime_loop.run(rt, NOW + i)
    inserts = [m for m in told if isinstance(m, InsertPrices)]
    assert len(inserts) == 1
    assert [(p.ts, p.price) for p in inserts[0].prices] == [(NOW + i, PRICE) for i in range(runtime_loop.PRICE_BATCH)]


def test_price_history_rows_reach_the_database_in_a_backtest(driven) -> None:
    d = driven()
    d.step(3 * runtime_loop.PRICE_BATCH)
    loops = d.system.refs["runtime"].proxy().loops.get(timeout=30)
    assert loops >= runtime_loop.PRICE_BATCH
    d.bt.settle()
    rows = d.system.refs["store"].proxy().recent_prices().get(timeout=30)
    assert len(rows) >= runtime_loop.PRICE_BATCH * (loops // runtime_loop.PRICE_BATCH)
    assert all(r.price > 0 for r in rows)
