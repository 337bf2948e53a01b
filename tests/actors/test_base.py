"""The quiescence barrier: InFlight counts every internal message until it has been handled."""

from __future__ import annotations

import threading

import msgspec
import pykka
import pytest

from actors.base import BaseActor, CountingSink, InFlight, handles, send


class Hop(msgspec.Struct, frozen=True):
    left: int


class Boom(msgspec.Struct, frozen=True):
    pass


class Chain(BaseActor):
    """Passes Hop(n) on to its peer as Hop(n - 1) until 0; records what it saw."""

    def __init__(self, inflight: InFlight, gate: threading.Event | None = None) -> None:
        super().__init__(inflight)
        self.peer: pykka.ActorRef | None = None
        self.seen: list[int] = []
        self.gate = gate

    @handles(Hop)
    def _hop(self, msg: Hop) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        self.seen.append(msg.left)
        if msg.left > 0:
            self.send(self.peer, Hop(left=msg.left - 1))

    @handles(Boom)
    def _boom(self, msg: Boom) -> None:
        raise RuntimeError("boom")

    @handles(str)
    def _peer(self, msg: str) -> list[int]:
        return list(self.seen)


@pytest.fixture
def pair():
    inflight = InFlight()
    a = Chain.start(inflight)
    b = Chain.start(inflight)
    a.proxy().peer = b
    b.proxy().peer = a
    yield inflight, a, b
    pykka.ActorRegistry.stop_all()


def test_wait_idle_returns_only_after_the_whole_causal_chain(pair):
    inflight, a, b = pair
    send(a, Hop(left=200), inflight)
    assert inflight.wait_idle(10)
    assert inflight.count == 0
    seen = sorted(a.ask("seen") + b.ask("seen"))
    assert seen == list(range(201))
    assert inflight.total == 201


def test_wait_idle_blocks_while_a_message_is_being_handled():
    inflight = InFlight()
    gate = threading.Event()
    slow = Chain.start(inflight, gate)
    try:
        send(slow, Hop(left=0), inflight)
        assert not inflight.wait_idle(0.05)
        gate.set()
        assert inflight.wait_idle(5)
    finally:
        slow.stop()


def test_outside_asks_do_not_touch_the_counter(pair):
    inflight, a, _ = pair
    assert a.ask("seen") == []
    assert inflight.count == 0 and inflight.total == 0


def test_a_crashing_actor_releases_its_queued_messages():
    inflight = InFlight()
    gate = threading.Event()
    victim = Chain.start(inflight, gate)
    send(victim, Boom(), inflight)
    for _ in range(5):
        send(victim, Hop(left=0), inflight)  # queued behind the crash, never handled
    gate.set()
    assert inflight.wait_idle(5), f"{inflight.count} still counted after the crash"
    assert not victim.is_alive()


def test_send_to_a_dead_actor_counts_nothing():
    inflight = InFlight()
    dead = Chain.start(inflight)
    dead.stop()
    assert send(dead, Hop(left=1), inflight) is False
    assert inflight.count == 0


def test_counting_sink_makes_outside_pushes_part_of_the_barrier(pair):
    inflight, a, _ = pair
    CountingSink(a, inflight).tell(Hop(left=3))
    assert inflight.wait_idle(5)
    assert inflight.total == 4
