"""Persistence the runtime relies on across restarts: old snapshots still load, every slot transition
with a fill leaves a bot_events row."""

from __future__ import annotations

import tempfile
from pathlib import Path

from actors import commands as c
from actors.backtest import Backtest
from actors.runtime_state import RUNTIME_KEY
from actors.slot_io import state_key
from store.sqlite import SqliteStore

from .conftest import RANGING, Driven, settings


def test_snapshots_missing_newer_fields_load_with_defaults() -> None:
    with tempfile.TemporaryDirectory(prefix="dogebot-compat-") as tmp:
        path = str(Path(tmp) / "old.sqlite")
        old = SqliteStore(path)
        # An early `__v1__`: no aliases, loss lock, layers, event ids or governor counter yet.
        old.save_state(RUNTIME_KEY, b'{"mode":"RUNNING","next_slot_id":2,"slot_ids":[0,1]}')
        # Early slot snapshots: a bare PairState, no alias / archive / retiring fields.
        for sid in (0, 1):
            old.save_state(state_key(sid), b'{"slot_id":%d,"state":{"slot_id":%d}}' % (sid, sid))
        old.close()

        d = Driven.__new__(Driven)
        d.bt = Backtest(settings(), RANGING, db_path=path)
        d.system = d.bt.system
        try:
            d.system.start()
            d.bt.settle()
            d.step(2)
            status = d.system.status()
            assert sorted(s.slot_id for s in status.slots) == [0, 1]
            assert all(s.alias for s in status.slots), "restored slots get aliases from the pool"
            assert len({s.alias for s in status.slots}) == 2
            assert status.mode == "RUNNING"
            reply = d.command(c.AddSlot())
            assert reply.ok
            assert 2 in [s.slot_id for s in d.system.status().slots], "next_slot_id from the old snapshot"
        finally:
            d.close()


def test_fill_transitions_write_bot_events(driven) -> None:
    d = driven()
    store = d.system.refs["store"].proxy()
    fills = []
    for _ in range(600):
        d.step(1)
        fills = store.recent_fills(limit=1000).get(timeout=30)
        if fills:
            break
    assert fills, "no fill in the data window"
    d.step(1)
    events = store.recent_events(limit=10_000).get(timeout=30)
    fill_events = [e for e in events if "FillEvent" in e.event_type or "fill" in e.event_type.lower()]
    assert fill_events, f"no bot_events row for a fill: {sorted({e.event_type for e in events})}"
    filled_slots = {f.slot_id for f in fills}
    assert filled_slots <= {e.slot_id for e in fill_events}
    assert all(e.from_state and e.to_state for e in fill_events)



def test_set_loss_limit_survives_a_restart_and_the_knob_is_used_until_set() -> None:
    with tempfile.TemporaryDirectory(prefix="dogebot-losslimit-") as tmp:
        path = str(Path(tmp) / "bot.sqlite")

        d = Driven({"DAILY_LOSS_LIMIT": "3"}, db_path=path)
        try:
            assert d.system.status().daily_loss_limit == 3.0, "the knob until a command sets it"
            reply = d.command(c.SetLossLimit(value=7.5))
            assert reply.ok and reply.data["value"] == 7.5
            assert d.system.status().daily_loss_limit == 7.5
            bad = d.command(c.SetLossLimit(value=-2.0))
            assert not bad.ok and bad.data["field"] == "value"
            assert d.system.status().daily_loss_limit == 7.5
        finally:
            d.close()
        d = Driven({"DAILY_LOSS_LIMIT": "3"}, db_path=path)
        try:
            assert d.system.status().daily_loss_limit == 7.5, "restored from the snapshot, not the knob"
        finally:
            d.close()
