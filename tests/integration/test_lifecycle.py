"""Start and stop: no thread left behind, state flushed, a restart continues where it stopped."""

from __future__ import annotations

import threading

from actors.internal import Inspect
from tests.integration.conftest import Driven


def test_stop_leaves_no_thread_behind():
    before = {t.ident for t in threading.enumerate()}
    d = Driven()
    d.step(5)
    d.close()
    leftover = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leftover == []


def test_a_restart_on_the_same_store_continues_with_the_same_slots(tmp_path):
    from actors.backtest import Backtest
    from tests.integration.conftest import RANGING, settings

    db = str(tmp_path / "bt.sqlite")
    first = Backtest(settings(), RANGING, db_path=db, max_candles=200)
    seen: dict = {}
    first.run(before_stop=lambda bt: seen.update(
        slots={s.slot_id: (s.alias, s.cycle_a, s.cycle_b, s.round_trips) for s in bt.system.status().slots}))
    second = Backtest(settings(), RANGING, db_path=db, max_candles=1)
    second.system.start()
    try:
        status = second.system.status()
        assert {s.slot_id: (s.alias, s.cycle_a, s.cycle_b, s.round_trips) for s in status.slots} == seen["slots"]
        assert second.system.inspect("runtime")["started"]
        assert all(ref.ask(Inspect())["state"].slot_id == sid for sid, ref in second.system.slot_refs().items())
    finally:
        second.system.stop()
