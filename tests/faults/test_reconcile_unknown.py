"""Reconciles that lack the exchange's word never guess (actors/reconcile.py).

Over real sockets against the simulated exchange, with Kraken's private REST methods failing on
purpose (`KrakenRest.private` raising for chosen methods a chosen number of times):

* a reconnect whose executions snapshot is full and whose missed-fill replay fails: the slots do
  not take orders that filled while away for cancelled; the supervisor replays and settles them;
* the same with QueryOrders failing too: the gone orders stay tracked (alert), a timed retry
  settles them (alert), nothing lost or placed twice;
* a start-up with no executions snapshot and OpenOrders failing: nothing is closed, placed again
  or left unmanaged; the retry completes the reconcile once OpenOrders answers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

import gateway.kraken.inbound as inbound
from actors.messages import Fill
from gateway.kraken.rest import KrakenRest
from tests.faults.conftest import SocketRig, wait_for


class Failures:
    """Make KrakenRest.private raise for `method` the next `times` calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.left: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        real = KrakenRest.private

        async def private(rest: KrakenRest, method: str, params: dict[str, Any] | None = None) -> Any:
            self.calls[method] = self.calls.get(method, 0) + 1
            if self.left.get(method, 0) > 0:
                self.left[method] -= 1
                raise RuntimeError(f"EAPI:Rate limit exceeded (simulated, {method})")
            return await real(rest, method, params)

        monkeypatch.setattr(KrakenRest, "private", private)

    def fail(self, method: str, times: int) -> None:
        self.left[method] = times


def _alerts(rig: SocketRig) -> list[str]:
    return [a["kind"] for a in rig.system.inspect("status")["alerts"]]


