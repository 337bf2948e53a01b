"""Bring a SQLite file to the current schema (store/schema.sql), whatever older version wrote it.

The approach is declarative first: schema.sql describes the current shape; missing tables are
created from it and missing columns are added to existing tables with the exact column definition
text from schema.sql (so defaults and CHECKs carry over). Changes that adding cannot express (a
data backfill, a renamed column) go into MIGRATIONS, keyed by the version that introduces them and
run once, in order, inside the same transaction. Indexes are created if missing; triggers are
dropped and recreated so their current definitions always apply.

A file stamped with a newer version than this code knows is refused rather than half-understood.
"""

from __future__ import annotations

import re
import sqlite3
import time
from importlib import resources

SCHEMA_VERSION = 1
SCHEMA_DESCRIPTION = "fills, state, events, market data, position ledger/journal, outbox"

# Version -> statements run once when a file older than that version is opened (after the
# additive step). Version 1 is the first shape; later versions append here.
MIGRATIONS: dict[int, list[str]] = {}

_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\(", re.I)
_CREATE_TRIGGER = re.compile(r"^\s*CREATE\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_TABLE_CONSTRAINT = re.compile(r"^(CONSTRAINT|PRIMARY|UNIQUE|CHECK|FOREIGN)\b", re.I)


def schema_sql() -> str:
    return resources.files("store").joinpath("schema.sql").read_text(encoding="utf-8")


def split_statements(sql: str) -> list[str]:
    """Complete SQL statements of a script (trigger bodies contain ';', so split by completeness)."""
    out: list[str] = []
    buf: list[str] = []
    for line in sql.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buf.append(line)
        text = "\n".join(buf)
        if sqlite3.complete_statement(text):
            out.append(text.strip())
            buf = []
    if buf and "\n".join(buf).strip():
        raise ValueError("schema.sql ends with an incomplete statement")
    return out


def _split_top_level(body: str) -> list[str]:
    parts, depth, cur, quote = [], 0, [], ""
    for ch in body:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def column_definitions(create_table: str) -> dict[str, str]:
    """Column name -> its definition text, from one CREATE TABLE statement (comments stripped)."""
    text = re.sub(r"--[^\n]*", "", create_table)
    body = text[text.index("(") + 1 : text.rindex(")")]
    cols: dict[str, str] = {}
    for part in _split_top_level(body):
        part = " ".join(part.split())
        if not part or _TABLE_CONSTRAINT.match(part):
            continue
        cols[part.split(" ", 1)[0]] = part
    return cols


class Schema:
    """schema.sql parsed into tables (with their column definitions), indexes and triggers."""

    def __init__(self, sql: str) -> None:
        self.tables: dict[str, str] = {}
        self.columns: dict[str, dict[str, str]] = {}
        self.indexes: list[str] = []
        self.triggers: dict[str, str] = {}
        for stmt in split_statements(sql):
            if m := _CREATE_TABLE.match(stmt):
                self.tables[m.group(1)] = stmt
                self.columns[m.group(1)] = column_definitions(stmt)
            elif m := _CREATE_TRIGGER.match(stmt):
                self.triggers[m.group(1)] = stmt
            else:
                self.indexes.append(stmt)


def file_version(conn: sqlite3.Connection) -> int:
    """The schema version stamped in the file; 0 for an empty or pre-versioning file."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if row is None:
        return 0
    got = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(got[0] or 0)


def existing_columns(conn: sqlite3.Connection, table: str) -> set[str] | None:
    rows = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    return {r[1] for r in rows} if rows else None


class SchemaTooNew(Exception):
    pass


def apply_schema(conn: sqlite3.Connection, *, now: float | None = None) -> tuple[int, list[str]]:
    """Bring the file to SCHEMA_VERSION in one transaction. Returns (old version, changes made).

    The connection must be in autocommit mode (isolation_level=None); the transaction is ours.
    """
    schema = Schema(schema_sql())
    old = file_version(conn)
    if old > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema version {old} is newer than this program's {SCHEMA_VERSION}"
        )
    changes: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, create in schema.tables.items():
            have = existing_columns(conn, table)
            if have is None:
                conn.execute(create)
                changes.append(f"create table {table}")
                continue
            for col, definition in schema.columns[table].items():
                if col not in have:
                    conn.execute(f'ALTER TABLE "{table}" ADD COLUMN {definition}')
                    changes.append(f"add column {table}.{col}")
        for version in sorted(v for v in MIGRATIONS if old < v <= SCHEMA_VERSION):
            for stmt in MIGRATIONS[version]:
                conn.execute(stmt)
            changes.append(f"migration {version}")
        for stmt in schema.indexes:
            conn.execute(stmt)
        for name, stmt in schema.triggers.items():
            conn.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            conn.execute(stmt)
        if old < SCHEMA_VERSION:
            conn.execute(
                "INSERT OR REPLACE INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
                (SCHEMA_VERSION, time.time() if now is None else now, SCHEMA_DESCRIPTION),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return old, changes
