"""SqliteStore on real files: round trips, exactly-once booking, atomicity, durability settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from store.rows import CandleRow, JournalRow, PositionRow, PriceRow, StoreIntegrityError, StoreUnavailable
from store.sqlite import SqliteStore
from tests.store.conftest import event, fill


def test_opens_in_wal_mode_with_busy_timeout(store: SqliteStore, db_path: Path) -> None:
    info = store.info()
    assert info["journal_mode"] == "wal"
    assert info["busy_timeout_ms"] == 2000
    assert info["synchronous_money"] == "FULL"
    # Another connection sees WAL as the file's persistent journal mode.
    other = sqlite3.connect(db_path)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()


def test_money_transactions_use_full_sync_and_market_data_normal(store: SqliteStore) -> None:
    conn = store._conn
    assert conn is not None
    store.insert_prices([PriceRow(ts=1.0, price=0.1)])
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    store.book_fills_with_state([fill("E1")], "slot:1", b"{}")
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_state_round_trip_and_overwrite(store: SqliteStore) -> None:
    assert store.load_state("__v1__") is None
    store.save_state("__v1__", b'{"mode":"RUNNING","slots":[1,2]}')
    assert msgspec.json.decode(store.load_state("__v1__") or b"") == {"mode": "RUNNING", "slots": [1, 2]}
    store.save_state("__v1__", b'{"mode":"PAUSED"}')
    assert store.load_state("__v1__") == b'{"mode":"PAUSED"}'
    store.save_state("slot:1", b"{}")
    store.save_state("slot:2", b"{}")
    assert store.state_keys("slot:") == ["slot:1", "slot:2"]


def test_state_payload_must_be_json(store: SqliteStore) -> None:
    with pytest.raises(StoreIntegrityError):
        store.save_state("k", b"not json")
    with pytest.raises(StoreIntegrityError):
        store.save_state("k", b"\xff\xfe")
    assert store.load_state("k") is None


def test_book_fills_round_trip(store: SqliteStore) -> None:
    booked = store.book_fills_with_state([fill("E1", ts=10.0), fill("E2", ts=20.0)], "slot:1",
                                         b'{"n":2}', [event()])
    assert booked == ["E1", "E2"]
    assert store.load_state("slot:1") == b'{"n":2}'
    assert store.has_fill("E1") and not store.has_fill("E3")
    recent = store.recent_fills(10)
    assert [f.exec_id for f in recent] == ["E2", "E1"]  # newest first
    assert recent[0].booked_at == 5000.0 and recent[0].source == "ws" and recent[0].liquidity == "m"
    assert msgspec.structs.replace(recent[1], booked_at=None) == fill("E1", ts=10.0)
    assert [e.event_type for e in store.recent_events(slot_id=1)] == ["fill"]


def test_exactly_once_within_one_batch(store: SqliteStore) -> None:
    out = store.book_fills([fill("E1"), fill("E1")], "slot:1", b"{}")
    assert out.booked == ["E1"] and out.duplicates == ["E1"]
    assert len(store.recent_fills(10)) == 1


def test_exactly_once_across_batches_and_reopen(db_path: Path) -> None:
    s = SqliteStore(db_path)
    assert s.book_fills_with_state([fill("E1")], "slot:1", b'{"v":1}') == ["E1"]
    assert s.book_fills_with_state([fill("E1"), fill("E2")], "slot:1", b'{"v":2}') == ["E2"]
    s.close()
    s = SqliteStore(db_path)
    assert s.seen_exec_ids() == {"E1", "E2"}
    out = s.book_fills([fill("E2"), fill("E3")], "slot:1", b'{"v":3}')
    assert out.booked == ["E3"] and out.duplicates == ["E2"]
    assert s.load_state("slot:1") == b'{"v":3}'  # the caller's current state is still written
    assert len(s.recent_fills(100)) == 3
    s.close()


def test_seen_exec_ids_since(store: SqliteStore) -> None:
    store.book_fills_with_state([fill("old", ts=100.0), fill("new", ts=900.0)], "slot:1", b"{}")
    assert store.seen_exec_ids(since_ts=500.0) == {"new"}
    assert store.seen_exec_ids() == {"old", "new"}


def test_crash_inside_transaction_persists_nothing(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.save_state("slot:1", b'{"v":0}')

    def boom(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError("process dies here")

    # Fills and state are already written inside the transaction when events blow up.
    monkeypatch.setattr(store, "_insert_events", boom)
    with pytest.raises(RuntimeError):
        store.book_fills_with_state([fill("E1")], "slot:1", b'{"v":1}', [event()])
    monkeypatch.undo()
    assert not store.has_fill("E1")
    assert store.load_state("slot:1") == b'{"v":0}'
    # The connection is clean afterwards.
    assert store.book_fills_with_state([fill("E1")], "slot:1", b'{"v":1}') == ["E1"]


def test_injected_failure_rolls_back_and_is_typed(store: SqliteStore) -> None:
    store.inject_failures(1)
    with pytest.raises(StoreUnavailable) as err:
        store.book_fills_with_state([fill("E1")], "slot:1", b'{"v":1}', [event()])
    assert err.value.retryable
    assert not store.has_fill("E1") and store.load_state("slot:1") is None and store.recent_events() == []
    assert store.book_fills_with_state([fill("E1")], "slot:1", b'{"v":1}') == ["E1"]


def test_bad_fill_is_rejected_not_swallowed_as_duplicate(store: SqliteStore) -> None:
    bad = msgspec.structs.replace(fill("E9"), source="carrier-pigeon")  # type: ignore[arg-type]
    with pytest.raises(StoreIntegrityError):
        store.book_fills_with_state([fill("E1"), bad], "slot:1", b"{}")
    assert store.seen_exec_ids() == set()


def test_fills_and_journal_are_immutable(store: SqliteStore) -> None:
    store.book_fills_with_state([fill("E1")], "slot:1", b"{}")
    store.append_journal([JournalRow(position_id=1, ts=1.0, event_type="created")])
    conn = store._conn
    assert conn is not None
    for sql in ("UPDATE fills SET qty = 0", "DELETE FROM fills",
                "UPDATE position_journal SET event_type = 'x'", "DELETE FROM position_journal"):
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql)


def test_events_get_ids_and_explicit_ids_are_idempotent(store: SqliteStore) -> None:
    ids = store.append_events([event(ts=1.0), event(slot_id=2, ts=2.0)])
    assert ids == [1, 2]
    assert store.append_events([msgspec.structs.replace(event(), event_id=10)]) == [10]
    assert store.append_events([msgspec.structs.replace(event(), event_id=10)]) == []  # re-sent
    assert [e.event_id for e in store.recent_events(limit=10)] == [10, 2, 1]
    assert [e.event_id for e in store.recent_events(slot_id=2)] == [2]
    assert store.recent_events(limit=1)[0].details == {"exec": "x", "n": 1}
    assert store.max_ids()["event_id"] == 10


def test_prices_round_trip(store: SqliteStore) -> None:
    store.insert_prices([PriceRow(ts=float(t), price=0.1 + t / 1000) for t in range(10)])
    store.insert_prices([PriceRow(ts=5.0, price=0.5)])  # same ts: replaced
    rows = store.recent_prices(since_ts=5.0)
    assert [r.ts for r in rows] == [5.0, 6.0, 7.0, 8.0, 9.0] and rows[0].price == 0.5
    assert [r.ts for r in store.recent_prices(limit=2)] == [8.0, 9.0]


def test_candles_upsert_and_recent(store: SqliteStore) -> None:
    def c(t: int, close: float) -> CandleRow:
        return CandleRow(time=float(t * 300), open=0.1, high=0.2, low=0.05, close=close, volume=10.0,
                         trade_count=3)

    store.upsert_candles([c(i, 0.1) for i in range(5)])
    store.upsert_candles([c(4, 0.15)])  # the same candle again: replaced, not duplicated
    store.upsert_candles([CandleRow(time=0.0, interval_min=1, open=1, high=1, low=1, close=1)])
    recent = store.recent_candles(3)
    assert [r.time for r in recent] == [600.0, 900.0, 1200.0]  # oldest first
    assert recent[-1].close == 0.15 and recent[-1].trade_count == 3
    assert store.candle_stats() == (5, 1200.0)
    assert store.candle_stats(interval_min=1) == (1, 0.0)


def test_position_ledger_round_trip_and_guards(store: SqliteStore) -> None:
    p = PositionRow(position_id=1, slot_id=3, trade_id="A", entry_side="sell", entry_time=10.0,
                    entry_price=0.1, entry_volume=100.0, entry_cost=10.0, entry_fee=0.02,
                    original_exit_price=0.099, current_exit_price=0.099, extra={"vintage": "fresh"})
    store.upsert_position(p)
    ids = store.append_journal([JournalRow(position_id=1, slot_id=3, ts=10.0, event_type="created",
                                           details={"migration": False})])
    assert ids == [1]
    repriced = msgspec.structs.replace(p, current_exit_price=0.098, times_repriced=1)
    store.write_ledger([repriced], [JournalRow(position_id=1, slot_id=3, ts=20.0, event_type="repriced")])
    got = store.get_position(1)
    assert got is not None and got.current_exit_price == 0.098 and got.extra == {"vintage": "fresh"}
    assert got.updated_at == 5000.0
    assert [x.position_id for x in store.open_positions(slot_id=3)] == [1]
    with pytest.raises(StoreIntegrityError):  # entry fields are immutable
        store.upsert_position(msgspec.structs.replace(repriced, entry_price=0.2))
    closed = msgspec.structs.replace(repriced, status="closed", exit_time=30.0, exit_price=0.098,
                                     net_profit=0.18, close_reason="filled")
    store.upsert_position(closed)
    store.upsert_position(closed)  # an identical re-send is harmless
    assert store.open_positions() == []
    with pytest.raises(StoreIntegrityError):  # closed stays closed
        store.upsert_position(msgspec.structs.replace(closed, status="open"))
    with pytest.raises(StoreIntegrityError):  # outcome fields are written once
        store.upsert_position(msgspec.structs.replace(closed, net_profit=1.0))
    assert [j.event_type for j in store.journal(position_id=1)] == ["created", "repriced"]
    assert [j.event_type for j in store.journal(slot_id=3, limit=1)] == ["repriced"]
    assert store.journal(position_id=1)[0].details == {"migration": False}
    assert store.max_ids() == {"event_id": 0, "position_id": 1, "journal_id": 2}


def test_book_fills_can_carry_ledger_rows_atomically(store: SqliteStore) -> None:
    p = PositionRow(position_id=7, slot_id=1, entry_price=0.1)
    out = store.book_fills([fill("E1")], "slot:1", b"{}", [event()], positions=[p],
                           journal=[JournalRow(position_id=7, ts=1.0, event_type="created")])
    assert out.booked == ["E1"] and out.event_ids == [1] and out.journal_ids == [1]
    assert store.get_position(7) is not None


def test_trim_and_vacuum(store: SqliteStore) -> None:
    day = 86400.0
    now = 100 * day
    store.insert_prices([PriceRow(ts=now - 10 * day, price=0.1), PriceRow(ts=now - day, price=0.1)])
    store.append_events([event(ts=now - 100 * day), event(ts=now)])
    store.upsert_candles([CandleRow(time=now - 20 * day, open=1, high=1, low=1, close=1),
                          CandleRow(time=now, open=1, high=1, low=1, close=1)])
    store.book_fills_with_state([fill("ancient", ts=0.0)], "slot:1", b"{}")
    counts = store.trim(now=now)
    assert counts == {"price_history": 1, "bot_events": 1, "ohlcv_candles": 1}
    assert store.has_fill("ancient")  # money history is never trimmed
    store.vacuum()
    store.vacuum(full=True)
    assert len(store.recent_prices()) == 1


def test_unusable_paths_raise_store_unavailable(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreUnavailable) as err:
        SqliteStore(garbage)
    assert not err.value.retryable and "garbage.sqlite3" in str(err.value)
    a_dir = tmp_path / "dir.sqlite3"
    a_dir.mkdir()
    with pytest.raises(StoreUnavailable):
        SqliteStore(a_dir)
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(StoreUnavailable):
        SqliteStore(blocked / "sub" / "bot.sqlite3")  # parent is a file: cannot create the directory


def test_corrupt_pages_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    s = SqliteStore(path)
    s.book_fills_with_state([fill(f"E{i}") for i in range(500)], "slot:1", b"{}")
    s.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for off in range(2 * page, len(data) - page, page):  # smash every page after the schema
        data[off + 8 : off + 64] = b"\xa5" * 56
    path.write_bytes(bytes(data))
    with pytest.raises(StoreUnavailable):
        SqliteStore(path)


def test_disk_full_is_a_retryable_store_unavailable(store: SqliteStore) -> None:
    conn = store._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    with pytest.raises(StoreUnavailable) as err:
        store.book_fills_with_state([fill(f"E{i}", qty=i) for i in range(2000)], "slot:1", b"{}")
    assert err.value.retryable and "full" in str(err.value)
    assert store.seen_exec_ids() == set()


def test_closed_store_raises(db_path: Path) -> None:
    s = SqliteStore(db_path)
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreUnavailable):
        s.load_state("x")
    with pytest.raises(StoreUnavailable):
        s.save_state("x", b"{}")


def test_used_from_another_thread_fails_loudly(store: SqliteStore) -> None:
    import threading

    errors: list[BaseException] = []

    def other() -> None:
        try:
            store.load_state("x")
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert errors and isinstance(errors[0], StoreUnavailable)
