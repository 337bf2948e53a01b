"""`set_loss_limit`: DAILY_LOSS_LIMIT for the running bot (STATE_MACHINE §13 says the lock clears
"when the limit is raised"; this is the operator's way to raise it without a restart).

The handler runs against the runtime's real pause/resume and loss-lock evaluation on a minimal
runtime object, like tests/actors/test_runtime_loss_lock.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from actors import commands as c
from actors import runtime_commands
from actors.runtime import RuntimeActor
from core import loss_lock
from core.config import load_settings

NOW = 1_700_000_000.0  # 2023-11-14 UTC
DAY = loss_lock.utc_day(NOW)


def _runtime(*, lost: float, active: bool, mode: str = "RUNNING", limit: str = "3") -> SimpleNamespace:
    settings, _ = load_settings(env={"DAILY_LOSS_LIMIT": limit})
    rt = SimpleNamespace(
        mode=mode, pause_kind="loss_lock" if active else "", pause_reason="", halt_reason="",
        settings=settings, loss_limit_override=None, rate_budget=None, sent=[], alerts=[],
        price_ts=NOW, cannot_bootstrap=set(), slots={}, started=True,
        loss=loss_lock.LossLockState(active=active, utc_day=DAY, daily_realized_loss_utc=lost,
                                     locked_utc_day=DAY if active else ""),
    )
    rt.send = lambda ref, msg: rt.sent.append(msg)
    rt.alert = lambda kind, message, now, severity="warning", slot_id=None: rt.alerts.append(kind)
    rt.report = lambda now: None
    rt.save = lambda now: None
    rt.pause = lambda kind, reason, now: RuntimeActor.pause(rt, kind, reason, now)
    rt.resume = lambda now, why="operator": RuntimeActor.resume(rt, now, why)
    return rt


def test_raising_the_limit_above_todays_loss_clears_the_lock_and_resumes() -> None:
    rt = _runtime(lost=5.0, active=True, mode="PAUSED")
    assert not runtime_commands.handle(rt, c.Resume(), NOW).ok, "resume is refused under the lock"
    reply = runtime_commands.handle(rt, c.SetLossLimit(value=10.0), NOW)
    assert reply.ok and reply.data["lock_active"] is False
    assert "cleared" in reply.message and "$10.00" in reply.message and "was $3.00" in reply.message
    assert rt.settings.daily_loss_limit == 10.0 and rt.loss_limit_override == 10.0
    assert not rt.loss.active and rt.mode == "RUNNING"
    assert "loss_lock_off" in rt.alerts and "resumed" in rt.alerts


def test_a_raise_that_stays_at_or_below_todays_loss_keeps_the_lock() -> None:
    rt = _runtime(lost=5.0, active=True, mode="PAUSED")
    reply = runtime_commands.handle(rt, c.SetLossLimit(value=5.0), NOW)
    assert reply.ok and reply.data["lock_active"] is True and "stays on" in reply.message
    assert rt.mode == "PAUSED" and rt.pause_kind == "loss_lock"


def test_lowering_the_limit_to_todays_loss_locks_at_once() -> None:
    rt = _runtime(lost=2.5, active=False, mode="RUNNING", limit="10")
    reply = runtime_commands.handle(rt, c.SetLossLimit(value=2.0), NOW)
    assert reply.ok and reply.data["lock_active"] is True and "lock is on" in reply.message
    assert rt.loss.active and rt.mode == "PAUSED" and rt.pause_kind == "loss_lock"
    assert "loss_lock_on" in rt.alerts


def test_zero_disables_the_lock() -> None:
    rt = _runtime(lost=50.0, active=True, mode="PAUSED")
    reply = runtime_commands.handle(rt, c.SetLossLimit(value=0.0), NOW)
    assert reply.ok and "disabled" in reply.message
    assert not rt.loss.active and rt.mode == "RUNNING"


def test_a_raise_during_another_pause_clears_the_lock_but_does_not_resume_that_pause() -> None:
    rt = _runtime(lost=1.0, active=False, mode="PAUSED")
    rt.pause_kind, rt.pause_reason = "operator", "coffee"
    reply = runtime_commands.handle(rt, c.SetLossLimit(value=20.0), NOW)
    assert reply.ok and rt.mode == "PAUSED" and rt.pause_kind == "operator"


@pytest.mark.parametrize("value", [-1.0, 1_000_001.0, float("nan"), float("inf")])
def test_out_of_range_values_are_invalid_input_and_change_nothing(value: float) -> None:
    rt = _runtime(lost=5.0, active=True, mode="PAUSED")
    reply = runtime_commands.handle(rt, c.SetLossLimit(value=value), NOW)
    assert not reply.ok and reply.data["error_kind"] == "invalid_input" and reply.data["field"] == "value"
    assert rt.settings.daily_loss_limit == 3.0 and rt.loss_limit_override is None
    assert rt.loss.active and rt.mode == "PAUSED"
