"""The daily loss lock outranks every other pause (STATE_MACHINE §13: resume is blocked while the
lock is active), including the runtime's automatic resumes (stale price recovered, start-up
complete), and it resumes trading by itself when it clears.

These drive the runtime's real `pause`/`resume` and loop functions on a minimal runtime object,
so each rule is pinned without starting the actor graph.
"""

from __future__ import annotations

from types import SimpleNamespace

from actors import runtime_loop
from actors.internal import BudgetMode
from actors.runtime import RuntimeActor
from core import loss_lock

NOW = 1_700_000_000.0  # 2023-11-14 22:13 UTC
LIMIT = 3.0


def _runtime(mode: str, pause_kind: str, lock_active: bool, loss: float = 5.0) -> SimpleNamespace:
    day = loss_lock.utc_day(NOW)
    rt = SimpleNamespace(
        mode=mode, pause_kind=pause_kind, pause_reason=pause_kind, halt_reason="",
        price_ts=NOW - 1.0,
        settings=SimpleNamespace(stale_price_max_age_sec=120.0, gateway_disconnect_alert_sec=60.0,
                                 daily_loss_limit=LIMIT),
        connection=SimpleNamespace(down_since=None, alerted=False),
        loss=loss_lock.LossLockState(active=lock_active, utc_day=day, daily_realized_loss_utc=loss,
                                     locked_utc_day=day if lock_active else ""),
        rate_budget=None, sent=[], alerts=[], cannot_bootstrap=set(), slots={}, started=True,
    )
    rt.send = lambda ref, msg: rt.sent.append(msg)
    rt.alert = lambda kind, message, now, severity="warning", slot_id=None: rt.alerts.append(kind)
    rt.report = lambda now: None
    rt.pause = lambda kind, reason, now: RuntimeActor.pause(rt, kind, reason, now)
    rt.resume = lambda now, why="operator": RuntimeActor.resume(rt, now, why)
    return rt


def test_fresh_prices_do_not_resume_trading_under_an_active_loss_lock() -> None:
    rt = _runtime("PAUSED", "stale_price", lock_active=True)
    runtime_loop._guards(rt, NOW)  # the price is fresh again: the stale-price pause would lift
    assert rt.mode == "PAUSED"
    assert rt.pause_kind == "loss_lock"
    assert "resumed" not in rt.alerts
    assert all(not (isinstance(m, BudgetMode) and not m.paused) for m in rt.sent)


def test_a_lock_that_engages_during_another_pause_takes_that_pause_over() -> None:
    rt = _runtime("PAUSED", "stale_price", lock_active=False, loss=0.0)
    runtime_loop._loss_lock(rt, NOW, [(NOW - 60.0, -5.0)])  # a losing exit booked during the outage
    assert rt.loss.active
    assert rt.mode == "PAUSED" and rt.pause_kind == "loss_lock"
    assert "loss_lock_on" in rt.alerts
    runtime_loop._guards(rt, NOW)
    assert rt.mode == "PAUSED" and rt.pause_kind == "loss_lock"


def test_start_up_completion_keeps_a_restored_active_lock_paused() -> None:
    rt = _runtime("PAUSED", "startup", lock_active=True)
    runtime_loop.evaluate_loss_lock(rt, NOW)
    rt.resume(NOW, "start-up complete")
    assert rt.mode == "PAUSED" and rt.pause_kind == "loss_lock"


def test_a_restored_lock_cleared_by_utc_rollover_resumes_trading() -> None:
    rt = _runtime("PAUSED", "loss_lock", lock_active=True)
    rt.price_ts = NOW + 86_400.0 - 1.0  # prices flow (a day-old price would leave a stale_price pause)
    runtime_loop.evaluate_loss_lock(rt, NOW + 86_400.0)  # the next UTC day
    assert not rt.loss.active
    assert rt.mode == "RUNNING"
    assert "loss_lock_off" in rt.alerts and "resumed" in rt.alerts


def test_resume_without_a_lock_still_resumes() -> None:
    rt = _runtime("PAUSED", "stale_price", lock_active=False, loss=0.0)
    runtime_loop._guards(rt, NOW)
    assert rt.mode == "RUNNING" and rt.pause_kind == ""
