"""Daily loss lock (§13)."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import loss_lock as ll
from core.slot_types import CycleRecord

DAY0 = dt.datetime(2026, 2, 14, tzinfo=dt.UTC).timestamp()  # 2026-02-14 00:00:00 UTC
H = 3600.0


def cyc(exit_time: float, net: float, from_recovery: bool = False) -> CycleRecord:
    return CycleRecord(
        trade_id="A",
        cycle=1,
        entry_price=0.1,
        exit_price=0.1,
        volume=50,
        gross_profit=net,
        fees=0.0,
        net_profit=net,
        exit_time=exit_time,
        from_recovery=from_recovery,
        close_reason="evicted" if from_recovery else "filled",
    )


def rescanned(state: ll.LossLockState, cycles: list[CycleRecord], now: float) -> ll.LossLockState:
    """The tally replaced by a full rescan for `now`'s day (the oracle the incremental tally is
    checked against; also a handy way to build a state with a given day's loss)."""
    return msgspec.structs.replace(state, utc_day=ll.utc_day(now), daily_realized_loss_utc=ll.rescan_daily_loss(cycles, now))


def kinds(events: list[ll.LossLockEvent]) -> list[str]:
    return [e.kind for e in events]


def test_utc_day_formatting_is_utc_not_local() -> None:
    assert ll.utc_day(DAY0) == "2026-02-14"
    assert ll.utc_day(DAY0 - 1) == "2026-02-13"
    assert ll.utc_day(DAY0 + 86_399.9) == "2026-02-14"


def test_daily_loss_sums_only_negative_cycles_of_the_current_utc_day() -> None:
    cycles = [
        cyc(DAY0 + 1 * H, -1.0),
        cyc(DAY0 + 2 * H, +5.0),  # profit does not offset loss
        cyc(DAY0 + 3 * H, -0.5, from_recovery=True),  # recovery eviction loss counts
        cyc(DAY0 - 1, -10.0),  # yesterday
        cyc(DAY0 + 86_400, -7.0),  # tomorrow
    ]
    assert ll.rescan_daily_loss(cycles, DAY0 + 12 * H) == pytest.approx(1.5)


def test_lock_engages_when_loss_reaches_limit() -> None:
    state = rescanned(ll.LossLockState(), [cyc(DAY0 + H, -3.0)], DAY0 + 2 * H)
    state, events = ll.evaluate(state, 3.0, DAY0 + 2 * H)
    assert state.active and kinds(events) == ["locked"]
    assert state.locked_utc_day == "2026-02-14"
    assert "DAILY_LOSS_LIMIT" in events[0].message
    assert not ll.resume_allowed(state)
    assert "daily loss lock active" in ll.resume_block_reason(state, 3.0)


def test_lock_stays_quiet_below_limit_and_does_not_repeat_events() -> None:
    state = rescanned(ll.LossLockState(), [cyc(DAY0 + H, -2.99)], DAY0 + 2 * H)
    state, events = ll.evaluate(state, 3.0, DAY0 + 2 * H)
    assert not state.active and events == []
    state = ll.record_cycle(state, DAY0 + 3 * H, -0.01)
    state, events = ll.evaluate(state, 3.0, DAY0 + 3 * H)
    assert kinds(events) == ["locked"]
    state, events = ll.evaluate(state, 3.0, DAY0 + 4 * H)
    assert state.active and events == []


def test_limit_zero_or_negative_disables_the_lock() -> None:
    state = rescanned(ll.LossLockState(), [cyc(DAY0 + H, -100.0)], DAY0 + 2 * H)
    for limit in (0.0, -1.0):
        s, events = ll.evaluate(state, limit, DAY0 + 2 * H)
        assert not s.active and events == []


def test_lock_auto_clears_on_utc_rollover() -> None:
    state = rescanned(ll.LossLockState(), [cyc(DAY0 + H, -5.0)], DAY0 + 2 * H)
    state, _ = ll.evaluate(state, 3.0, DAY0 + 2 * H)
    state, events = ll.evaluate(state, 3.0, DAY0 + 86_400 + 1)
    assert kinds(events) == ["cleared_rollover"]
    assert not state.active
    assert state.utc_day == "2026-02-15"
    assert state.daily_realized_loss_utc == 0.0
    assert ll.resume_allowed(state)
    assert ll.resume_block_reason(state, 3.0) == ""


