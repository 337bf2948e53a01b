"""Start-up without an executions snapshot: the reconcile falls back on REST OpenOrders.

The REST list is read before the missed-fill replay; the replay makes slots place exits at once.
Real actors, real sockets, a real SimExchange; only the gateway withholds the executions snapshot
during start-up (as if Kraken were slow to send it), and the start-up timeout is short.
"""

from __future__ import annotations

from typing import Any

from actors.internal import Inspect
from tests.faults.conftest import wait_for

STARTUP_TIMEOUT_S = 1.0


def _withhold_snapshots(monkeypatch: Any, withheld: list[str]) -> None:
    """The gateway drops executions snapshot frames whole: no OrderOpen, no fills, no done."""
    from gateway.kraken.inbound import Inbound

    real = Inbound._executions

    def executions(self, frame, now):
        if frame.kind == "snapshot":
            withheld.append(frame.channel)
            return None
        return real(self, frame, now)

    monkeypatch.setattr(Inbound, "_executions", executions)


def _short_startup(monkeypatch: Any, rig: Any) -> None:
    make = rig._system

    def system():
        made = make()
        made.config.startup_timeout = STARTUP_TIMEOUT_S
        return made

    monkeypatch.setattr(rig, "_system", system)


def test_fallback_reconcile_sees_orders_placed_during_the_replay(socket_rig, monkeypatch):
    """Regression: without a snapshot the reconcile used the REST OpenOrders copy verbatim. An exit
    placed and acknowledged during the replay was missing from it: its slot took it for closed,
    placed it again and left the first copy open and unmanaged on the exchange."""
    from actors.venues import GatewayPort

    rig = socket_rig()
    rig.advance(10)
    rig.system.stop()
    rig.sim.advance(30)  # entries fill while nobody listens: the restart must place their exits
    open_before = set(rig.exchange()["open"])
    real_call = GatewayPort.call
    calls: list[str] = []
    held: list[bool] = []

    def acked_by_router() -> set[str]:
        return set(rig.system.refs["router"].ask(Inspect(), timeout=10)["open"]) - open_before

    def port_call(self, name, *args, **kw):
        calls.append(name)
        out = real_call(self, name, *args, **kw)
        if name == "query_orders" and not held:  # the replay's: hold the reconcile until exits are acked
            held.append(wait_for(lambda: bool(acked_by_router()), timeout=10))
        return out

    withheld: list[str] = []
    _withhold_snapshots(monkeypatch, withheld)
    _short_startup(monkeypatch, rig)
    monkeypatch.setattr(GatewayPort, "call", port_call)
    rig.restart_bot()
    monkeypatch.undo()

    assert withheld, "the scenario needs the executions snapshot withheld"
    assert not rig.system.refs["router"].ask(Inspect(), timeout=10)["snapshot_seen"]
    assert calls.index("open_orders") < calls.index("query_orders"), "REST OpenOrders is read before the replay"
    assert held == [True], "the scenario needs an exit acknowledged during the replay"
    assert rig.settle(), rig.why()
    rig.advance(5)
    assert not rig.problems(), rig.why()
