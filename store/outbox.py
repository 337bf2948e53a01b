"""The outbox: a durable queue in the SQLite file that feeds the optional Supabase replica.

Every mirrored write enqueues its replica row in the same transaction as the write itself, so the
queue holds exactly what was committed locally: nothing committed is missing from it, nothing
rolled back is in it. Rows leave only through `ack` (the replica confirmed them). A failed row is
retried with per-row exponential backoff, so one poison row never stalls the others.

These functions take a cursor inside the caller's transaction; SqliteStore wraps them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import msgspec

from store.rows import OutboxRow

Op = Literal["insert", "upsert"]


class Mirror(msgspec.Struct, frozen=True):
    op: Op
    conflict_key: str  # PostgREST on_conflict columns (also the replica's primary key)


# How each replicated table is written to Supabase. Append-only tables are inserts (a redelivered
# row comes back as 23505 and counts as delivered); snapshot-like tables are upserts.
MIRRORED: dict[str, Mirror] = {
    "bot_state": Mirror("upsert", "key"),
    "bot_events": Mirror("insert", "event_id"),
    "fills": Mirror("insert", "exec_id"),
    "price_history": Mirror("upsert", "ts"),
    "ohlcv_candles": Mirror("upsert", "pair,interval_min,time"),
    "position_ledger": Mirror("upsert", "position_id"),
    "position_journal": Mirror("insert", "journal_id"),
}

_encoder = msgspec.json.Encoder()

# Failed rows wait base * 2**(attempts-1) seconds, capped: 2 s, 4 s, ... 15 min.
RETRY_BASE_S = 2.0
RETRY_MAX_S = 900.0


def retry_delay(attempts: int, base: float = RETRY_BASE_S, cap: float = RETRY_MAX_S) -> float:
    return min(cap, base * (2 ** max(0, attempts - 1)))


def enqueue(
    cur: sqlite3.Cursor,
    table: str,
    row: Mapping[str, Any] | bytes,
    *,
    now: float,
    row_key: str | None = None,
    op: Op | None = None,
    conflict_key: str | None = None,
) -> int:
    """Queue one replica row; a pending upsert of the same row_key is replaced (last write wins)."""
    mirror = MIRRORED.get(table)
    op = op or (mirror.op if mirror else "insert")
    conflict_key = conflict_key if conflict_key is not None else (mirror.conflict_key if mirror else "")
    payload = row if isinstance(row, bytes) else _encoder.encode(row)
    if op == "upsert" and row_key is not None:
        cur.execute("DELETE FROM outbox WHERE table_name = ? AND row_key = ?", (table, row_key))
    cur.execute(
        "INSERT INTO outbox (table_name, op, conflict_key, row_key, row, created_at, next_attempt_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 0)",
        (table, op, conflict_key, row_key, payload.decode("utf-8"), now),
    )
    return int(cur.lastrowid or 0)


def take(
    conn: sqlite3.Connection, batch: int, *, now: float, exclude_tables: Iterable[str] = ()
) -> list[OutboxRow]:
    """Up to `batch` due rows, oldest first. They stay queued until acked."""
    excluded = sorted(set(exclude_tables))
    where = "next_attempt_at <= ?"
    params: list[Any] = [now]
    if excluded:
        where += f" AND table_name NOT IN ({','.join('?' * len(excluded))})"
        params.extend(excluded)
    params.append(int(batch))
    rows = conn.execute(
        "SELECT id, table_name, op, conflict_key, row_key, row, created_at, attempts, last_error,"
        f" next_attempt_at FROM outbox WHERE {where} ORDER BY id LIMIT ?",
        params,
    ).fetchall()
    return [
        OutboxRow(
            id=r[0],
            table_name=r[1],
            op=r[2],
            conflict_key=r[3],
            row_key=r[4],
            row=r[5].encode("utf-8"),
            created_at=r[6],
            attempts=r[7],
            last_error=r[8],
            next_attempt_at=r[9],
        )
        for r in rows
    ]


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def ack(cur: sqlite3.Cursor, ids: Sequence[int]) -> int:
    n = 0
    for chunk in _chunks(list(ids)):
        cur.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(chunk))})", list(chunk))
        n += cur.rowcount
    return n


def fail(cur: sqlite3.Cursor, ids: Sequence[int], error: str, *, now: float) -> int:
    """Count a failed attempt on each row and push its next attempt back exponentially."""
    n = 0
    for chunk in _chunks(list(ids)):
        marks = ",".join("?" * len(chunk))
        rows = cur.execute(f"SELECT id, attempts FROM outbox WHERE id IN ({marks})", list(chunk)).fetchall()
        for row_id, attempts in rows:
            cur.execute(
                "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
                (attempts + 1, error[:2000], now + retry_delay(attempts + 1), row_id),
            )
            n += 1
    return n


class OutboxStats(msgspec.Struct, frozen=True, kw_only=True):
    depth: int
    due: int
    failing: int  # rows with at least one failed attempt
    oldest_created_at: float | None
    by_table: dict[str, int]


def stats(conn: sqlite3.Connection, *, now: float) -> OutboxStats:
    by_table = dict(conn.execute("SELECT table_name, COUNT(*) FROM outbox GROUP BY table_name").fetchall())
    due, failing, oldest = conn.execute(
        "SELECT COALESCE(SUM(next_attempt_at <= ?), 0), COALESCE(SUM(attempts > 0), 0), MIN(created_at)"
        " FROM outbox",
        (now,),
    ).fetchone()
    return OutboxStats(
        depth=sum(by_table.values()),
        due=int(due),
        failing=int(failing),
        oldest_created_at=oldest,
        by_table=by_table,
    )
