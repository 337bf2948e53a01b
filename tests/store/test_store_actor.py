"""StoreActor: messages in, results and alerts out; faults held, retried and reported."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.store import StoreActor
from actors.store_messages import (
    AppendEvents,
    BookFills,
    BookFillsResult,
    FlushOutbox,
    InjectStoreFailures,
    InsertPrices,
    SaveState,
    StoreAlert,
    StoreWriteResult,
    TrimStore,
    UpsertCandles,
    WriteLedger,
)
from store.rows import CandleRow, JournalRow, PositionRow, PriceRow, StoreUnavailable
from store.sqlite import SqliteStore
from store.supabase import SupabaseReplica
from tests.store.conftest import Sink, event, fill, wait_for
from tests.store.postgrest_standin import PostgrestStandIn

FAST = {"retry_backoff_s": (0.01, 0.05), "replica_backoff_s": (0.02, 0.1), "tick_s": 0.02}


@pytest.fixture
def start() -> Iterator[Callable[..., pykka.ActorRef[StoreActor]]]:
    refs: list[pykka.ActorRef[StoreActor]] = []

    def _start(path: Path, **kw: Any) -> pykka.ActorRef[StoreActor]:
        ref = StoreActor.start(path, **{**FAST, **kw})
        refs.append(ref)
        return ref

    yield _start
    for ref in refs:
        if ref.is_alive():
            ref.stop(timeout=10)


def book(n: int, *, sink: Sink, state: bytes = b'{"v":1}', request_id: int = 0, exec_ids: list[str] | None = None,
         ) -> BookFills:
    fills = [fill(e) for e in (exec_ids or [f"E{n}"])]
    return BookFills(slot_id=1, fills=fills, state_key="slot:1", state_payload=state, events=[event()],
                     request_id=request_id, ts=42.0, reply_to=sink)


def results(sink: Sink, request_id: int | None = None) -> list[BookFillsResult]:
    return [r for r in sink.of(BookFillsResult) if request_id is None or r.request_id == request_id]


def test_messages_in_results_out(db_path: Path, start: Callable[..., Any]) -> None:
    sink = Sink()
    ref = start(db_path)
    proxy = ref.proxy()
    ref.tell(book(1, sink=sink, request_id=1))
    ref.tell(book(1, sink=sink, request_id=2))  # the same exec id again
    ref.tell(SaveState(key="__v1__", payload=b'{"mode":"RUNNING"}', request_id=3, reply_to=sink))
    ref.tell(AppendEvents(events=[event(ts=1.0), event(ts=2.0)], request_id=4, reply_to=sink))
    ref.tell(InsertPrices(prices=[PriceRow(ts=1.0, price=0.1)]))
    ref.tell(UpsertCandles(candles=[CandleRow(time=300.0, open=1, high=1, low=1, close=1)]))
    ref.tell(WriteLedger(positions=[PositionRow(position_id=1, slot_id=1)],
                         journal=[JournalRow(position_id=1, ts=1.0, event_type="created")], request_id=5,
                         reply_to=sink))
    ref.tell(TrimStore(ts=42.0, request_id=6, reply_to=sink))
    status = proxy.status().get(timeout=5)  # an ask queues behind the tells: all handled by now
    first, second = results(sink, 1)[0], results(sink, 2)[0]
    assert first.ok and first.booked_exec_ids == ["E1"] and first.already_booked_exec_ids == []
    assert second.ok and second.booked_exec_ids == [] and second.already_booked_exec_ids == ["E1"]
    writes = {r.request_id: r for r in sink.of(StoreWriteResult)}
    assert writes[3].ok and writes[3].op == "store_save_state"
    assert writes[4].ids == [3, 4] and writes[5].ids == [1] and writes[6].ok
    assert status.available and status.writes_ok == 8 and status.pending_writes == 0 and status.open
    assert proxy.load_state("__v1__").get(timeout=5) == b'{"mode":"RUNNING"}'
    assert proxy.seen_exec_ids().get(timeout=5) == {"E1"}
    assert proxy.recent_fills(5).get(timeout=5)[0].booked_at == 42.0  # stamped with the message's ts
    assert len(proxy.recent_events(1).get(timeout=5)) == 4
    assert proxy.recent_candles(10).get(timeout=5)[0].time == 300.0
    assert proxy.open_positions().get(timeout=5)[0].position_id == 1
    assert proxy.max_ids().get(timeout=5)["journal_id"] == 1
    assert proxy.has_fill("E1").get(timeout=5)


def test_injected_failures_alert_retry_and_book(db_path: Path, start: Callable[..., Any]) -> None:
    sink, alerts = Sink(), Sink()
    ref = start(db_path, alerts=alerts)
    ref.tell(InjectStoreFailures(n=5))  # more than the 3 immediate attempts
    ref.tell(book(1, sink=sink, request_id=7))
    first = wait_for(lambda: results(sink, 7))[0]
    assert not first.ok and first.retrying and "injected" in first.error
    wait_for(lambda: [r for r in results(sink, 7) if r.ok])
    assert [r.ok for r in results(sink, 7)] == [False, True]
    assert results(sink, 7)[-1].booked_exec_ids == ["E1"]
    kinds = [a.kind for a in alerts.of(StoreAlert)]
    assert kinds == ["store_unavailable", "store_recovered"]
    status = ref.proxy().status().get(timeout=5)
    assert status.available and status.pending_writes == 0 and status.write_failures == 5
    assert ref.proxy().seen_exec_ids().get(timeout=5) == {"E1"}


def test_held_writes_keep_their_order(db_path: Path, start: Callable[..., Any]) -> None:
    sink = Sink()
    ref = start(db_path, tick_s=None, retry_backoff_s=(10.0, 10.0))  # retries only when asked
    proxy = ref.proxy()
    proxy.inject_failures(4).get(timeout=5)  # 3 immediate attempts, and the retry a read forces
    ref.tell(book(1, sink=sink, request_id=1, state=b'{"v":1}'))
    ref.tell(SaveState(key="slot:1", payload=b'{"v":2}', request_id=2, reply_to=sink))
    status = proxy.status().get(timeout=5)
    assert not status.available and status.pending_writes == 2
    with pytest.raises(StoreUnavailable):  # a read now would miss held writes
        proxy.load_state("slot:1").get(timeout=5)
    assert proxy.flush().get(timeout=5).pending_writes == 0
    assert proxy.load_state("slot:1").get(timeout=5) == b'{"v":2}'  # the newer state won
    assert [w.ok for w in sink.of(StoreWriteResult)] == [False, True]


def test_real_lock_is_held_and_booked_once_released(db_path: Path, start: Callable[..., Any]) -> None:
    sink, alerts = Sink(), Sink()
    SqliteStore(db_path).close()
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    ref = start(db_path, alerts=alerts, store_options={"busy_timeout_ms": 20, "integrity_check": False})
    ref.tell(book(1, sink=sink, request_id=1))
    wait_for(lambda: results(sink, 1))
    assert "locked" in results(sink, 1)[0].error
    blocker.execute("ROLLBACK")
    blocker.close()
    wait_for(lambda: [r for r in results(sink, 1) if r.ok])
    assert ref.proxy().seen_exec_ids().get(timeout=5) == {"E1"}
    assert [a.kind for a in alerts.of(StoreAlert)][-1] == "store_recovered"


def test_bad_write_is_rejected_and_the_actor_lives(db_path: Path, start: Callable[..., Any]) -> None:
    sink, alerts = Sink(), Sink()
    ref = start(db_path, alerts=alerts)
    ref.tell(book(1, sink=sink, request_id=1, state=b"not json"))
    ref.tell("a stray message")
    ref.tell(book(2, sink=sink, request_id=2))
    wait_for(lambda: results(sink, 2))
    bad = results(sink, 1)[0]
    assert not bad.ok and not bad.retrying and "JSON" in bad.error
    assert results(sink, 2)[0].ok
    assert [a.kind for a in alerts.of(StoreAlert)] == ["write_rejected"]
    assert ref.is_alive() and ref.proxy().seen_exec_ids().get(timeout=5) == {"E2"}


def test_market_writes_are_dropped_first_money_never(db_path: Path, start: Callable[..., Any]) -> None:
    sink = Sink()
    ref = start(db_path, tick_s=None, max_pending_market=2)
    proxy = ref.proxy()
    proxy.inject_failures(1000).get(timeout=5)
    ref.tell(book(1, sink=sink))
    for i in range(5):
        ref.tell(InsertPrices(prices=[PriceRow(ts=float(i), price=0.1)]))
    ref.tell(book(2, sink=sink))
    status = proxy.status().get(timeout=5)
    assert status.pending_writes == 4 and status.dropped_market_writes == 3
    proxy.inject_failures(0).get(timeout=5)
    assert proxy.flush().get(timeout=5).pending_writes == 0
    assert proxy.seen_exec_ids().get(timeout=5) == {"E1", "E2"}
    assert [p.ts for p in proxy.recent_prices().get(timeout=5)] == [3.0, 4.0]


def test_stop_flushes_held_writes(db_path: Path, start: Callable[..., Any]) -> None:
    sink = Sink()
    ref = start(db_path, tick_s=None)
    ref.proxy().inject_failures(3).get(timeout=5)
    ref.tell(book(1, sink=sink))
    assert ref.proxy().status().get(timeout=5).pending_writes == 1
    ref.stop(timeout=10)
    s = SqliteStore(db_path)
    assert s.seen_exec_ids() == {"E1"} and s.load_state("slot:1") == b'{"v":1}'
    s.close()
    assert [r.ok for r in results(sink)] == [False, True]


def test_stop_reports_writes_it_could_not_persist(db_path: Path, start: Callable[..., Any]) -> None:
    alerts = Sink()
    ref = start(db_path, tick_s=None, alerts=alerts)
    ref.proxy().inject_failures(1000).get(timeout=5)
    ref.tell(book(1, sink=Sink()))
    ref.stop(timeout=10)
    assert [a.kind for a in alerts.of(StoreAlert)] == ["store_unavailable", "writes_lost"]


def test_unusable_file_keeps_the_actor_alive(tmp_path: Path, start: Callable[..., Any]) -> None:
    sink, alerts = Sink(), Sink()
    path = tmp_path / "a-directory"
    path.mkdir()
    ref = start(path, alerts=alerts)
    status = ref.proxy().status().get(timeout=5)
    assert not status.open and not status.available and "cannot open" in status.last_error
    with pytest.raises(StoreUnavailable):
        ref.proxy().load_state("x").get(timeout=5)
    ref.tell(book(1, sink=sink))
    wait_for(lambda: results(sink))
    assert not results(sink)[0].ok and results(sink)[0].retrying
    assert alerts.of(StoreAlert)[0].kind == "store_unavailable"


def test_replica_pump_delivers_and_survives_an_outage(db_path: Path, start: Callable[..., Any],
                                                      standin: PostgrestStandIn) -> None:
    sink, alerts = Sink(), Sink()
    replica = SupabaseReplica(standin.url, standin.key, timeout=1.0)
    ref = start(db_path, alerts=alerts, replica=replica)
    ref.tell(book(1, sink=sink))
    wait_for(lambda: standin.rows("fills") and standin.rows("bot_events"))
    standin.forced = [503, 503]
    ref.tell(book(2, sink=sink, exec_ids=["E2", "E3"]))
    wait_for(lambda: len(standin.rows("fills")) == 3)
    ref.tell(FlushOutbox())
    status = wait_for(lambda: (s := ref.proxy().status().get(timeout=5)).outbox_depth == 0 and s)
    assert status.replica.enabled and status.replica.consecutive_failures == 0
    assert [a.kind for a in alerts.of(StoreAlert)] == ["replica_unavailable", "replica_recovered"]
    assert all(r.ok for r in results(sink))  # trading never waited for the replica
    assert {r["key"] for r in standin.rows("bot_state")} == {"slot:1"}


class BlockingSink(Sink):
    """Holds the store actor inside its first reply until released, so a burst queues up."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def tell(self, message: Any) -> None:
        super().tell(message)
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(10)


