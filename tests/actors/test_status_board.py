"""StatusBoardActor: assembles the snapshot, pushes it coalesced, forwards alerts."""

from __future__ import annotations

import pykka
import pytest

from actors.alerts import Alert
from actors.base import InFlight, send
from actors.clock import VirtualClock
from actors.internal import GetStatus, StatusFlush, Subscribe
from actors.status import SlotStatus, StatusSnapshot
from actors.status_board import StatusBoardActor, _empty_report


class Sink:
    def __init__(self) -> None:
        self.got: list = []

    def tell(self, m) -> None:
        self.got.append(m)


def slot_status(sid: int, profit: float) -> SlotStatus:
    return SlotStatus(slot_id=sid, alias=f"s{sid}", phase="S0", long_only=False, short_only=False, mode_source="none",
                      cycle_a=1, cycle_b=1, total_profit=profit, total_fees=0.1, round_trips=2,
                      today_realized_loss=0.0, order_size_usd=10, orders=[], recoveries=[])


@pytest.fixture
def rig():
    inflight = InFlight()
    clock = VirtualClock(1000.0)
    board = StatusBoardActor.start(inflight, clock, "sim")

    def push(*msgs):
        for m in msgs:
            send(board, m, inflight)
        assert inflight.wait_idle(10)

    yield board, clock, push
    pykka.ActorRegistry.stop_all()


def test_snapshot_sums_the_slots_in_id_order(rig):
    board, _clock, push = rig
    push(_empty_report(1000.0, "sim"), slot_status(2, 1.5), slot_status(1, 0.5))
    snap = board.ask(GetStatus())
    assert isinstance(snap, StatusSnapshot)
    assert [s.slot_id for s in snap.slots] == [1, 2]
    assert snap.total_profit == pytest.approx(2.0) and snap.total_round_trips == 4


def test_pushes_are_coalesced_per_subscriber(rig):
    _board, clock, push = rig
    sink = Sink()
    push(_empty_report(1000.0, "sim"), Subscribe(sink=sink, max_per_sec=2.0))
    first = len(sink.got)
    push(*[slot_status(1, p) for p in (0.1, 0.2, 0.3)])
    assert len(sink.got) == first, "changes inside the interval wait for the flush"
    clock.set(1001.0)
    push(StatusFlush(now=1001.0))
    assert len(sink.got) == first + 1
    assert sink.got[-1].slots[0].total_profit == pytest.approx(0.3), "the flush carries the newest state"


def test_alerts_reach_alert_subscribers_at_once(rig):
    _board, _clock, push = rig
    sink = Sink()
    push(Subscribe(sink=sink, status=False))
    push(Alert(kind="halt", message="x", ts=1.0, severity="critical"))
    assert [type(m).__name__ for m in sink.got] == ["Alert"]


def test_a_stopped_subscriber_is_dropped_quietly_and_the_others_still_get_pushes(rig, caplog):
    from tests.actors.helpers import Recorder

    _board, clock, push = rig
    stopped = Recorder.start(InFlight())
    stopped.stop()
    sink = Sink()
    with caplog.at_level("INFO", logger="status"):
        push(_empty_report(1000.0, "sim"), Subscribe(sink=stopped, max_per_sec=100.0),
             Subscribe(sink=sink, max_per_sec=100.0))
        clock.set(1001.0)
        push(slot_status(1, 0.5), StatusFlush(now=1001.0))
    assert sink.got and sink.got[-1].slots[0].total_profit == pytest.approx(0.5)
    dropped = [r for r in caplog.records if "has stopped; dropping it" in r.getMessage()]
    assert dropped and all(r.levelname == "INFO" and not r.exc_info for r in dropped), "a shutdown is not a failure"


def test_a_stopped_alert_subscriber_is_removed_after_the_first_alert(rig, caplog):
    from tests.actors.helpers import Recorder

    _board, _clock, push = rig
    stopped = Recorder.start(InFlight())
    stopped.stop()
    with caplog.at_level("INFO", logger="status"):
        push(Subscribe(sink=stopped, status=False))
        for i in range(3):
            push(Alert(kind="halt", message=f"x{i}", ts=float(i), severity="critical"))
    assert sum("has stopped; dropping it" in r.getMessage() for r in caplog.records) == 1
