"""SqliteStore: the embedded source of truth (one SQLite file in WAL mode).

The connection, transactions, durability levels and error mapping live in store/core.py; market
data and the position ledger in store/tables.py. This class adds the slot state, fills (the
exactly-once booking), transition events, the outbox and retention.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from store import outbox
from store.core import DAY, json_text, map_error, placeholders, state_text
from store.rows import (
    BookOutcome,
    EventRow,
    FillRow,
    JournalRow,
    OutboxRow,
    PositionRow,
    StoreError,
    StoreIntegrityError,
    StoreUnavailable,
)
from store.tables import Ledger, MarketData

__all__ = ["SqliteStore", "StoreError", "StoreIntegrityError", "StoreUnavailable"]

_FILL_COLS = tuple(FillRow.__struct_fields__)


class SqliteStore(Ledger, MarketData):
    """The embedded store: `SqliteStore(path, mirror=..., ...)`; see StoreCore for the options."""

    # ------------------------------------------------------------------ state

    def load_state(self, key: str) -> bytes | None:
        rows = self._read("SELECT payload FROM bot_state WHERE key = ?", (key,))
        return rows[0][0].encode("utf-8") if rows else None

    def state_keys(self, prefix: str = "") -> list[str]:
        rows = self._read("SELECT key FROM bot_state WHERE key >= ? ORDER BY key", (prefix,))
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def save_state(self, key: str, payload: bytes, *, now: float | None = None) -> None:
        text, now = state_text(payload), self._now(now)
        with self._write("save_state", durable=True) as cur:
            self._put_state(cur, key, text, now)

    def _put_state(self, cur: sqlite3.Cursor, key: str, text: str, now: float) -> None:
        cur.execute(
            "INSERT INTO bot_state (key, payload, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at",
            (key, text, now),
        )
        if "bot_state" in self.mirror:
            row = {"key": key, "payload": msgspec.Raw(text.encode("utf-8")), "updated_at": now}
            outbox.enqueue(cur, "bot_state", row, now=now, row_key=key)

    # ------------------------------------------------------------------ fills

    def book_fills_with_state(
        self,
        fills: Sequence[FillRow],
        state_key: str,
        state_payload: bytes,
        events: Sequence[EventRow] = (),
        *,
        positions: Sequence[PositionRow] = (),
        journal: Sequence[JournalRow] = (),
        now: float | None = None,
    ) -> list[str]:
        """Book fills (exactly once by exec_id), the slot state and its events in ONE transaction.

        Returns the exec ids newly booked; ids already present are not booked again (the state and
        events are still written: they are the caller's current truth).
        """
        return self.book_fills(
            fills, state_key, state_payload, events, positions=positions, journal=journal, now=now
        ).booked

    def book_fills(
        self,
        fills: Sequence[FillRow],
        state_key: str,
        state_payload: bytes,
        events: Sequence[EventRow] = (),
        *,
        positions: Sequence[PositionRow] = (),
        journal: Sequence[JournalRow] = (),
        now: float | None = None,
    ) -> BookOutcome:
        """As book_fills_with_state, reporting duplicates and assigned ids as well."""
        text, now = state_text(state_payload), self._now(now)
        booked: list[str] = []
        dups: list[str] = []
        with self._write("book_fills", durable=True) as cur:
            for f in fills:
                row = msgspec.structs.replace(f, booked_at=now)
                values = [getattr(row, c) for c in _FILL_COLS]
                # ON CONFLICT(exec_id) rather than INSERT OR IGNORE: OR IGNORE would also swallow a
                # CHECK violation and report a bad row as "already booked".
                cur.execute(
                    f"INSERT INTO fills ({','.join(_FILL_COLS)}) VALUES ({placeholders(len(_FILL_COLS))})"
                    " ON CONFLICT(exec_id) DO NOTHING",
                    values,
                )
                if cur.rowcount == 1:
                    booked.append(f.exec_id)
                    self._mirror(cur, "fills", dict(zip(_FILL_COLS, values, strict=True)), now)
                else:
                    dups.append(f.exec_id)
            self._put_state(cur, state_key, text, now)
            event_ids = self._insert_events(cur, events, now)
            for p in positions:
                self._put_position(cur, p, now)
            journal_ids = self._insert_journal(cur, journal, now)
        return BookOutcome(booked=booked, duplicates=dups, event_ids=event_ids, journal_ids=journal_ids)

    def seen_exec_ids(self, since_ts: float | None = None) -> set[str]:
        if since_ts is None:
            return {r[0] for r in self._read("SELECT exec_id FROM fills")}
        return {r[0] for r in self._read("SELECT exec_id FROM fills WHERE ts >= ?", (since_ts,))}

    def has_fill(self, exec_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM fills WHERE exec_id = ?", (exec_id,)))

    def recent_fills(self, limit: int = 50, slot_id: int | None = None) -> list[FillRow]:
        """Newest first."""
        where, params = ("WHERE slot_id = ?", [slot_id]) if slot_id is not None else ("", [])
        rows = self._read(
            f"SELECT {','.join(_FILL_COLS)} FROM fills {where} ORDER BY ts DESC, rowid DESC LIMIT ?",
            [*params, int(limit)],
        )
        return [FillRow(**dict(zip(_FILL_COLS, r, strict=True))) for r in rows]

    # ------------------------------------------------------------------ events

    def _insert_events(self, cur: sqlite3.Cursor, rows: Sequence[EventRow], now: float) -> list[int]:
        ids: list[int] = []
        for e in rows:
            details = json_text(e.details)
            cur.execute(
                "INSERT INTO bot_events (event_id, ts, slot_id, from_state, to_state, event_type, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
                (e.event_id, e.ts, e.slot_id, e.from_state, e.to_state, e.event_type, details),
            )
            if cur.rowcount != 1:
                continue  # a re-sent event with the same explicit id is already recorded
            event_id = e.event_id if e.event_id is not None else int(cur.lastrowid or 0)
            ids.append(event_id)
            row = {"event_id": event_id, "ts": e.ts, "slot_id": e.slot_id, "from_state": e.from_state,
                   "to_state": e.to_state, "event_type": e.event_type, "details": e.details}
            self._mirror(cur, "bot_events", row, now)
        return ids

    def append_events(self, rows: Sequence[EventRow], *, now: float | None = None) -> list[int]:
        now = self._now(now)
        with self._write("append_events", durable=False) as cur:
            return self._insert_events(cur, rows, now)

    def recent_events(self, slot_id: int | None = None, limit: int = 50) -> list[EventRow]:
        """Newest first."""
        where, params = ("WHERE slot_id = ?", [slot_id]) if slot_id is not None else ("", [])
        rows = self._read(
            "SELECT event_id, ts, slot_id, from_state, to_state, event_type, details FROM bot_events"
            f" {where} ORDER BY event_id DESC LIMIT ?",
            [*params, int(limit)],
        )
        return [
            EventRow(event_id=r[0], ts=r[1], slot_id=r[2], from_state=r[3], to_state=r[4],
                     event_type=r[5], details=msgspec.json.decode(r[6]))
            for r in rows
        ]

    # ------------------------------------------------------------------ outbox

    def enqueue_outbox(self, table: str, op: outbox.Op, conflict_key: str, row: Mapping[str, Any] | bytes,
                       *, row_key: str | None = None, now: float | None = None) -> int:
        now = self._now(now)
        with self._write("enqueue_outbox", durable=False) as cur:
            return outbox.enqueue(cur, table, row, now=now, row_key=row_key, op=op, conflict_key=conflict_key)

    def take_outbox(self, batch: int = 500, *, exclude_tables: Iterable[str] = (),
                    now: float | None = None) -> list[OutboxRow]:
        try:
            return outbox.take(self._require(), batch, now=self._now(now), exclude_tables=exclude_tables)
        except sqlite3.Error as e:
            raise map_error(e, "take_outbox") from e

    def ack_outbox(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        with self._write("ack_outbox", durable=False) as cur:
            return outbox.ack(cur, ids)

    def fail_outbox(self, ids: Sequence[int], error: str, *, now: float | None = None) -> int:
        if not ids:
            return 0
        now = self._now(now)
        with self._write("fail_outbox", durable=False) as cur:
            return outbox.fail(cur, ids, error, now=now)

    def outbox_stats(self, *, now: float | None = None) -> outbox.OutboxStats:
        try:
            return outbox.stats(self._require(), now=self._now(now))
        except sqlite3.Error as e:
            raise map_error(e, "outbox_stats") from e

    # ------------------------------------------------------------------ maintenance

    def trim(self, *, now: float | None = None, price_days: float = 7.0, event_days: float = 90.0,
             candle_days: float = 14.0) -> dict[str, int]:
        """Retention: drop old price ticks, events and candles. Fills, ledger, journal, state and the
        outbox are never trimmed (money history, and rows not yet replicated)."""
        now = self._now(now)
        with self._write("trim", durable=False) as cur:
            out = {}
            for table, col, days in (("price_history", "ts", price_days), ("bot_events", "ts", event_days),
                                     ("ohlcv_candles", "time", candle_days)):
                cur.execute(f"DELETE FROM {table} WHERE {col} < ?", (now - days * DAY,))
                out[table] = cur.rowcount
        return out

