"""The daily loss tally at start-up (core/loss_lock.restored_tally): `__v1__` is saved once per loop,
a slot's `today_realized_loss` with each fill; the restart must start from the larger, so a crash
in between never forgets a loss. The restart itself: tests/integration/test_loss_rescan_restart.py."""

from __future__ import annotations

import datetime as dt

import pytest

from core import loss_lock as ll

NOW = dt.datetime(2026, 2, 14, 15, tzinfo=dt.UTC).timestamp()
TODAY = ll.utc_day(NOW)
DAY_NO = ll.day_number(NOW)


def test_day_number_is_the_slots_loss_day() -> None:
    from core.slot_accounting import utc_day as slot_day

    assert ll.day_number(NOW) == slot_day(NOW)
    assert ll.day_number(NOW - 86_400) == DAY_NO - 1


def test_the_slots_books_raise_a_tally_saved_before_the_last_loss() -> None:
    saved = ll.LossLockState(utc_day=TODAY, daily_realized_loss_utc=1.0)
    state = ll.restored_tally(saved, [(DAY_NO, 2.5), (DAY_NO, 1.5), (DAY_NO - 1, 9.0)], NOW)
    assert (state.utc_day, state.daily_realized_loss_utc) == (TODAY, pytest.approx(4.0))
    state, events = ll.evaluate(state, 3.0, NOW)
    assert state.active and [e.kind for e in events] == ["locked"]


def test_a_higher_saved_tally_is_kept_it_holds_losses_of_removed_slots() -> None:
    saved = ll.LossLockState(utc_day=TODAY, daily_realized_loss_utc=6.0)
    assert ll.restored_tally(saved, [(DAY_NO, 2.5)], NOW) is saved


def test_a_saved_tally_of_an_earlier_day_does_not_count() -> None:
    saved = ll.LossLockState(utc_day=ll.utc_day(NOW - 86_400), daily_realized_loss_utc=50.0)
    state = ll.restored_tally(saved, [(DAY_NO, 0.5)], NOW)
    assert (state.utc_day, state.daily_realized_loss_utc) == (TODAY, 0.5)


def test_only_todays_slot_losses_count() -> None:
    saved = ll.LossLockState()
    assert ll.restored_tally(saved, [(DAY_NO - 1, 9.0), (0, 3.0)], NOW) is saved


def test_yesterdays_lock_still_clears_and_today_relocks_on_the_books() -> None:
    # An old snapshot without locked_utc_day: the lock belongs to the tally's day, kept explicit so
    # that moving the tally to today does not make yesterday's lock look like today's.
    saved = ll.LossLockState(active=True, utc_day=ll.utc_day(NOW - 86_400), daily_realized_loss_utc=5.0)
    state = ll.restored_tally(saved, [(DAY_NO, 4.0)], NOW)
    assert state.locked_utc_day == ll.utc_day(NOW - 86_400)
    state, events = ll.evaluate(state, 3.0, NOW)
    assert [e.kind for e in events] == ["cleared_rollover", "locked"]
    assert state.active and state.daily_realized_loss_utc == 4.0 and state.locked_utc_day == TODAY


def test_slots_removed_today_count_with_the_books_of_the_others() -> None:
    # Saved at the last loop: slot R (removed since) lost 4, slot A lost 1 -> tally 5. A then lost
    # 2 more, committed with its fill, and the process died before the next save: the day lost 7.
    saved = ll.LossLockState(utc_day=TODAY, daily_realized_loss_utc=5.0)
    assert ll.restored_tally(saved, [(DAY_NO, 3.0)], NOW) is saved  # without R's share: 5, short by 2
    state = ll.restored_tally(saved, [(DAY_NO, 3.0), (DAY_NO, 4.0)], NOW)  # R's share kept by the runtime
    assert state.daily_realized_loss_utc == pytest.approx(7.0)