def test_burst_is_group_committed_in_order(db_path: Path, start: Callable[..., Any]) -> None:
    sink = BlockingSink()
    ref = start(db_path)
    ref.tell(book(0, sink=sink, request_id=0))
    assert sink.entered.wait(5)
    for i in range(1, 101):
        ref.tell(book(i, sink=sink, request_id=i, state=f'{{"v":{i}}}'.encode()))
    sink.release.set()
    status = ref.proxy().status().get(timeout=10)
    assert status.writes_ok == 101 and status.commits == 2  # the burst shared one transaction
    got = results(sink)
    assert [r.request_id for r in got] == list(range(101)) and all(r.ok for r in got)
    assert ref.proxy().load_state("slot:1").get(timeout=5) == b'{"v":100}'
    assert len(ref.proxy().seen_exec_ids().get(timeout=5)) == 101


def test_bad_write_in_a_group_is_isolated(db_path: Path, start: Callable[..., Any]) -> None:
    sink, alerts = BlockingSink(), Sink()
    ref = start(db_path, alerts=alerts)
    ref.tell(book(0, sink=sink, request_id=0))
    assert sink.entered.wait(5)
    ref.tell(book(1, sink=sink, request_id=1))
    ref.tell(book(2, sink=sink, request_id=2, state=b"{broken"))
    ref.tell(book(3, sink=sink, request_id=3))
    sink.release.set()
    ref.proxy().status().get(timeout=10)
    assert [(r.request_id, r.ok, r.retrying) for r in results(sink)] == [
        (0, True, False), (1, True, False), (2, False, False), (3, True, False)]
    assert ref.proxy().seen_exec_ids().get(timeout=5) == {"E0", "E1", "E3"}
    assert [a.kind for a in alerts.of(StoreAlert)] == ["write_rejected"]


