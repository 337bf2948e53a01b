"""ClockActor and the clocks (actors/clock.py): messages in, messages out.

Deterministic: the wall-mode tests drive the clock thread through a `FollowClock` reading a time
the test moves by hand (`ManualTime`). The test never sleeps to let time pass; it waits (bounded)
until the clock thread has read the new time in a full loop iteration, which is when the thread
has decided whether to tick, and then until everything sent is handled (`InFlight.wait_idle`).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pykka
import pytest

from actors.base import InFlight, send
from actors.clock import ClockActor, FollowClock, VirtualClock, WallClock
from actors.internal import AdvanceTo, LoopTick, StatusFlush
from core.config import load_settings
from tests.actors.helpers import Recorded, Recorder

T0 = 1_700_000_000.0
WAIT = 10.0  # generous bound for anything that should happen within a few clock-thread loops


class ManualTime:
    """The followed time source: moved by the test, counting the clock thread's reads."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._reads = 0
        self._cond = threading.Condition()

    def __call__(self) -> float:
        with self._cond:
            self._reads += 1
            self._cond.notify_all()
            return self._now

    def set(self, ts: float) -> None:
        with self._cond:
            self._now = ts

    def observed(self, timeout: float = WAIT) -> bool:
        """Wait until the clock thread has run a whole loop iteration since this call.

        One iteration reads the time twice (before deciding, and to compute its wait); four
        further reads include a complete iteration that started after the call, sends included.
        """
        with self._cond:
            target = self._reads + 4
            return self._cond.wait_for(lambda: self._reads >= target, timeout=timeout)


def clock_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "clock" and t.is_alive()]


class Rig:
    def __init__(self) -> None:
        self.inflight = InFlight()
        self.runtime = Recorder.start(self.inflight)
        self.status = Recorder.start(self.inflight)
        self.pulsed = Recorder.start(self.inflight)
        self.clock_ref: pykka.ActorRef[Any] | None = None

    def start(self, clock: Any, *, wall: bool, poll_interval: float = 5.0, flush_interval: float = 0.25,
              status: bool = True) -> pykka.ActorRef[Any]:
        self.clock_ref = ClockActor.start(
            self.inflight, clock, self.runtime, self.status if status else None, poll_interval=poll_interval,
            pulse=[self.pulsed, None], flush_interval=flush_interval, wall=wall,
        )
        return self.clock_ref

    def advance(self, ts: float) -> None:
        assert self.clock_ref is not None
        send(self.clock_ref, AdvanceTo(ts=ts), self.inflight)
        assert self.inflight.wait_idle(WAIT)

    def settle(self, time_source: ManualTime) -> None:
        assert time_source.observed(), "the clock thread stopped reading the time"
        assert self.inflight.wait_idle(WAIT)

    def ticks(self) -> list[tuple[float, int]]:
        return [(t.now, t.seq) for t in self.runtime.ask(Recorded(LoopTick))]

    def flushes(self, ref: pykka.ActorRef[Any]) -> list[float]:
        return [f.now for f in ref.ask(Recorded(StatusFlush))]


@pytest.fixture
def rig():
    before = clock_threads()
    r = Rig()
    yield r
    pykka.ActorRegistry.stop_all()
    assert clock_threads() == before, "a clock thread outlived its actor"


# --------------------------------------------------------------------------- the pure clocks


def test_the_virtual_clock_moves_only_when_told_and_never_backwards() -> None:
    c = VirtualClock(T0)
    assert c.speed == 1.0
    assert c.now() == T0 and c.now() == T0
    c.set(T0 + 60)
    assert c.now() == T0 + 60
    c.set(T0 + 30)
    assert c.now() == T0 + 60, "time never moves backwards"
    assert VirtualClock().now() == 0.0


def test_the_wall_clock_reads_real_time_at_speed_one() -> None:
    c = WallClock()
    assert c.speed == 1.0
    lo = time.time()
    now = c.now()
    assert lo <= now <= time.time()


def test_the_follow_clock_reads_its_source_and_keeps_a_positive_speed() -> None:
    src = ManualTime(T0)
    c = FollowClock(src, 8.0)
    assert c.speed == 8.0
    assert c.now() == T0
    src.set(T0 + 3600)
    assert c.now() == T0 + 3600, "it follows the source, jumps included"
    for odd in (0.0, -2.0, math.nan):
        assert FollowClock(src, odd).speed == 1.0
    # run.py: SIM_SPEED=0 runs the simulated exchange as fast as it can ("fast" clock) and
    # follows it with `FollowClock(..., settings.sim_speed or 1.0)`: a speed of 1.
    settings, _ = load_settings(env={"SIM_SPEED": "0"})
    assert settings.sim_speed == 0
    assert FollowClock(src, settings.sim_speed or 1.0).speed == 1.0
    settings, _ = load_settings(env={"SIM_SPEED": "25"})
    assert FollowClock(src, settings.sim_speed or 1.0).speed == 25.0


# --------------------------------------------------------------------------- virtual mode (backtests)


def test_virtual_mode_ticks_only_on_advance_to_one_tick_per_step_in_order(rig):
    clock = VirtualClock(T0)
    rig.start(clock, wall=False, poll_interval=5.0)
    assert rig.inflight.wait_idle(WAIT)
    assert rig.ticks() == [], "nothing happens by itself in virtual mode"
    assert not clock_threads(), "virtual mode runs no clock thread"

    steps = [T0 + 60, T0 + 120, T0 + 121, T0 + 400]
    for ts in steps:
        rig.advance(ts)
        assert clock.now() == ts
    assert rig.ticks() == [(ts, i + 1) for i, ts in enumerate(steps)], \
        "one LoopTick per AdvanceTo, at the new time, whatever the poll interval"
    assert rig.flushes(rig.status) == [] and rig.flushes(rig.pulsed) == []


