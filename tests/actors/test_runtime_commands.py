"""Command replies classify refusals for the HTTP API: bad input -> 400 naming the field, a refusal
by the bot's state -> 409 (web/routes.py maps `data.error_kind`)."""

from __future__ import annotations

from typing import Any

import pytest

from actors import commands as c
from actors import runtime_commands
from core import loss_lock
from core import state_machine as sm
from core.config import load_settings
from core.market import PairRules
from core.recovery_ops import RecoveryView
from tests.web.conftest import app_client

NOW = 1_700_000_000.0


class FakeRuntime:
    """What the command handlers read and call on the runtime coordinator, nothing more."""

    def __init__(self, **env: str) -> None:
        self.settings, _ = load_settings(env={"ORDER_SIZE_USD": "10", **env})
        self.cfg = sm.engine_config_from(self.settings, PairRules())
        self.slots: dict[int, object] = {1: object()}
        self.reports: dict[int, Any] = {1: _Report()}
        self.mode = "RUNNING"
        self.pause_kind = ""
        self.pause_reason = ""
        self.halt_reason = ""
        self.loss = loss_lock.LossLockState()
        self.halted_slots: set[int] = set()
        self.price = 0.1
        self.price_ts = NOW
        self.cannot_bootstrap: set[int] = set()
        self.started = True
        self.sent: list[Any] = []
        self.reconfigured = 0

    def send(self, ref: Any, msg: Any) -> None:
        self.sent.append(msg)

    def pause(self, kind: str, reason: str, now: float) -> None:
        self.mode, self.pause_kind, self.pause_reason = "PAUSED", kind, reason

    def reconfigure_slots(self) -> None:
        self.reconfigured += 1

    def save(self, now: float) -> None:
        return None

    def report(self, now: float) -> None:
        return None


class _Report:
    """The fields of a SlotReport the handlers read: one waiting exit, one recovery."""

    def __init__(self) -> None:
        self.halted = False
        self.halt_reason = ""
        self.retiring = False
        self.exits: list[tuple[int, float, float, float]] = [(7, 0.11, 100.0, NOW - 10 * 86400)]
        self.recoveries = [RecoveryView(slot_id=1, recovery_id=4, side="sell", price=0.2, volume=100.0,
                                        entry_price=0.1, orphaned_at=NOW - 86400, txid="OR-4")]


def handle(rt: FakeRuntime, cmd: c.Command) -> c.CommandReply:
    return runtime_commands.handle(rt, cmd, NOW)


@pytest.mark.parametrize(("cmd", "field"), [
    (c.RemoveSlot(slot_id=9), "slot_id"),
    (c.SoftClose(slot_id=9, recovery_id=4), "slot_id"),
    (c.SoftClose(slot_id=1, recovery_id=99), "recovery_id"),
    (c.ReleaseSlot(slot_id=9), "slot_id"),
    (c.ReleaseSlot(slot_id=1, local_id=99), "local_id"),
    (c.SetEntryPct(value=30.0), "value"),  # inside the command's (0, 50] but above ENTRY_PCT's 10
    (c.SetProfitPct(value=0.01), "value"),  # below PROFIT_PCT's 0.05
    (c.SetEntryPct(value=60.0), "value"),  # outside the command's own bound (built in code)
    (c.RemoveSlot(slot_id=-1), "slot_id"),
])
def test_bad_input_is_invalid_input_naming_the_field(cmd, field):
    rt = FakeRuntime(STICKY_MODE_ENABLED="true")
    reply = handle(rt, cmd)
    assert not reply.ok and reply.message
    assert reply.data["error_kind"] == "invalid_input" and reply.data["field"] == field
    assert rt.sent == [] and rt.reconfigured == 0, "nothing changed"


def test_an_out_of_range_percentage_is_refused_not_clamped():
    rt = FakeRuntime()
    before = rt.settings.entry_pct
    reply = handle(rt, c.SetEntryPct(value=30.0))
    assert "above the maximum" in reply.message
    assert rt.settings.entry_pct == before and rt.cfg.entry_pct == before
    ok = handle(rt, c.SetEntryPct(value=0.5))
    assert ok.ok and "error_kind" not in ok.data and rt.settings.entry_pct == 0.5


@pytest.mark.parametrize("setup", ["loss_lock", "paused", "sticky_off", "no_exit"])
def test_refusals_by_state_are_refused(setup):
    rt = FakeRuntime(STICKY_MODE_ENABLED="false" if setup == "sticky_off" else "true")
    if setup == "loss_lock":
        rt.mode = "PAUSED"
        rt.loss = loss_lock.LossLockState(active=True, utc_day="2023-11-14", daily_realized_loss_utc=12.0)
        cmd: c.Command = c.Resume()
    elif setup == "paused":
        rt.mode, rt.pause_kind, rt.pause_reason = "PAUSED", "operator", "coffee"
        cmd = c.Pause()
    elif setup == "sticky_off":
        cmd = c.ReleaseSlot(slot_id=1)
    else:
        rt.reports[1].exits = []
        cmd = c.ReleaseSlot(slot_id=1)
    reply = handle(rt, cmd)
    assert not reply.ok and reply.data["error_kind"] == "refused" and "field" not in reply.data


def test_the_dashboard_answers_400_with_a_body_naming_the_problem():
    rt = FakeRuntime()
    with app_client(lambda cmd: handle(rt, cmd)) as (http, _):
        unknown = http.post("/api/action", json={"action": "remove_slot", "slot_id": 42})
        assert unknown.status_code == 400
        assert unknown.json()["data"] == {"error_kind": "invalid_input", "field": "slot_id"}
        assert "no slot 42" in unknown.json()["message"]
        pct = http.post("/api/action", json={"action": "set_entry_pct", "value": 30})
        assert pct.status_code == 400 and pct.json()["data"]["field"] == "value"
        rt.mode, rt.pause_kind = "PAUSED", "operator"
        assert http.post("/api/action", json={"action": "pause"}).status_code == 409