def test_failed_group_is_held_and_retried_in_order(db_path: Path, start: Callable[..., Any]) -> None:
    sink = BlockingSink()
    ref = start(db_path)
    ref.tell(book(0, sink=sink, request_id=0))
    assert sink.entered.wait(5)
    ref.tell(InjectStoreFailures(n=4))
    for i in (1, 2, 3):
        ref.tell(book(i, sink=sink, request_id=i, state=f'{{"v":{i}}}'.encode()))
    sink.release.set()
    wait_for(lambda: len([r for r in results(sink) if r.ok]) == 4)
    assert [(r.request_id, r.ok) for r in results(sink)] == [
        (0, True), (1, False), (2, False), (3, False), (1, True), (2, True), (3, True)]
    assert ref.proxy().load_state("slot:1").get(timeout=5) == b'{"v":3}'


def test_a_read_sees_writes_told_just_before(db_path: Path, start: Callable[..., Any]) -> None:
    ref = start(db_path, tick_s=None)
    proxy = ref.proxy()
    for i in range(20):
        ref.tell(book(i, sink=Sink()))
        assert f"E{i}" in proxy.seen_exec_ids().get(timeout=5)


def test_a_hanging_replica_never_delays_booking(db_path: Path, start: Callable[..., Any],
                                                standin: PostgrestStandIn) -> None:
    sink = Sink()
    standin.delays = [2.0]
    replica = SupabaseReplica(standin.url, standin.key, timeout=5.0)
    ref = start(db_path, replica=replica)
    ref.tell(book(1, sink=sink, request_id=1))
    wait_for(lambda: standin.requests)  # the pump is now stuck in a slow request
    t0 = time.monotonic()
    for i in range(2, 12):
        ref.tell(book(i, sink=sink, request_id=i))
    wait_for(lambda: len(results(sink)) == 11)
    assert time.monotonic() - t0 < 1.0 and all(r.ok for r in results(sink))
    assert ref.proxy().status().get(timeout=5).replica.in_flight
    wait_for(lambda: len(standin.rows("fills")) == 11, timeout=10)


