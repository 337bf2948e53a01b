"""Pause precedence in the coordinator (core/guardrails.py "pause precedence"): a second reason to
pause is never lost because the bot is already paused, an automatic resume lifts only its own kind
and never runs over another condition that still holds, the operator can pause on top of an
automatic pause; and an empty slot waiting on the regime's suppression does not pause the bot.

Like tests/integration/test_guardrail_wiring.py, these drive the real `runtime_loop.run`, the real
`RuntimeActor.pause` / `resume` and the real command handlers on a minimal runtime object.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from actors import commands as c
from actors import runtime_commands, runtime_loop
from actors.internal import BootstrapSlot, BudgetMode, RegimeUpdate, SlotReport
from core import bootstrap, loss_lock
from tests.integration import minimal_runtime

NOW = 1_700_000_000.0  # 2023-11-14 22:13 UTC
PRICE = 0.1
STALE = 1_200.0  # seconds: well past STALE_PRICE_MAX_AGE_SEC (120 s)


def _runtime(**env: str) -> SimpleNamespace:
    return minimal_runtime.runtime(env={"DAILY_LOSS_LIMIT": "3", **env})


def _empty(slot_id: int) -> SlotReport:
    facts = bootstrap.SlotFacts(slot_id=slot_id, long_only=False, short_only=False, mode_source="none",
                                has_entry_a=False, has_entry_b=False, has_exit_a=False, has_exit_b=False)
    return SlotReport(
        slot_id=slot_id, alias=f"s{slot_id}", phase="S0", halted=False, halt_reason="", retiring=False,
        retired=False, empty=True, facts=facts, open_orders=0, recoveries=[], tracked_txids=[],
        tracked_cl_ord_ids=[], exits=[], usd_reserved=0.0, doge_reserved=0.0, order_volume=None,
        min_size_wait=False, total_profit=0.0, counters={},
    )


def _with_empty_slots(rt: SimpleNamespace, *ids: int) -> None:
    rt.slots = {i: f"slot{i}" for i in ids}
    rt.reports = {i: _empty(i) for i in ids}


def _kinds(rt: SimpleNamespace) -> list[str]:
    return minimal_runtime.kinds(rt)


def _bootstrapped(rt: SimpleNamespace) -> list[tuple[Any, str]]:
    return [(ref, m.which) for ref, m in rt.sent if isinstance(m, BootstrapSlot)]


def _ran(rt: SimpleNamespace) -> bool:
    """Whether the rate budget was ever told to let entries out."""
    return any(isinstance(m, BudgetMode) and not m.paused for _, m in rt.sent)


def _loop(rt: SimpleNamespace, now: float, *, price_age: float = 0.0) -> None:
    rt.price_ts = now - price_age
    runtime_loop.run(rt, now)


def _command(rt: SimpleNamespace, cmd: c.Command, now: float) -> c.CommandReply:
    return runtime_commands.handle(rt, cmd, now)


# ------------------------------------------------------------------ A: reasons are not lost


def test_funds_arriving_at_a_stale_price_do_not_resume_and_do_not_bootstrap() -> None:
    # The acceptance review's scenario: paused cannot_bootstrap, the feed dies (price 1,200 s old),
    # funds arrive. The stale price takes the pause over; nothing is placed at the stale price.
    rt = _runtime()
    rt.balances = {"USD": 0.0, "DOGE": 0.0}
    _with_empty_slots(rt, 0)
    _loop(rt, NOW)
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "cannot_bootstrap")

    rt.balances = {"USD": 1000.0, "DOGE": 10_000.0}
    _loop(rt, NOW + STALE, price_age=STALE)
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "stale_price")
    assert "stale price" in rt.pause_reason
    assert _bootstrapped(rt) == [] and "resumed" not in _kinds(rt) and not _ran(rt)
    assert any("takes over the cannot_bootstrap pause" in m for k, m in rt.alerts if k == "paused")

    # Prices flow again: the loop re-plans at a fresh price, resumes and bootstraps.
    _loop(rt, NOW + STALE + 5.0)
    assert (rt.mode, rt.pause_kind) == ("RUNNING", "")
    assert _bootstrapped(rt) == [("slot0", "both")]


def test_the_feed_recovering_returns_to_cannot_bootstrap_while_the_slot_still_lacks_funds() -> None:
    rt = _runtime()
    rt.balances = {"USD": 0.0, "DOGE": 0.0}
    _with_empty_slots(rt, 0)
    _loop(rt, NOW)
    _loop(rt, NOW + STALE, price_age=STALE)
    assert rt.pause_kind == "stale_price"
    _loop(rt, NOW + STALE + 5.0)  # fresh price, still no funds: not RUNNING for a moment
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "cannot_bootstrap")
    assert "slot 0 cannot bootstrap" in rt.pause_reason
    assert "resumed" not in _kinds(rt) and not _ran(rt) and _bootstrapped(rt) == []


def test_an_automatic_resume_lands_on_the_condition_that_still_holds() -> None:
    # Even called directly, lifting cannot_bootstrap at a stale price gives a stale_price pause.
    rt = _runtime()
    rt.mode, rt.pause_kind, rt.pause_reason = "PAUSED", "cannot_bootstrap", "slot 0 cannot bootstrap"
    rt.price_ts = NOW - STALE
    runtime_loop.lift(rt, "cannot_bootstrap", NOW, "funds allow bootstrap again")
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "stale_price")
    assert "resumed" not in _kinds(rt) and not _ran(rt)


def test_an_api_error_pause_during_a_stale_price_pause_survives_the_feed_recovering() -> None:
    rt = _runtime()
    _loop(rt, NOW + STALE, price_age=STALE)
    assert rt.pause_kind == "stale_price"
    for _ in range(rt.settings.max_consecutive_errors):
        runtime_loop.api_result(rt, ok=False, detail="EGeneral:Internal error", now=NOW + STALE + 1.0)
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "api_errors")
    assert _kinds(rt).count("paused") == 2  # the stale pause, then the takeover
    _loop(rt, NOW + STALE + 10.0)  # prices are fresh again
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "api_errors"), "only an operator resume lifts it"
    reply = _command(rt, c.Resume(), NOW + STALE + 20.0)
    assert reply.ok and reply.message == "resumed" and reply.data["lifted"] == "api_errors"
    assert rt.mode == "RUNNING"


def test_the_operator_pauses_on_top_of_a_stale_price_pause_and_stays_paused() -> None:
    rt = _runtime()
    _loop(rt, NOW + STALE, price_age=STALE)
    reply = _command(rt, c.Pause(reason="hold until I look"), NOW + STALE + 1.0)
    assert reply.ok and reply.data["replaced"] == "stale_price"
    assert "replaces the automatic stale_price pause" in reply.message
    assert (rt.mode, rt.pause_kind, rt.pause_reason) == ("PAUSED", "operator", "hold until I look")
    _loop(rt, NOW + STALE + 10.0)  # the feed recovers: the operator's pause holds
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "operator") and "resumed" not in _kinds(rt)
    again = _command(rt, c.Pause(reason="again"), NOW + STALE + 11.0)
    assert not again.ok and again.data["error_kind"] == "refused" and "already paused" in again.message
    assert rt.pause_reason == "hold until I look"
    assert _command(rt, c.Resume(), NOW + STALE + 12.0).ok and rt.mode == "RUNNING"


def test_the_operator_pause_is_refused_over_an_api_error_pause() -> None:
    rt = _runtime()
    for _ in range(rt.settings.max_consecutive_errors):
        runtime_loop.api_result(rt, ok=False, detail="EService:Unavailable", now=NOW)
    assert rt.pause_kind == "api_errors"
    reply = _command(rt, c.Pause(reason="me too"), NOW + 1.0)
    assert not reply.ok and reply.data["error_kind"] == "refused" and "already paused (api_errors)" in reply.message
    assert rt.pause_kind == "api_errors"


def test_an_operator_resume_during_a_stale_price_keeps_the_stale_pause() -> None:
    rt = _runtime()
    assert _command(rt, c.Pause(reason="lunch"), NOW).ok
    rt.price_ts = NOW - STALE  # the feed died while the operator's pause held
    reply = _command(rt, c.Resume(), NOW + 1.0)
    assert reply.ok and reply.data["lifted"] == "operator" and reply.data["pause_kind"] == "stale_price"
    assert "still paused (stale_price)" in reply.message
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "stale_price") and not _ran(rt)
    again = _command(rt, c.Resume(), NOW + 2.0)
    assert not again.ok and again.data["error_kind"] == "refused" and "still paused (stale_price)" in again.message
    _loop(rt, NOW + 3.0)
    assert rt.mode == "RUNNING"


# ------------------------------------------------------------------ A: the daily loss lock (D8)


def test_a_lock_clearing_at_a_stale_price_leaves_a_stale_price_pause() -> None:
    rt = _runtime()
    day = loss_lock.utc_day(NOW)
    rt.loss = loss_lock.LossLockState(active=True, utc_day=day, daily_realized_loss_utc=5.0, locked_utc_day=day)
    rt.mode, rt.pause_kind, rt.pause_reason = "PAUSED", "loss_lock", "daily loss lock"
    rt.price_ts = NOW - STALE
    runtime_loop.evaluate_loss_lock(rt, NOW + 86_400.0)  # the next UTC day clears the lock
    assert not rt.loss.active
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "stale_price") and not _ran(rt)


def test_a_lock_engaging_during_an_operator_pause_does_not_lift_it_when_it_clears() -> None:
    rt = _runtime()
    assert _command(rt, c.Pause(reason="investigating"), NOW).ok
    runtime_loop._loss_lock(rt, NOW + 1.0, [(NOW, -5.0)])  # a losing exit books during the pause
    assert rt.loss.active and "loss_lock_on" in _kinds(rt)
    assert (rt.mode, rt.pause_kind, rt.pause_reason) == ("PAUSED", "operator", "investigating")
    blocked = _command(rt, c.Resume(), NOW + 2.0)
    assert not blocked.ok and "daily loss lock active" in blocked.message, "D8: resume refused under the lock"
    _loop(rt, NOW + 86_400.0)  # UTC rollover: the lock clears, the operator's pause stays
    assert not rt.loss.active and "loss_lock_off" in _kinds(rt)
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "operator") and not _ran(rt)
    assert _command(rt, c.Resume(), NOW + 86_401.0).ok and rt.mode == "RUNNING"


def test_the_operator_can_pause_over_the_loss_lock_to_stay_paused_after_it_clears() -> None:
    rt = _runtime()
    runtime_loop._loss_lock(rt, NOW, [(NOW - 1.0, -5.0)])
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "loss_lock")
    reply = _command(rt, c.Pause(reason="not tomorrow either"), NOW + 1.0)
    assert reply.ok and reply.data["replaced"] == "loss_lock"
    assert "resume stays refused while the daily loss lock is active" in reply.message
    assert not _command(rt, c.Resume(), NOW + 2.0).ok
    _loop(rt, NOW + 86_400.0)
    assert not rt.loss.active and (rt.mode, rt.pause_kind) == ("PAUSED", "operator")


def test_api_errors_during_the_loss_lock_outlive_it() -> None:
    rt = _runtime()
    runtime_loop._loss_lock(rt, NOW, [(NOW - 1.0, -5.0)])
    for _ in range(rt.settings.max_consecutive_errors):
        runtime_loop.api_result(rt, ok=False, detail="EService:Unavailable", now=NOW + 1.0)
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "api_errors")
    _loop(rt, NOW + 86_400.0)
    assert not rt.loss.active and (rt.mode, rt.pause_kind) == ("PAUSED", "api_errors")


# ------------------------------------------------------------------ B: a slot waiting on the regime


def test_a_slot_waiting_on_the_regime_does_not_pause_the_bot(caplog) -> None:
    # Only DOGE is funded and the regime suppresses A (the sell entry): the slot waits.
    rt = _runtime()
    rt.balances = {"USD": 0.0, "DOGE": 10_000.0}
    rt.regime = RegimeUpdate(tier=2, suppressed_side="A")
    _with_empty_slots(rt, 0)
    with caplog.at_level(logging.INFO, logger="runtime"):
        for i in range(3):
            _loop(rt, NOW + i)
    assert (rt.mode, rt.pause_kind) == ("RUNNING", "")
    assert _bootstrapped(rt) == []
    assert "paused" not in _kinds(rt) and "cannot_bootstrap" not in _kinds(rt)
    assert rt.cannot_bootstrap == set() and set(rt.bootstrap_waiting) == {0}
    waits = [r for r in caplog.records if "bootstrap waits" in r.getMessage()]
    assert len(waits) == 1 and waits[0].levelno == logging.INFO, "one info log per slot per change"

    rt.regime = RegimeUpdate()  # the suppression lapses
    _loop(rt, NOW + 10.0)
    assert _bootstrapped(rt) == [("slot0", "A")]  # DOGE only: the A sell reseed
    assert rt.bootstrap_waiting == {}


def test_a_waiting_slot_does_not_hold_back_a_fundable_one() -> None:
    # USD for one B entry: slot 0 takes it (A is suppressed); slot 1 could only sell DOGE -> waits.
    rt = _runtime()
    rt.balances = {"USD": 10.0, "DOGE": 10_000.0}
    rt.regime = RegimeUpdate(tier=2, suppressed_side="A")
    _with_empty_slots(rt, 0, 1)
    _loop(rt, NOW)
    assert (rt.mode, rt.pause_kind) == ("RUNNING", "")
    assert _bootstrapped(rt) == [("slot0", "B")]
    assert set(rt.bootstrap_waiting) == {1} and rt.cannot_bootstrap == set()
    assert "paused" not in _kinds(rt) and "cannot_bootstrap" not in _kinds(rt)


def test_without_any_funds_a_suppressed_slot_still_pauses_cannot_bootstrap() -> None:
    # Waiting is only for "the regime alone stands in the way": with nothing funded it cannot.
    rt = _runtime()
    rt.balances = {"USD": 0.0, "DOGE": 0.0}
    rt.regime = RegimeUpdate(tier=2, suppressed_side="A")
    _with_empty_slots(rt, 0)
    _loop(rt, NOW)
    assert (rt.mode, rt.pause_kind) == ("PAUSED", "cannot_bootstrap") and rt.bootstrap_waiting == {}
