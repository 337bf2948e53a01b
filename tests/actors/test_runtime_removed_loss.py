"""The runtime keeps the day's loss of slots removed that day (their books leave with them), so a
restart's loss tally still counts it (core/loss_lock.restored_tally)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from actors.runtime import RuntimeActor
from core import aliases
from core import loss_lock as ll

NOW = 1_700_000_000.0


def _report(day: int, lost: float) -> Any:
    return SimpleNamespace(counters={"cycles_booked": 3}, today_loss=(day, lost))


def test_a_removed_slots_loss_of_the_day_is_kept_and_persisted() -> None:
    day = ll.day_number(NOW)
    rt = SimpleNamespace(slots={1: None, 2: None}, reports={1: _report(day, 1.5), 2: _report(day - 1, 9.0)},
                         retired_counters={}, aliases=aliases.new_state("doge,shiba"), router=None, status=None,
                         removed_loss=(0, 0.0), saved=[])
    rt.send = lambda ref, msg: None
    rt.save = lambda now: rt.saved.append(rt.removed_loss)
    RuntimeActor.drop_slot(rt, 1, NOW)
    assert rt.removed_loss == (day, 1.5)
    RuntimeActor.drop_slot(rt, 2, NOW)  # yesterday's loss is not today's
    assert rt.removed_loss == (day, 1.5) and rt.saved[-1] == (day, 1.5)
    rt.reports[3], rt.slots[3] = _report(day, 0.5), None
    RuntimeActor.drop_slot(rt, 3, NOW)
    assert rt.removed_loss == (day, 2.0)


def test_a_loss_stamped_just_after_midnight_by_the_exchange_clock_is_kept() -> None:
    day = ll.day_number(NOW)
    rt = SimpleNamespace(slots={1: None}, reports={1: _report(day + 1, 0.75)}, retired_counters={},
                         aliases=aliases.new_state("doge"), router=None, status=None, removed_loss=(day, 2.0))
    rt.send = lambda ref, msg: None
    rt.save = lambda now: None
    RuntimeActor.drop_slot(rt, 1, NOW)  # our clock still says `day`
    assert rt.removed_loss == (day + 1, 0.75)
