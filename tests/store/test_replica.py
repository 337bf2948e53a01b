"""SupabaseReplica (supabase-py) against the loopback PostgREST stand-in."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator

import msgspec
import pytest

from store.outbox import MIRRORED
from store.rows import CandleRow, JournalRow, OutboxRow, PositionRow, PriceRow
from store.sqlite import SqliteStore
from store.supabase import SendReport, SupabaseReplica
from tests.store.conftest import event, fill
from tests.store.postgrest_standin import PostgrestStandIn


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def replica(standin: PostgrestStandIn, clock: FakeMonotonic) -> Iterator[SupabaseReplica]:
    r = SupabaseReplica(standin.url, standin.key, timeout=1.0, monotonic=clock)
    yield r
    r.close()


def deliver(store: SqliteStore, replica: SupabaseReplica) -> SendReport:
    """One pump cycle as the store actor runs it: take, send, ack/fail."""
    report = replica.send(store.take_outbox(500, exclude_tables=replica.disabled_tables()))
    store.ack_outbox(report.acked)
    for error, ids in report.failed.items():
        store.fail_outbox(ids, error)
    return report


def test_batched_writes_with_exact_postgrest_requests(mirrored: SqliteStore, replica: SupabaseReplica,
                                                      standin: PostgrestStandIn) -> None:
    mirrored.book_fills_with_state([fill("E1"), fill("E2")], "slot:1", b'{"phase":"S1a"}', [event()])
    report = deliver(mirrored, replica)
    assert report.transient_error is None and len(report.acked) == 4
    assert mirrored.outbox_stats().depth == 0
    by_path = {r.path: r for r in standin.requests}
    assert set(by_path) == {"/rest/v1/fills", "/rest/v1/bot_state", "/rest/v1/bot_events"}
    for r in standin.requests:
        assert r.headers["apikey"] == "test-key"
        assert r.headers["authorization"] == "Bearer test-key"
        assert r.headers["content-type"] == "application/json"
        assert r.status == 201
    fills_req, state_req = by_path["/rest/v1/fills"], by_path["/rest/v1/bot_state"]
    assert fills_req.headers["prefer"] == "return=minimal"  # append-only: plain insert
    assert "on_conflict" not in fills_req.query
    assert [row["exec_id"] for row in fills_req.body] == ["E1", "E2"]  # one batched request
    assert state_req.headers["prefer"] == "return=minimal,resolution=merge-duplicates"
    assert state_req.query["on_conflict"] == ["key"]
    assert state_req.body == [{"key": "slot:1", "payload": {"phase": "S1a"}, "updated_at": 5000.0}]
    assert {r["exec_id"] for r in standin.rows("fills")} == {"E1", "E2"}


def test_all_tables_replicate(mirrored: SqliteStore, replica: SupabaseReplica, standin: PostgrestStandIn) -> None:
    mirrored.book_fills_with_state([fill("E1")], "slot:1", b"{}", [event()])
    mirrored.insert_prices([PriceRow(ts=1.0, price=0.1)])
    mirrored.upsert_candles([CandleRow(time=300.0, open=1, high=1, low=1, close=1)])
    mirrored.write_ledger([PositionRow(position_id=1)], [JournalRow(position_id=1, ts=1.0, event_type="created")])
    deliver(mirrored, replica)
    assert all(standin.rows(t) for t in MIRRORED)
    candles = next(r for r in standin.requests if r.path.endswith("/ohlcv_candles"))
    assert candles.query["on_conflict"] == ["pair,interval_min,time"]


def test_missing_table_is_disabled_with_one_warning(db_path, clock: FakeMonotonic,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    tables = {t: m.conflict_key for t, m in MIRRORED.items() if t != "bot_events"}
    srv = PostgrestStandIn(tables).start()
    store = SqliteStore(db_path, mirror=True)
    replica = SupabaseReplica(srv.url, srv.key, timeout=1.0, monotonic=clock, recheck_disabled_s=600)
    try:
        caplog.set_level(logging.WARNING, logger="store.supabase")
        store.book_fills_with_state([fill("E1")], "slot:1", b"{}", [event()])
        report = deliver(store, replica)
        assert list(report.newly_disabled) == ["bot_events"] and "42P01" in report.newly_disabled["bot_events"]
        assert report.disabled_tables == ["bot_events"] and report.transient_error is None
        assert srv.rows("fills")  # the other tables went through
        store.append_events([event(ts=2.0)])
        sent = len(srv.requests)
        report = deliver(store, replica)
        assert len(srv.requests) == sent  # skipped while disabled
        assert store.outbox_stats().by_table == {"bot_events": 2}  # kept, never dropped
        clock.t += 601  # time to probe again: still missing, no second warning
        report = deliver(store, replica)
        assert report.newly_disabled and store.outbox_stats().by_table == {"bot_events": 2}
        warnings = [r for r in caplog.records if "disabled" in r.getMessage()]
        assert len(warnings) == 1
        srv.tables["bot_events"] = type(srv.tables["fills"])(key=["event_id"])  # operator creates it
        clock.t += 601
        report = deliver(store, replica)
        assert report.disabled_tables == [] and store.outbox_stats().depth == 0
        assert len(srv.rows("bot_events")) == 2
    finally:
        replica.close()
        store.close()
        srv.stop()


def test_server_errors_keep_rows_for_the_next_attempt(mirrored: SqliteStore, replica: SupabaseReplica,
                                                      standin: PostgrestStandIn) -> None:
    mirrored.book_fills_with_state([fill("E1")], "slot:1", b"{}")
    standin.forced = [503]
    report = deliver(mirrored, replica)
    assert report.transient_error and "503" in report.transient_error and report.acked == []
    assert len(standin.requests) == 1  # the attempt stops at the first sign of an outage
    assert mirrored.outbox_stats().depth == 2
    standin.forced = [500, 502]
    assert deliver(mirrored, replica).transient_error
    assert deliver(mirrored, replica).transient_error
    report = deliver(mirrored, replica)
    assert report.transient_error is None and mirrored.outbox_stats().depth == 0
    assert [r["exec_id"] for r in standin.rows("fills")] == ["E1"]


def test_redelivered_inserts_count_as_delivered(mirrored: SqliteStore, replica: SupabaseReplica,
                                                standin: PostgrestStandIn) -> None:
    mirrored.book_fills_with_state([fill("E1"), fill("E2")], "slot:1", b"{}")
    rows = [r for r in mirrored.take_outbox(100) if r.table_name == "fills"]
    replica.send(rows)  # delivered, but pretend the response was lost: nothing acked locally
    mirrored.book_fills_with_state([fill("E3")], "slot:1", b"{}")
    report = deliver(mirrored, replica)
    assert report.failed == {} and mirrored.outbox_stats().depth == 0
    statuses = [(r.path, r.status, len(r.body)) for r in standin.requests if r.path.endswith("/fills")]
    assert statuses[1] == ("/rest/v1/fills", 409, 3)  # the batch clashed on E1/E2 ...
    assert sorted(s for _, s, n in statuses[2:]) == [201, 409, 409]  # ... so each row went alone
    assert sorted(r["exec_id"] for r in standin.rows("fills")) == ["E1", "E2", "E3"]


def test_a_bad_row_is_isolated_and_backs_off(mirrored: SqliteStore, replica: SupabaseReplica,
                                             standin: PostgrestStandIn) -> None:
    standin.bad_row = lambda table, row: row.get("exec_id") == "BAD"
    mirrored.book_fills_with_state([fill("E1"), fill("BAD"), fill("E2")], "slot:1", b"{}")
    report = deliver(mirrored, replica)
    assert len(report.failed) == 1 and "22P02" in next(iter(report.failed))
    assert sorted(r["exec_id"] for r in standin.rows("fills")) == ["E1", "E2"]
    stats = mirrored.outbox_stats()
    assert (stats.depth, stats.failing, stats.due) == (1, 1, 0)  # kept, waiting for its backoff


def test_timeouts_and_auth_errors_are_transient(mirrored: SqliteStore, standin: PostgrestStandIn,
                                                clock: FakeMonotonic) -> None:
    mirrored.book_fills_with_state([fill("E1")], "slot:1", b"{}")
    slow = SupabaseReplica(standin.url, standin.key, timeout=0.3, monotonic=clock)
    standin.delays = [1.5]
    report = deliver(mirrored, slow)
    assert report.transient_error and "Timeout" in report.transient_error
    slow.close()
    wrong = SupabaseReplica(standin.url, "wrong-key", timeout=1.0, monotonic=clock)
    report = deliver(mirrored, wrong)
    assert report.transient_error and "401" in report.transient_error
    wrong.close()
    assert mirrored.outbox_stats().depth == 2 and mirrored.outbox_stats().failing == 0


def test_unreachable_replica_is_transient(mirrored: SqliteStore, clock: FakeMonotonic) -> None:
    mirrored.book_fills_with_state([fill("E1")], "slot:1", b"{}")
    dead = SupabaseReplica("http://127.0.0.1:9", "k", timeout=0.5, monotonic=clock)
    report = deliver(mirrored, dead)
    dead.close()
    assert report.transient_error and report.acked == [] and mirrored.outbox_stats().depth == 2


def test_large_batches_are_split_by_size(mirrored: SqliteStore, standin: PostgrestStandIn,
                                         clock: FakeMonotonic) -> None:
    small = SupabaseReplica(standin.url, standin.key, timeout=1.0, max_request_bytes=1000, monotonic=clock)
    mirrored.book_fills_with_state([fill(f"E{i}") for i in range(20)], "slot:1", b"{}")
    deliver(mirrored, small)
    small.close()
    fills_posts = [r for r in standin.requests if r.path.endswith("/fills")]
    assert len(fills_posts) > 1 and sum(len(r.body) for r in fills_posts) == 20


def test_upsert_batch_never_repeats_a_key(replica: SupabaseReplica, standin: PostgrestStandIn) -> None:
    def state_row(i: int, v: int) -> OutboxRow:
        row = msgspec.json.encode({"key": "slot:1", "payload": {"v": v}, "updated_at": float(v)})
        return OutboxRow(id=i, table_name="bot_state", op="upsert", conflict_key="key", row=row,
                         created_at=0.0, row_key="slot:1")

    report = replica.send([state_row(1, 1), state_row(2, 2)])
    assert sorted(report.acked) == [1, 2]
    assert standin.requests[-1].body == [{"key": "slot:1", "payload": {"v": 2}, "updated_at": 2.0}]


def test_random_outages_never_lose_or_duplicate_a_row(mirrored: SqliteStore, replica: SupabaseReplica,
                                                      standin: PostgrestStandIn) -> None:
    rng = random.Random(7)
    for i in range(60):
        mirrored.book_fills_with_state([fill(f"E{i}")], f"slot:{i % 4}", f'{{"i":{i}}}'.encode(), [event()])
        if rng.random() < 0.5:
            standin.forced = [rng.choice([500, 502, 503, 429])]
        if rng.random() < 0.7:
            deliver(mirrored, replica)
    for _ in range(20):
        if mirrored.outbox_stats().depth == 0:
            break
        deliver(mirrored, replica)
    assert mirrored.outbox_stats().depth == 0
    assert sorted(r["exec_id"] for r in standin.rows("fills")) == sorted(mirrored.seen_exec_ids())
    assert len(standin.rows("bot_events")) == 60
    assert {r["key"]: r["payload"] for r in standin.rows("bot_state")} == {
        f"slot:{k}": msgspec.json.decode(mirrored.load_state(f"slot:{k}") or b"") for k in range(4)
    }


def test_from_env(standin: PostgrestStandIn) -> None:
    assert SupabaseReplica.from_env({}) is None
    assert SupabaseReplica.from_env({"SUPABASE_URL": standin.url}) is None
    r = SupabaseReplica.from_env({"SUPABASE_URL": standin.url, "SUPABASE_KEY": standin.key,
                                  "SUPABASE_TIMEOUT_S": "soon"})
    assert r is not None
    assert r.send([]).acked == []
    r.close()
