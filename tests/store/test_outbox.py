"""The outbox: enqueued in the same transaction as the write, coalesced, taken, acked, backed off."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from store.migrate import Schema, schema_sql
from store.outbox import MIRRORED, retry_delay
from store.rows import CandleRow, JournalRow, PositionRow, PriceRow, StoreUnavailable
from store.sqlite import SqliteStore
from tests.store.conftest import event, fill


def write_one_of_each(s: SqliteStore) -> None:
    s.book_fills_with_state([fill("E1")], "slot:1", b'{"phase":"S1a"}', [event()])
    s.insert_prices([PriceRow(ts=1.0, price=0.1)])
    s.upsert_candles([CandleRow(time=300.0, open=1, high=1, low=1, close=1)])
    s.write_ledger([PositionRow(position_id=1, extra={"k": 1})],
                   [JournalRow(position_id=1, ts=1.0, event_type="created", details={"a": 1})])


def test_every_mirrored_write_enqueues_a_full_row(mirrored: SqliteStore) -> None:
    write_one_of_each(mirrored)
    rows = mirrored.take_outbox(100)
    schema = Schema(schema_sql())
    assert sorted({r.table_name for r in rows}) == sorted(MIRRORED)
    for r in rows:
        body = msgspec.json.decode(r.row)
        assert list(body) == list(schema.columns[r.table_name]), r.table_name
        assert (r.op, r.conflict_key) == (MIRRORED[r.table_name].op, MIRRORED[r.table_name].conflict_key)
    state = next(msgspec.json.decode(r.row) for r in rows if r.table_name == "bot_state")
    assert state["payload"] == {"phase": "S1a"}  # JSON, not a string: lands in a jsonb column
    ev = next(msgspec.json.decode(r.row) for r in rows if r.table_name == "bot_events")
    assert ev["event_id"] == 1 and ev["details"] == {"exec": "x", "n": 1}


def test_unmirrored_store_enqueues_nothing(store: SqliteStore) -> None:
    write_one_of_each(store)
    assert store.outbox_stats().depth == 0


def test_outbox_rows_share_the_write_transaction(mirrored: SqliteStore) -> None:
    mirrored.inject_failures(1)
    with pytest.raises(StoreUnavailable):
        mirrored.book_fills_with_state([fill("E1")], "slot:1", b"{}", [event()])
    assert mirrored.outbox_stats().depth == 0
    mirrored.book_fills_with_state([fill("E1")], "slot:1", b"{}")
    mirrored.book_fills_with_state([fill("E1")], "slot:1", b"{}")  # duplicate: no second fills row
    tables = [r.table_name for r in mirrored.take_outbox(100)]
    assert tables.count("fills") == 1 and tables.count("bot_state") == 1


def test_upserts_coalesce_per_row_key(mirrored: SqliteStore) -> None:
    for v in range(3):
        mirrored.save_state("slot:1", f'{{"v":{v}}}'.encode())
    mirrored.save_state("slot:2", b'{"v":9}')
    for close in (1.0, 2.0):
        mirrored.upsert_candles([CandleRow(time=300.0, open=1, high=1, low=1, close=close)])
    rows = mirrored.take_outbox(100)
    states = {r.row_key: msgspec.json.decode(r.row)["payload"] for r in rows if r.table_name == "bot_state"}
    assert states == {"slot:1": {"v": 2}, "slot:2": {"v": 9}}
    candles = [msgspec.json.decode(r.row) for r in rows if r.table_name == "ohlcv_candles"]
    assert [c["close"] for c in candles] == [2.0]


def test_take_ack_fail_and_backoff(db_path: Path) -> None:
    now = [1000.0]
    s = SqliteStore(db_path, mirror=True, clock=lambda: now[0])
    for i in range(5):
        s.book_fills_with_state([fill(f"E{i}")], f"slot:{i}", b"{}")
    rows = s.take_outbox(4)
    assert len(rows) == 4 and [r.id for r in rows] == sorted(r.id for r in rows)
    assert s.take_outbox(100) != [] and len(s.take_outbox(100)) == 10  # take does not remove
    assert s.ack_outbox([rows[0].id, rows[1].id]) == 2
    assert s.fail_outbox([rows[2].id], "HTTP 400 22P02 invalid input") == 1
    stats = s.outbox_stats()
    assert (stats.depth, stats.failing, stats.due) == (8, 1, 7)
    due = s.take_outbox(100)
    assert rows[2].id not in {r.id for r in due}
    now[0] += retry_delay(1)
    retried = next(r for r in s.take_outbox(100) if r.id == rows[2].id)
    assert retried.attempts == 1 and retried.last_error == "HTTP 400 22P02 invalid input"
    s.fail_outbox([rows[2].id], "again")
    now[0] += retry_delay(2) - 0.001
    assert rows[2].id not in {r.id for r in s.take_outbox(100)}  # second failure waits twice as long
    now[0] += 0.001
    assert next(r for r in s.take_outbox(100) if r.id == rows[2].id).attempts == 2
    assert {r.table_name for r in s.take_outbox(100, exclude_tables=["fills"])} == {"bot_state"}
    s.close()
    s = SqliteStore(db_path, mirror=True, clock=lambda: now[0])  # the queue survives a restart
    assert s.outbox_stats().depth == 8
    s.close()


def test_retry_delay_is_exponential_and_capped() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert retry_delay(50) == 900.0


def test_enqueue_outbox_directly(mirrored: SqliteStore) -> None:
    oid = mirrored.enqueue_outbox("custom_table", "upsert", "id", {"id": 1, "v": "a"}, row_key="1")
    mirrored.enqueue_outbox("custom_table", "upsert", "id", {"id": 1, "v": "b"}, row_key="1")
    rows = mirrored.take_outbox(10)
    assert len(rows) == 1 and rows[0].id > oid and msgspec.json.decode(rows[0].row) == {"id": 1, "v": "b"}
