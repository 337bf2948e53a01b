"""The daily loss tally survives a crash between a losing fill and the next `__v1__` save.

Each slot commits its booked cycle and its `today_realized_loss` with the fill; the runtime saves
its loss-lock tally once per loop. Killed in between, the restart restored a tally without the last
loss (the fill is booked, so it is not replayed) and traded on. Here the store holds exactly that:
`__v1__` saved before the slots' last losing exits, the slots' books past DAILY_LOSS_LIMIT. The
restart must start from the slots' books and engage the lock (actors/system.py `_loss_tally`,
core/loss_lock.restored_tally).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec

from actors.backtest import Backtest
from actors.runtime_state import RUNTIME_KEY, RuntimeSnapshot
from actors.slot_io import SlotSnapshot, encode_snapshot, state_key
from core import loss_lock
from core import state_machine as sm
from core.slot_types import CycleRecord
from store.sqlite import SqliteStore

from .conftest import RANGING, Driven, settings


def _losing_slot(slot_id: int, loss: float, exit_time: float) -> SlotSnapshot:
    cycle = CycleRecord(trade_id="B", cycle=1, entry_price=0.06, exit_price=0.055, volume=loss / 0.005,
                        gross_profit=-loss, fees=0.0, net_profit=-loss, entry_time=exit_time - 3600.0,
                        exit_time=exit_time, close_reason="evicted", from_recovery=True)
    state = sm.PairState(slot_id=slot_id, now=exit_time, completed_cycles=(cycle,), total_profit=-loss,
                         total_round_trips=1, cycle_b=2, today_realized_loss=loss,
                         loss_day=loss_lock.day_number(exit_time))
    return SlotSnapshot(slot_id=slot_id, alias=f"s{slot_id}", state=state)


def test_a_restart_recomputes_the_tally_from_the_slots_books_and_locks() -> None:
    with tempfile.TemporaryDirectory(prefix="dogebot-lossrescan-") as tmp:
        path = str(Path(tmp) / "bot.sqlite")
        d = Driven.__new__(Driven)
        d.bt = Backtest(settings(DAILY_LOSS_LIMIT="3", INITIAL_SLOTS="2"), RANGING, db_path=path)
        d.system = d.bt.system
        start = d.bt.first_ts
        today = loss_lock.utc_day(start)

        # The store as a SIGKILL left it: the slots booked 2.50 + 1.50 USD of losses today, the
        # runtime's last save knew of 1.00 only.
        store = SqliteStore(path)
        saved = RuntimeSnapshot(mode="RUNNING", next_slot_id=2, slot_ids=[0, 1],
                                loss_lock=loss_lock.LossLockState(utc_day=today, daily_realized_loss_utc=1.0))
        store.save_state(RUNTIME_KEY, msgspec.json.encode(saved))
        # (The data starts 45 s after UTC midnight: the exits are seconds before the kill.)
        for sid, loss in ((0, 2.5), (1, 1.5)):
            store.save_state(state_key(sid), encode_snapshot(_losing_slot(sid, loss, start - 30.0 + sid)))
        store.close()

        try:
            d.system.start()
            d.bt.settle()
            d.step(3)
            status = d.system.status()
            assert status.daily_realized_loss_utc == 4.0
            assert status.daily_loss_lock_active and status.daily_loss_lock_utc_day == today
            assert status.mode == "PAUSED"
            assert d.system.inspect("runtime")["pause_kind"] == "loss_lock"
            assert not d.bt.venue.engine.open, "nothing placed under the lock"
        finally:
            d.close()