def _outages(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Control of the private stream: `drop` loses live executions (as if the socket were down);
    every snapshot carries only its newest fill (as Kraken's 50 would for a busy account), so the
    gateway must replay over REST; `snapshots` counts them."""
    state: dict[str, Any] = {"drop": False, "snapshots": 0}
    real = inbound.Inbound._executions

    def executions(self: Any, frame: Any, now: float) -> Any:
        if frame.kind != "snapshot":
            return None if state["drop"] else real(self, frame, now)
        state["snapshots"] += 1
        fills = [e for e in frame.events if isinstance(e, Fill)]
        others = [e for e in frame.events if not isinstance(e, Fill)]
        return real(self, msgspec.structs.replace(frame, events=others + fills[:1]), now)

    monkeypatch.setattr(inbound.Inbound, "_executions", executions)
    monkeypatch.setattr(inbound, "SNAPSHOT_TRADES_CAP", 1)
    return state


def _away_then_full_snapshot(rig: SocketRig, monkeypatch: pytest.MonkeyPatch, candles: int = 80) -> int:
    """Executions while the private stream is down; the reconnect snapshot carries only the newest
    fill (as Kraken's 50 would for a busy account), so the gateway must replay over REST."""
    state = _outages(monkeypatch)
    rig.advance(10)
    assert not rig.problems(), rig.why()
    before = len(rig.exchange()["fills"])
    seen = state["snapshots"]
    state["drop"] = True
    rig.advance(candles, settle=False)
    away = len(rig.exchange()["fills"]) - before
    state["drop"] = False
    rig.sim.drop_connections()
    assert wait_for(lambda: state["snapshots"] > seen, 20)
    return away


@pytest.fixture
def rig(tmp_path: Path):
    r = SocketRig(tmp_path, slots=3)
    yield r
    r.close()


def test_a_failed_missed_fill_replay_on_reconnect_loses_no_fill(rig: SocketRig, monkeypatch) -> None:
    failures = Failures(monkeypatch)
    rig.start()
    failures.fail("TradesHistory", 1)  # the gateway's own replay behind the full snapshot
    away = _away_then_full_snapshot(rig, monkeypatch)
    assert away >= 1, "the scenario needs executions while away"
    assert rig.settle(), rig.why()
    assert failures.calls.get("TradesHistory", 0) >= 2, "the supervisor replayed after the gateway failed"
    assert "fill_gap" not in _alerts(rig), "every execution booked as it happened, none estimated"


def test_orders_of_unknown_fate_stay_tracked_until_a_retry_settles_them(rig: SocketRig, monkeypatch) -> None:
    failures = Failures(monkeypatch)
    rig.start()
    failures.fail("TradesHistory", 2)  # the gateway's replay and the supervisor's first one
    failures.fail("QueryOrders", 1000)  # ... and the final states: nothing is known of the gone orders
    away = _away_then_full_snapshot(rig, monkeypatch)
    assert away >= 1
    assert wait_for(lambda: "reconcile_incomplete" in _alerts(rig), 15)
    failures.fail("QueryOrders", 0)  # the exchange answers again
    # Meanwhile no order was taken for cancelled: none was placed again (no duplicate on the book).
    ex = rig.exchange()
    cls = [cl for cl in ex["open"].values()]
    assert len(cls) == len(set(cls)), "an order was placed twice"
    assert wait_for(lambda: "reconcile_settled" in _alerts(rig), 30), "the retry settles them"
    assert rig.settle(), rig.why()


def test_startup_without_snapshot_or_open_orders_places_nothing_twice(rig: SocketRig, monkeypatch) -> None:
    rig.start()
    rig.advance(10)
    open_before = dict(rig.exchange()["open"])
    assert open_before
    rig.system.stop()
    failures = Failures(monkeypatch)
    failures.fail("OpenOrders", 1)
    monkeypatch.setattr(inbound.Inbound, "_executions",
                        _drop_first_snapshot(inbound.Inbound._executions))
    make = rig._system

    def system() -> Any:
        s = make()
        s.config.startup_timeout = 1.0
        return s

    monkeypatch.setattr(rig, "_system", system)
    rig.restart_bot()
    time.sleep(1.0)
    # Before the retry (5 s later): the book is exactly as it was and every order is the bot's.
    ex = rig.exchange()
    assert set(ex["open"]) == set(open_before), "orders were placed again or cancelled on a guess"
    status = rig.system.status()
    tracked = {o.txid for s in status.slots for o in s.orders} | {r.txid for s in status.slots for r in s.recoveries}
    assert set(ex["open"]) <= tracked, f"unmanaged: {sorted(set(ex['open']) - tracked)}"
    assert "reconcile_incomplete" in _alerts(rig)
    assert wait_for(lambda: "reconcile_settled" in _alerts(rig), 30)
    assert rig.settle(), rig.why()


def _drop_first_snapshot(real: Any) -> Any:
    seen = {"n": 0}

    def executions(self: Any, frame: Any, now: float) -> Any:
        if frame.kind == "snapshot" and seen["n"] == 0:
            seen["n"] += 1
            return None  # as if Kraken never sent it: start-up times out waiting
        return real(self, frame, now)

    return executions


def test_a_second_reconnect_during_a_deferred_reconcile_loses_no_fill(rig: SocketRig, monkeypatch) -> None:
    """While the supervisor's reconcile runs its REST calls, a second outage (with executions) ends in
    another reconnect whose replay fails too: the first reconcile's census is replaced. It must not
    be broadcast (the router answers STALE) but redone against the new census."""
    import threading

    import actors.reconcile as reconcile

    failures = Failures(monkeypatch)
    rig.start()
    state = _outages(monkeypatch)
    rig.advance(10)
    assert not rig.problems(), rig.why()

    real_replay = reconcile.replay
    hooked = {"started": False, "done": False, "away": 0}

    def replay(system: Any, port: Any, tracked: Any, open_orders: Any, partial: Any = None, **kw: Any) -> Any:
        res = real_replay(system, port, tracked, open_orders, partial, **kw)
        if not hooked["started"] and threading.current_thread().name == "supervisor":
            hooked["started"] = True
            failures.fail("TradesHistory", 1)
            before = len(rig.exchange()["fills"])
            seen = state["snapshots"]
            state["drop"] = True
            for _ in range(10):  # bounded: until something executes during this outage
                rig.advance(40, settle=False)
                if len(rig.exchange()["fills"]) > before:
                    break
            hooked["away"] = len(rig.exchange()["fills"]) - before
            state["drop"] = False
            rig.sim.drop_connections()
            wait_for(lambda: state["snapshots"] > seen, 20)
            wait_for(lambda: rig.system.inspect("router")["epoch"] >= 3, 10)
            hooked["done"] = True
        return res

    monkeypatch.setattr(reconcile, "replay", replay)
    failures.fail("TradesHistory", 1)  # the first reconnect's gateway replay: deferred to the supervisor
    seen = state["snapshots"]
    state["drop"] = True
    rig.advance(40, settle=False)
    state["drop"] = False
    rig.sim.drop_connections()
    assert wait_for(lambda: state["snapshots"] > seen, 20)
    assert wait_for(lambda: hooked["done"], 30)
    assert hooked["away"] >= 1, "the scenario needs executions during the second outage"
    assert rig.settle(30), rig.why()
