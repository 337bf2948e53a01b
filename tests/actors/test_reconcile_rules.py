"""actors/reconcile.py rules that need no exchange: how QueryOrders answers settle gone orders, the
router refusing a reconcile computed against a census a newer snapshot replaced, and the
supervisor keeping at most one reconcile retry pending."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pykka
import pytest

from actors import reconcile
from actors.base import InFlight, send
from actors.internal import STALE, BroadcastReconcile, Inspect, ReconcileAll, ReconcileOpen, SetRoute, Wire
from actors.messages import ExecutionsSnapshotDone, OrderCanceled
from actors.router import RouterActor
from actors.supervisor import Supervisor
from gateway.kraken.codec_rest import KrakenApiError, RestOrder
from tests.actors.helpers import Recorded, Recorder

NOW = 1_700_000_000.0


def _order(oid: str, status: str = "canceled") -> RestOrder:
    return RestOrder(order_id=oid, cl_ord_id=None, userref=0, side="buy", status=status, order_qty=10.0,
                     limit_price=0.1, cum_qty=0.0, avg_price=0.0, fee=0.0, reason="User requested",
                     open_ts=0.0, close_ts=1.0, post_only=True)


class Port:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.queries: list[list[str]] = []

    def call(self, name: str, *args: Any) -> Any:
        if name == "missed_fills":
            return []
        assert name == "query_orders"
        self.queries.append(list(args[0]))
        return self.answer(list(args[0]))


def _replay(port: Port, ids: list[str]) -> tuple[reconcile.ReplayResult, list[Any]]:
    told: list[Any] = []
    system = SimpleNamespace(clock=SimpleNamespace(now=lambda: NOW), tell=lambda who, m: told.append(m))
    tracked = [SimpleNamespace(txid=i, placed_at=NOW - 600.0) for i in ids]
    return reconcile.replay(system, port, tracked, {}), told


def test_an_id_left_out_of_the_answer_is_unknown_not_ended() -> None:
    result, told = _replay(Port(lambda ids: [_order("OA")]), ["OA", "OB"])
    assert [m.order_id for m in told if isinstance(m, OrderCanceled)] == ["OA"]
    assert result.unresolved == {"OB"}


def test_one_unknown_id_does_not_hide_the_others() -> None:
    def answer(ids: list[str]) -> list[RestOrder]:
        if "OBAD" in ids:
            raise KrakenApiError("QueryOrders", ["EOrder:Invalid order"])
        return [_order(i) for i in ids]

    port = Port(answer)
    result, told = _replay(port, ["OA", "OBAD", "OC"])
    assert port.queries == [["OA", "OBAD", "OC"], ["OA"], ["OBAD"], ["OC"]]  # a small batch: each id
    assert sorted(m.order_id for m in told) == ["OA", "OC"]
    # "Invalid order" is the exchange saying it has no such order: absence is its word (closed).
    assert result.unresolved == frozenset()


def test_a_failing_query_and_an_order_still_open_stay_unresolved() -> None:
    def answer(ids: list[str]) -> list[RestOrder]:
        if "OX" in ids:
            raise KrakenApiError("QueryOrders", ["EAPI:Rate limit exceeded"])
        return [_order(i, status="open") for i in ids]

    result, told = _replay(Port(answer), ["OX", "OOPEN"])
    assert told == [] and result.unresolved == {"OX", "OOPEN"}


@pytest.fixture
def router():
    inflight = InFlight()
    ref = RouterActor.start(inflight)
    slot = Recorder.start(inflight)
    ref.ask(Wire(refs={"runtime": Recorder.start(inflight), "rate_budget": Recorder.start(inflight)}))
    ref.ask(SetRoute(kind="s", slot_id=1, ref=slot))
    yield ref, slot, inflight
    pykka.ActorRegistry.stop_all()


def test_a_reconcile_computed_before_a_newer_snapshot_is_refused(router) -> None:
    ref, slot, inflight = router
    send(ref, ExecutionsSnapshotDone(open_order_ids=["O1"], ts=1.0), inflight)
    assert inflight.wait_idle(10)
    epoch = ref.ask(Inspect())["epoch"]
    send(ref, ExecutionsSnapshotDone(open_order_ids=[], ts=2.0), inflight)  # a second reconnect
    assert inflight.wait_idle(10)
    assert ref.ask(BroadcastReconcile(startup=False, now=3.0, epoch=epoch)) == STALE
    assert ref.ask(BroadcastReconcile(startup=False, now=3.0, epoch=epoch + 1)) == 1
    assert len(slot.ask(Recorded(ReconcileOpen))) == 1


def test_at_most_one_reconcile_retry_is_pending() -> None:
    system = SimpleNamespace(venue=None, config=SimpleNamespace(virtual=True))
    sup = Supervisor(system)  # type: ignore[arg-type]
    ran: list[ReconcileAll] = []
    done = threading.Event()

    def record(msg: ReconcileAll) -> None:
        ran.append(msg)
        done.set()

    sup.reconcile = record  # type: ignore[method-assign]
    try:
        sup.retry_later(ReconcileAll(startup=False, why="retry", attempt=2), 3600.0)
        sup.retry_later(ReconcileAll(startup=True, why="retry", attempt=3), 3600.0)
        assert sup.retry_pending()
        sup._fire()  # the timer going off
        assert done.wait(10)
        assert ran == [ReconcileAll(startup=True, why="retry", attempt=3)], "one merged retry, start-up work kept"
        assert not sup.retry_pending()
        done.clear()
        sup.retry_later(ReconcileAll(startup=False, why="retry", attempt=2), 3600.0)
        sup.tell(ReconcileAll(startup=False, why="reconnect"))  # runs now and absorbs the pending retry
        assert done.wait(10)
        assert ran[-1].attempt == 2 and not sup.retry_pending()
    finally:
        sup.stop()


def test_one_unknown_id_among_two_hundred_costs_a_few_requests_and_other_chunks_stand() -> None:
    ids = [f"O{i:03d}" for i in range(200)]

    def answer(batch: list[str]) -> list[RestOrder]:
        assert len(batch) <= 50, "Kraken takes at most 50 ids per request"
        if "O123" in batch:
            raise KrakenApiError("QueryOrders", ["EOrder:Invalid order"])
        return [_order(i) for i in batch]

    port = Port(answer)
    result, told = _replay(port, ids)
    assert len(told) == 199 and result.unresolved == frozenset()
    assert len(port.queries) <= 4 + 2 * 6, f"{len(port.queries)} requests"


def test_a_rate_limited_chunk_stops_the_asking_and_leaves_the_rest_unknown() -> None:
    ids = [f"O{i:03d}" for i in range(120)]
    calls = {"n": 0}

    def answer(batch: list[str]) -> list[RestOrder]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KrakenApiError("QueryOrders", ["EAPI:Rate limit exceeded"])
        return [_order(i) for i in batch]

    port = Port(answer)
    result, told = _replay(port, ids)
    assert len(port.queries) == 2, "no retry storm: the asking stops at the first other error"
    assert len(told) == 50 and len(result.unresolved) == 70


def test_a_dead_slot_does_not_stop_the_others_from_reconciling(router) -> None:
    ref, slot, inflight = router
    dead = Recorder.start(inflight)
    dead.stop()
    ref.ask(SetRoute(kind="s", slot_id=2, ref=dead))
    system = SimpleNamespace(refs={"router": ref}, slot_refs=lambda: {1: slot, 2: dead},
                             clock=SimpleNamespace(now=lambda: NOW), tell=lambda who, m: None)
    port = SimpleNamespace(call=lambda name, *a: [])  # OpenOrders: nothing open
    result = reconcile.reconcile_all(system, port, startup=False, tracked=[])  # type: ignore[arg-type]
    assert result.complete and not result.stale
    assert len(slot.ask(Recorded(ReconcileOpen))) == 1


def test_a_failed_slot_restart_alerts_and_is_tried_again(monkeypatch) -> None:
    from actors import supervisor as supervisor_module
    from actors.alerts import Alert
    from actors.internal import SlotFailed

    monkeypatch.setattr(supervisor_module, "_RESTART_RETRY_S", 0.05)
    told: list[Any] = []
    system = SimpleNamespace(venue=None, config=SimpleNamespace(virtual=True), clock=SimpleNamespace(now=lambda: NOW),
                             tell=lambda who, m: told.append(m))
    sup = Supervisor(system)  # type: ignore[arg-type]
    attempts = threading.Semaphore(0)

    def restart(slot_id: int, *, clear_halt: bool, why: str) -> None:
        attempts.release()
        raise RuntimeError("store unavailable")

    sup.restart = restart  # type: ignore[method-assign]
    try:
        sup.tell(SlotFailed(slot_id=3, error="boom"))
        assert attempts.acquire(timeout=10) and attempts.acquire(timeout=10), "tried again"
        alerts = [m for m in told if isinstance(m, Alert)]
        assert alerts and alerts[0].kind == "slot_restart_failed" and alerts[0].slot_id == 3
        assert alerts[0].severity == "critical"
    finally:
        sup.stop()


def test_a_removed_slot_is_not_brought_back_and_one_retry_chain_per_slot() -> None:
    spawned: list[int] = []
    system = SimpleNamespace(venue=None, config=SimpleNamespace(virtual=True), clock=SimpleNamespace(now=lambda: NOW),
                             tell=lambda who, m: None, slot_refs=lambda: {}, refs={"runtime": None},
                             spawn=lambda *a, **k: spawned.append(1))
    sup = Supervisor(system)  # type: ignore[arg-type]
    try:
        from actors.internal import RestartSlot, SlotFailed

        sup._failed(SlotFailed(slot_id=7, error="boom"), RuntimeError("store unavailable"))
        sup._failed(RestartSlot(slot_id=7, clear_halt=True), RuntimeError("store unavailable"))
        assert list(sup._restart_timers) == [7], "a later trigger replaces the earlier retry"
        sup.restart(7, clear_halt=False, why="retry")  # the slot was removed meanwhile (retired)
        assert spawned == [] and sup._restart_timers == {} and sup._restart_failures == {}
    finally:
        sup.stop()


def test_without_trades_history_an_executed_order_waits_for_a_retry_before_an_estimate() -> None:
    def filled(oid: str) -> RestOrder:
        return RestOrder(order_id=oid, cl_ord_id=None, userref=0, side="buy", status="closed", order_qty=10.0,
                         limit_price=0.1, cum_qty=10.0, avg_price=0.1, fee=0.0025, reason="",
                         open_ts=0.0, close_ts=1.0, post_only=True)

    class NoHistory(Port):
        def call(self, name: str, *args: Any) -> Any:
            if name == "missed_fills":
                raise KrakenApiError("TradesHistory", ["EAPI:Rate limit exceeded"])
            return super().call(name, *args)

    port = NoHistory(lambda ids: [filled("OF"), _order("OC")])
    told: list[Any] = []
    system = SimpleNamespace(clock=SimpleNamespace(now=lambda: NOW), tell=lambda who, m: told.append(m))
    tracked = [SimpleNamespace(txid=i, placed_at=NOW - 600.0) for i in ("OF", "OC")]
    early = reconcile.replay(system, port, tracked, {}, estimates_ok=False)
    assert early.unresolved == {"OF"}, "executed: its executions may still come from TradesHistory"
    assert [m.order_id for m in told] == ["OC"], "a cancel with nothing executed is settled at once"
    told.clear()
    late = reconcile.replay(system, port, tracked, {}, estimates_ok=True)
    assert late.unresolved == frozenset() and sorted(m.order_id for m in told) == ["OC", "OF"]