def test_an_advance_to_the_past_does_not_move_virtual_time_back(rig):
    clock = VirtualClock(T0)
    rig.start(clock, wall=False)
    rig.advance(T0 + 300)
    rig.advance(T0 + 100)
    assert clock.now() == T0 + 300
    assert rig.ticks() == [(T0 + 300, 1), (T0 + 300, 2)]


def test_stopping_a_virtual_clock_is_clean(rig):
    ref = rig.start(VirtualClock(T0), wall=False)
    rig.advance(T0 + 1)
    ref.stop(timeout=WAIT)
    assert not ref.is_alive()
    assert rig.inflight.count == 0
    assert rig.ticks() == [(T0 + 1, 1)]


# --------------------------------------------------------------------------- wall mode (a followed clock)


def test_wall_mode_ticks_at_once_then_every_poll_interval_of_clock_time(rig):
    src = ManualTime(T0)
    rig.start(FollowClock(src, 1.0), wall=True, poll_interval=5.0, status=False)
    rig.settle(src)
    assert rig.ticks() == [(T0, 1)], "the first loop runs at start"

    src.set(T0 + 4.9)
    rig.settle(src)
    assert rig.ticks() == [(T0, 1)], "no tick before its time"

    src.set(T0 + 5.0)
    rig.settle(src)
    assert rig.ticks() == [(T0, 1), (T0 + 5.0, 2)]

    # A jump over many intervals (a sim stepped by hand) gives one tick, not a backlog; the next
    # one is due an interval after it.
    src.set(T0 + 60.0)
    rig.settle(src)
    src.set(T0 + 64.0)
    rig.settle(src)
    assert rig.ticks() == [(T0, 1), (T0 + 5.0, 2), (T0 + 60.0, 3)]
    src.set(T0 + 65.0)
    rig.settle(src)
    assert rig.ticks() == [(T0, 1), (T0 + 5.0, 2), (T0 + 60.0, 3), (T0 + 65.0, 4)]
    assert rig.flushes(rig.pulsed) == [], "no status board: no flush pulse"


def test_the_poll_interval_has_a_floor(rig):
    src = ManualTime(T0)
    rig.start(FollowClock(src, 1.0), wall=True, poll_interval=0.0, status=False)
    rig.settle(src)
    src.set(T0 + 0.04)
    rig.settle(src)
    assert rig.ticks() == [(T0, 1)]
    src.set(T0 + 0.05)
    rig.settle(src)
    assert rig.ticks() == [(T0, 1), (T0 + 0.05, 2)]


def test_flush_pulses_go_to_the_status_board_and_the_pulsed_actors_in_wall_seconds(rig):
    src = ManualTime(T0)
    # 0.25 wall seconds at 8 x real time: a flush every 2 clock seconds; ticks every 60.
    rig.start(FollowClock(src, 8.0), wall=True, poll_interval=60.0, flush_interval=0.25)
    rig.settle(src)
    assert rig.flushes(rig.status) == [T0] and rig.flushes(rig.pulsed) == [T0]

    src.set(T0 + 1.9)
    rig.settle(src)
    assert rig.flushes(rig.status) == [T0], "no flush before its time"

    src.set(T0 + 2.0)
    rig.settle(src)
    assert rig.flushes(rig.status) == [T0, T0 + 2.0]
    assert rig.flushes(rig.pulsed) == [T0, T0 + 2.0]
    assert rig.ticks() == [(T0, 1)], "flushes do not run the loop"
    assert not rig.runtime.ask(Recorded(StatusFlush)), "the runtime gets ticks, not flushes"


def test_advance_to_in_wall_mode_runs_the_loop_without_moving_a_followed_clock(rig):
    src = ManualTime(T0)
    rig.start(FollowClock(src, 1.0), wall=True, poll_interval=60.0, status=False)
    rig.settle(src)
    rig.advance(T0 + 500)
    assert rig.ticks() == [(T0, 1), (T0, 2)]
    assert src() == T0


def test_stopping_joins_the_clock_thread_and_ends_the_ticks(rig):
    src = ManualTime(T0)
    before = clock_threads()
    ref = rig.start(FollowClock(src, 1.0), wall=True, poll_interval=5.0)
    rig.settle(src)
    started = [t for t in clock_threads() if t not in before]
    assert len(started) == 1 and started[0].daemon
    ref.stop(timeout=WAIT)
    assert not started[0].is_alive(), "on_stop joins the thread"
    assert clock_threads() == before
    ticks = rig.ticks()
    src.set(T0 + 3600)
    assert rig.inflight.wait_idle(WAIT)
    assert rig.ticks() == ticks and ticks == [(T0, 1)]


def test_a_failing_handler_ends_the_clock_thread_too(rig):
    from actors.internal import Wire

    src = ManualTime(T0)
    before = clock_threads()
    ref = rig.start(FollowClock(src, 1.0), wall=True, poll_interval=5.0)
    rig.settle(src)
    started = [t for t in clock_threads() if t not in before]
    assert len(started) == 1
    # A handler raising on a tell kills the actor (pykka runs on_failure, not on_stop).
    send(ref, Wire(refs={"no_such_reference": None}), rig.inflight)
    started[0].join(timeout=WAIT)
    assert not ref.is_alive()
    assert not started[0].is_alive(), "no tick thread outlives a failed clock actor"