def test_group_size_is_bounded(db_path: Path, start: Callable[..., Any]) -> None:
    sink = BlockingSink()
    ref = start(db_path, max_group=10)
    ref.tell(book(0, sink=sink, request_id=0))
    assert sink.entered.wait(5)
    for i in range(1, 101):
        ref.tell(book(i, sink=sink, request_id=i))
    sink.release.set()
    status = ref.proxy().status().get(timeout=10)
    assert status.writes_ok == 101 and status.commits == 11
    assert [r.request_id for r in results(sink)] == list(range(101))


def test_missing_replica_table_alerts_once_and_keeps_rows(db_path: Path, start: Callable[..., Any]) -> None:
    from store.outbox import MIRRORED

    srv = PostgrestStandIn({t: m.conflict_key for t, m in MIRRORED.items() if t != "bot_events"}).start()
    try:
        alerts, sink = Sink(), Sink()
        replica = SupabaseReplica(srv.url, srv.key, timeout=1.0, recheck_disabled_s=0.05)  # re-probe often
        ref = start(db_path, alerts=alerts, replica=replica)
        for i in range(3):
            ref.tell(book(i, sink=sink))
            time.sleep(0.1)
        wait_for(lambda: len(srv.rows("fills")) == 3)
        wait_for(lambda: sum(r.path.endswith("/bot_events") for r in srv.requests) >= 3)  # probed again
        status = ref.proxy().status().get(timeout=5)
        assert status.outbox_depth == 3  # the three events, kept for when the table exists
        assert [a.kind for a in alerts.of(StoreAlert)] == ["replica_table_disabled"]
        assert all(r.ok for r in results(sink))
    finally:
        srv.stop()
