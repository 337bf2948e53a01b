"""The in-process venue announces its "connections" like the socket gateway does.

The real GatewayActor tells the router `GatewayConnected(public|private)` once each socket's
primary subscription is acknowledged; the runtime turns that into `connection.public/private` of
the status snapshot (the dashboard's exchange dots). The in-process SimVenueActor (backtests, the
Driven rig) has no sockets, but its market data and executions are just as available from its
first message on, so it announces both at start, through the router and the in-flight barrier
like its other events. Paper mode's public side is Kraken's real feed (its own GatewayActor), so
there the in-process engine announces only the private side.
"""

from __future__ import annotations

from actors.base import InFlight
from actors.messages import ExecutionsSnapshotDone, GatewayConnected
from actors.sim_venue import SimVenueActor
from gateway.sim.config import SimConfig
from gateway.sim.venue import Venue
from tests.actors.helpers import Recorded, Recorder


def test_a_driven_backtest_shows_both_connections_up_after_start(driven) -> None:
    d = driven()
    conn = d.system.status().connection
    assert conn.public is True
    assert conn.private is True
    assert conn.reconnects == 0
    d.step(3)
    conn = d.system.status().connection
    assert (conn.public, conn.private) == (True, True)


def _started(announce: tuple[str, ...] | None = None) -> tuple[InFlight, list[object]]:
    inflight = InFlight()
    router = Recorder.start(inflight)
    venue = Venue(SimConfig(), prime_candles=1)
    kwargs = {} if announce is None else {"announce": announce}
    actor = SimVenueActor.start(inflight, venue, router, **kwargs)
    try:
        assert inflight.wait_idle(10)
        got = router.ask(Recorded())
    finally:
        actor.stop()
        router.stop()
    return inflight, got


def test_the_venue_announces_public_then_private_before_the_executions_snapshot() -> None:
    inflight, got = _started()
    connected = [m for m in got if isinstance(m, GatewayConnected)]
    assert [m.channel for m in connected] == ["public", "private"]
    snapshot_at = next(i for i, m in enumerate(got) if isinstance(m, ExecutionsSnapshotDone))
    assert all(got.index(m) < snapshot_at for m in connected), "the gateway connects before the snapshot"
    assert inflight.count == 0, "the announcements went through the in-flight barrier"


def test_paper_modes_engine_announces_only_its_private_side() -> None:
    _, got = _started(("private",))
    assert [m.channel for m in got if isinstance(m, GatewayConnected)] == ["private"]