def test_lock_clears_when_limit_raised_above_current_loss() -> None:
    state = rescanned(ll.LossLockState(), [cyc(DAY0 + H, -5.0)], DAY0 + 2 * H)
    state, _ = ll.evaluate(state, 3.0, DAY0 + 2 * H)
    same, events = ll.evaluate(state, 5.0, DAY0 + 2 * H)  # equal to the loss: still locked
    assert same.active and events == []
    state, events = ll.evaluate(state, 5.01, DAY0 + 2 * H)
    assert kinds(events) == ["cleared_limit"] and not state.active


def test_lock_clears_when_limit_disabled() -> None:
    state = rescanned(ll.LossLockState(), [cyc(DAY0 + H, -5.0)], DAY0 + 2 * H)
    state, _ = ll.evaluate(state, 3.0, DAY0 + 2 * H)
    state, events = ll.evaluate(state, 0.0, DAY0 + 2 * H)
    assert kinds(events) == ["cleared_limit"]
    assert "disabled" in events[0].message


def test_rollover_into_a_day_that_already_lost_the_limit_relocks() -> None:
    state = rescanned(ll.LossLockState(), [cyc(DAY0 + H, -5.0)], DAY0 + 2 * H)
    state, _ = ll.evaluate(state, 3.0, DAY0 + 2 * H)
    state = ll.record_cycle(state, DAY0 + 86_400 + 10, -4.0)  # just after midnight
    state, events = ll.evaluate(state, 3.0, DAY0 + 86_400 + 20)
    assert kinds(events) == ["cleared_rollover", "locked"]
    assert state.active and state.locked_utc_day == "2026-02-15"


def test_snapshot_without_locked_day_keeps_todays_lock() -> None:
    old = ll.LossLockState(active=True, utc_day="2026-02-14", daily_realized_loss_utc=4.0)
    state, events = ll.evaluate(old, 3.0, DAY0 + 5 * H)
    assert state.active and events == []
    state, events = ll.evaluate(old, 3.0, DAY0 + 86_400 + 5)
    assert kinds(events) == ["cleared_rollover"]


def test_incremental_record_cycle_ignores_past_days_and_starts_new_day() -> None:
    state = ll.LossLockState(utc_day="2026-02-14", daily_realized_loss_utc=1.0)
    assert ll.record_cycle(state, DAY0 - 5, -9.0) == state
    assert ll.record_cycle(state, DAY0 + H, 2.0) == state
    moved = ll.record_cycle(state, DAY0 + 86_400 + 1, -0.25)
    assert (moved.utc_day, moved.daily_realized_loss_utc) == ("2026-02-15", 0.25)


def test_step_records_booked_cycles_then_evaluates() -> None:
    state, events = ll.step(ll.LossLockState(), 3.0, DAY0 + H, booked=[(DAY0 + H, -2.0), (DAY0 + H, -1.5)])
    assert kinds(events) == ["locked"]
    assert state.daily_realized_loss_utc == pytest.approx(3.5)


def test_state_round_trips_through_json() -> None:
    state = ll.LossLockState(active=True, utc_day="2026-02-14", daily_realized_loss_utc=3.5, locked_utc_day="2026-02-14")
    assert msgspec.json.decode(msgspec.json.encode(state), type=ll.LossLockState) == state


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=4 * 86_400 - 1),  # time advance since previous event
            st.floats(min_value=-5, max_value=5, allow_nan=False),
            st.booleans(),  # evaluate after this cycle?
        ),
        max_size=40,
    ),
    st.floats(min_value=-1, max_value=10),
)
def test_property_incremental_equals_rescan(steps: list[tuple[float, float, bool]], limit: float) -> None:
    """The runtime's incremental tally always equals a full rescan after each evaluate."""
    now = DAY0 - 3 * H
    cycles: list[CycleRecord] = []
    inc = rescanned(ll.LossLockState(), [], now)
    scan = ll.LossLockState()
    for advance, net, do_eval in steps:
        now += advance / 40  # several cycles per day, with occasional midnight crossings
        cycles.append(cyc(now, net))
        inc = ll.record_cycle(inc, now, net)
        if do_eval:
            inc, inc_events = ll.evaluate(inc, limit, now)
            scan = rescanned(scan, cycles, now)
            scan, scan_events = ll.evaluate(scan, limit, now)
            assert inc.daily_realized_loss_utc == pytest.approx(scan.daily_realized_loss_utc, abs=1e-9)
            assert inc.utc_day == scan.utc_day
            assert inc.active == scan.active
            assert kinds(inc_events) == kinds(scan_events)
            assert inc.active == (limit > 0 and inc.daily_realized_loss_utc >= limit)
