from __future__ import annotations

import pykka
import pytest

from actors.base import InFlight
from actors.clock import VirtualClock
from actors.slot import SlotActor
from actors.slot_io import SlotSnapshot
from core import state_machine as sm
from core.config import load_settings
from core.market import PairRules
from tests.actors.helpers import FakeStore, Recorder


class SlotRig:
    def __init__(self, **env: str) -> None:
        self.inflight = InFlight()
        self.clock = VirtualClock(1_000_000.0)
        base = {"ORDER_SIZE_USD": "10", "ENTRY_PCT": "0.35", "PROFIT_PCT": "1.0"}
        base.update(env)
        self.settings, _ = load_settings(env=base)
        self.cfg = sm.engine_config_from(self.settings, PairRules())
        self.store = FakeStore.start()
        self.rb = Recorder.start(self.inflight)
        self.runtime = Recorder.start(self.inflight)
        self.status = Recorder.start(self.inflight)
        self.supervisor = Recorder.start(self.inflight)
        self.slot = self.start_slot(SlotSnapshot(slot_id=3, alias="doge", state=sm.PairState(slot_id=3)))

    def start_slot(self, snap: SlotSnapshot, seen: set[str] | None = None):
        refs = {"store": self.store, "rate_budget": self.rb, "runtime": self.runtime, "status": self.status,
                "supervisor": self.supervisor}
        return SlotActor.start(self.inflight, self.clock, snapshot=snap, cfg=self.cfg, refs=refs, seen=seen or set())


@pytest.fixture
def rig():
    r = SlotRig()
    yield r
    pykka.ActorRegistry.stop_all()
