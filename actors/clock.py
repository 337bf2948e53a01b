"""Time as a message: the one place that reads the wall clock.

`WallClock` and `VirtualClock` are the injectable clock functions (`clock.now()`); every actor that
must stamp something receives one, and the pure core only ever sees `now` inside events.

`ClockActor` drives the runtime loop:

* wall mode (live, paper, sim): a private thread tells the runtime a `LoopTick` every
  `poll_interval_seconds` and the status board a `StatusFlush` every `flush_interval` seconds;
* virtual mode (backtest): nothing happens by itself. The backtest driver sends `AdvanceTo(ts)`
  once the system is quiescent; the clock moves the virtual time and emits one `LoopTick`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import pykka

from actors.base import BaseActor, InFlight, handles
from actors.internal import AdvanceTo, LoopTick, StatusFlush


class Clock(Protocol):
    speed: float  # clock seconds per wall second (1 for real time)

    def now(self) -> float: ...


class WallClock:
    """Real time (unix seconds)."""

    speed = 1.0

    def now(self) -> float:
        return time.time()


class FollowClock:
    """The clock of an exchange running in this process at `speed` x real time (sim mode).

    The simulated exchange replays historical candles: its events carry the data's time. The bot
    follows that time (stale-price checks, timers, cooldowns), so a day of 2021 replays at `speed`
    without every price looking stale against the wall clock.
    """

    def __init__(self, now: Callable[[], float], speed: float) -> None:
        self._now = now
        self.speed = speed if speed > 0 else 1.0

    def now(self) -> float:
        return self._now()


class VirtualClock:
    """Time that moves only when told to (backtests); never moves backwards."""

    speed = 1.0

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def set(self, ts: float) -> None:
        with self._lock:
            if ts > self._now:
                self._now = ts


class ClockActor(BaseActor):
    def __init__(
        self,
        inflight: InFlight,
        clock: Clock,
        runtime: pykka.ActorRef[Any],
        status: pykka.ActorRef[Any] | None,
        poll_interval: float,
        pulse: list[pykka.ActorRef[Any]] | None = None,
        flush_interval: float = 0.25,
        wall: bool = True,
    ) -> None:
        super().__init__(inflight)
        self.clock = clock
        self.runtime = runtime
        self.status = status
        # Also pulsed: actors that retry on a timer (the rate budget's throttled intents).
        self.pulse = [r for r in (pulse or []) if r is not None]
        self.poll_interval = max(0.05, poll_interval)
        # The flush pulse is for people watching: wall seconds, converted to clock seconds.
        self.flush_interval = max(0.02, flush_interval) * clock.speed
        self.wall = wall
        self.seq = 0
        self._seq_lock = threading.Lock()  # ticks come from the clock thread and from AdvanceTo
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None

    def on_start(self) -> None:
        if self.wall:
            self._thread = threading.Thread(target=self._run, name="clock", daemon=True)
            self._thread.start()

    def on_stop(self) -> None:
        self._quit.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        # pykka skips on_stop when a handler raises: the tick thread must end with the actor.
        self._quit.set()

    def _tick(self, now: float) -> None:
        with self._seq_lock:
            self.seq += 1
            self.send(self.runtime, LoopTick(now=now, seq=self.seq))

    def _run(self) -> None:
        # Ticks are told from this thread directly (tell is thread-safe): the actor's own inbox
        # stays free for AdvanceTo and never queues a backlog of wake-ups.
        next_tick = self.clock.now()
        next_flush = next_tick
        while not self._quit.is_set():
            now = self.clock.now()
            if now >= next_tick:
                self._tick(now)
                next_tick = now + self.poll_interval
            if self.status is not None and now >= next_flush:
                for target in (self.status, *self.pulse):
                    self.send(target, StatusFlush(now=now))
                next_flush = now + self.flush_interval
            wait = min(next_tick, next_flush if self.status is not None else next_tick) - self.clock.now()
            # Capped: a followed clock may jump (a sim stepped by hand) and must be noticed soon.
            self._quit.wait(min(0.2, max(0.005, wait / self.clock.speed)))

    @handles(AdvanceTo)
    def _advance(self, msg: AdvanceTo) -> None:
        if isinstance(self.clock, VirtualClock):
            self.clock.set(msg.ts)
        self._tick(self.clock.now())
