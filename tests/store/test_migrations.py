"""Opening older files: columns and tables are added, data kept, versions stamped, newer refused."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from store import migrate
from store.migrate import SCHEMA_VERSION, Schema, apply_schema, column_definitions, schema_sql
from store.outbox import MIRRORED
from store.rows import StoreUnavailable
from store.sqlite import SqliteStore
from tests.store.conftest import fill

# A file as an earlier build wrote it: no versioning, fewer columns, fewer tables.
OLD_SCHEMA = """
CREATE TABLE bot_state (key TEXT PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE bot_events (event_id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, slot_id INTEGER,
                         from_state TEXT, to_state TEXT, event_type TEXT NOT NULL DEFAULT '',
                         details TEXT NOT NULL DEFAULT '{}');
CREATE TABLE fills (exec_id TEXT PRIMARY KEY, order_id TEXT NOT NULL DEFAULT '', slot_id INTEGER,
                    side TEXT, qty REAL NOT NULL DEFAULT 0, price REAL NOT NULL DEFAULT 0,
                    fee REAL NOT NULL DEFAULT 0, ts REAL NOT NULL DEFAULT 0);
INSERT INTO bot_state VALUES ('__v1__', '{"mode":"RUNNING"}');
INSERT INTO bot_events (ts, slot_id, event_type) VALUES (1.0, 1, 'fill');
INSERT INTO fills VALUES ('OLD1', 'O1', 1, 'buy', 10.0, 0.1, 0.001, 1.0);
"""


def columns(conn: sqlite3.Connection, table: str) -> dict[str, tuple[str, int, object, int]]:
    return {r[1]: (r[2], r[3], r[4], r[5]) for r in conn.execute(f"PRAGMA table_info({table})")}


def reference() -> sqlite3.Connection:
    ref = sqlite3.connect(":memory:", isolation_level=None)
    apply_schema(ref, now=0.0)
    return ref


def test_fresh_file_is_stamped(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "new.sqlite3")
    assert s.migrated_from == 0 and "create table fills" in s.migration_changes
    s.close()
    s = SqliteStore(tmp_path / "new.sqlite3")
    assert s.migrated_from == SCHEMA_VERSION and s.migration_changes == []
    s.close()


def test_older_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.close()

    s = SqliteStore(path, clock=lambda: 7.0)
    assert s.migrated_from == 0
    assert "add column fills.booked_at" in s.migration_changes
    assert "create table position_ledger" in s.migration_changes
    ref = reference()
    conn = s._conn
    assert conn is not None
    for table in Schema(schema_sql()).tables:
        assert columns(conn, table).keys() == columns(ref, table).keys(), table
    # Old rows are intact and new columns carry their defaults.
    assert s.load_state("__v1__") == b'{"mode":"RUNNING"}'
    old = s.recent_fills(1)[0]
    assert (old.exec_id, old.source, old.fee_asset, old.booked_at, old.liquidity) == ("OLD1", "ws", "USD", 0.0, None)
    assert s.recent_events()[0].event_type == "fill"
    # Exactly-once holds across the upgrade; the immutability triggers now apply to old rows too.
    assert s.book_fills_with_state([fill("OLD1"), fill("NEW1")], "slot:1", b"{}") == ["NEW1"]
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM fills WHERE exec_id = 'OLD1'")
    version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert version == SCHEMA_VERSION
    s.close()


def test_versioned_migrations_run_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.sqlite3"
    SqliteStore(path).close()
    monkeypatch.setattr(migrate, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(migrate.MIGRATIONS, SCHEMA_VERSION + 1,
                        ["INSERT INTO bot_state (key, payload) VALUES ('backfilled', '{\"n\":1}')"])
    s = SqliteStore(path)
    assert s.migrated_from == SCHEMA_VERSION and f"migration {SCHEMA_VERSION + 1}" in s.migration_changes
    s.close()
    s = SqliteStore(path)  # already at the new version: nothing runs again
    assert s.migration_changes == [] and s.load_state("backfilled") == b'{"n":1}'
    s.close()


def test_failed_migration_leaves_the_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.sqlite3"
    s = SqliteStore(path)
    s.save_state("k", b"{}")
    s.close()
    monkeypatch.setattr(migrate, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(migrate.MIGRATIONS, SCHEMA_VERSION + 1, ["THIS IS NOT SQL"])
    with pytest.raises(StoreUnavailable):
        SqliteStore(path)
    monkeypatch.undo()
    s = SqliteStore(path)
    assert s.migration_changes == [] and s.load_state("k") == b"{}"
    s.close()


def test_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)", (SCHEMA_VERSION + 5,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreUnavailable) as err:
        SqliteStore(path)
    assert not err.value.retryable and "newer" in str(err.value)


def test_every_column_can_be_added_to_an_older_table(tmp_path: Path) -> None:
    """schema.sql rule: a table reduced to its key columns is brought to the full shape."""
    ref = reference()
    schema = Schema(schema_sql())
    conn = sqlite3.connect(tmp_path / "keys-only.sqlite3", isolation_level=None)
    for table, defs in schema.columns.items():
        info = columns(ref, table)
        keys = sorted((c for c, v in info.items() if v[3]), key=lambda c: info[c][3])
        if len(keys) == 1:
            conn.execute(f"CREATE TABLE {table} ({defs[keys[0]]})")
        else:
            body = ", ".join(defs[k] for k in keys)
            conn.execute(f"CREATE TABLE {table} ({body}, PRIMARY KEY ({', '.join(keys)}))")
        # With a row present SQLite enforces the ADD COLUMN rules (NOT NULL needs a DEFAULT).
        conn.execute(f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join('1' * len(keys))})")
    apply_schema(conn, now=0.0)
    for table in schema.tables:
        assert columns(conn, table) == columns(ref, table), table


def test_schema_parser_sees_triggers_and_indexes() -> None:
    schema = Schema(schema_sql())
    assert {"fills_no_update", "position_ledger_guard", "position_journal_no_delete"} <= set(schema.triggers)
    assert any("outbox_due_idx" in s for s in schema.indexes)
    assert set(MIRRORED) <= set(schema.tables)


def test_postgres_schema_matches_the_mirrored_tables() -> None:
    pg = (Path(migrate.__file__).parent / "schema_postgres.sql").read_text()
    pg_tables = {
        m.group(1): column_definitions(stmt)
        for stmt in migrate.split_statements(pg)
        if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", stmt))
    }
    schema = Schema(schema_sql())
    assert set(pg_tables) == set(MIRRORED)
    for table, mirror in MIRRORED.items():
        assert list(pg_tables[table]) == list(schema.columns[table]), table
        stmt = next(s for s in migrate.split_statements(pg) if f"TABLE IF NOT EXISTS {table} " in s)
        keys = mirror.conflict_key.split(",")
        if len(keys) == 1:
            assert "PRIMARY KEY" in pg_tables[table][keys[0]], table
        else:
            assert f"PRIMARY KEY ({', '.join(keys)})" in stmt, table
