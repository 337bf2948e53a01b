"""Table groups of SqliteStore: market data (prices, candles) and the position ledger/journal."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

from store.core import StoreCore, json_text, placeholders
from store.rows import CandleRow, JournalRow, PositionRow, PriceRow

_POSITION_COLS = tuple(PositionRow.__struct_fields__)
_CANDLE_COLS = tuple(CandleRow.__struct_fields__)


class MarketData(StoreCore):
    """Price samples and OHLCV candles: re-fetchable, so written with synchronous=NORMAL."""

    def insert_prices(self, rows: Sequence[PriceRow], *, now: float | None = None) -> int:
        now = self._now(now)
        with self._write("insert_prices", durable=False) as cur:
            for p in rows:
                cur.execute(
                    "INSERT INTO price_history (ts, price) VALUES (?, ?)"
                    " ON CONFLICT(ts) DO UPDATE SET price = excluded.price",
                    (p.ts, p.price),
                )
                self._mirror(cur, "price_history", {"ts": p.ts, "price": p.price}, now, row_key=repr(p.ts))
        return len(rows)

    def recent_prices(self, since_ts: float | None = None, limit: int = 10_000) -> list[PriceRow]:
        """Oldest first, the newest `limit` rows at or after since_ts."""
        rows = self._read(
            "SELECT ts, price FROM price_history WHERE ts >= ? ORDER BY ts DESC LIMIT ?",
            (since_ts if since_ts is not None else float("-inf"), int(limit)),
        )
        return [PriceRow(ts=r[0], price=r[1]) for r in reversed(rows)]

    def upsert_candles(self, rows: Sequence[CandleRow], *, now: float | None = None) -> int:
        now = self._now(now)
        cols = ",".join(_CANDLE_COLS)
        updates = ",".join(f"{c} = excluded.{c}" for c in _CANDLE_COLS if c not in ("pair", "interval_min", "time"))
        with self._write("upsert_candles", durable=False) as cur:
            for c in rows:
                values = [getattr(c, k) for k in _CANDLE_COLS]
                cur.execute(
                    f"INSERT INTO ohlcv_candles ({cols}) VALUES ({placeholders(len(values))})"
                    f" ON CONFLICT(pair, interval_min, time) DO UPDATE SET {updates}",
                    values,
                )
                key = f"{c.pair}|{c.interval_min}|{c.time!r}"
                self._mirror(cur, "ohlcv_candles", dict(zip(_CANDLE_COLS, values, strict=True)), now, row_key=key)
        return len(rows)

    def recent_candles(self, n: int, pair: str = "DOGE/USD", interval_min: int = 5) -> list[CandleRow]:
        """The newest n candles, oldest first (the order indicators and the HMM consume)."""
        rows = self._read(
            f"SELECT {','.join(_CANDLE_COLS)} FROM ohlcv_candles WHERE pair = ? AND interval_min = ?"
            " ORDER BY time DESC LIMIT ?",
            (pair, interval_min, int(n)),
        )
        return [CandleRow(**dict(zip(_CANDLE_COLS, r, strict=True))) for r in reversed(rows)]

    def candle_stats(self, pair: str = "DOGE/USD", interval_min: int = 5) -> tuple[int, float | None]:
        """(count, newest candle time): the inputs of the HMM data-readiness check."""
        count, newest = self._read(
            "SELECT COUNT(*), MAX(time) FROM ohlcv_candles WHERE pair = ? AND interval_min = ?",
            (pair, interval_min),
        )[0]
        return int(count), newest


class Ledger(StoreCore):
    """Position ledger (one row per position, guarded by triggers) and its append-only journal."""

    def _put_position(self, cur: sqlite3.Cursor, p: PositionRow, now: float) -> None:
        row = msgspec.structs.asdict(p) | {"updated_at": now}
        values = [(json_text(row[c]) if c == "extra" else row[c]) for c in _POSITION_COLS]
        updates = ",".join(f"{c} = excluded.{c}" for c in _POSITION_COLS if c != "position_id")
        cur.execute(
            f"INSERT INTO position_ledger ({','.join(_POSITION_COLS)}) VALUES ({placeholders(len(values))})"
            f" ON CONFLICT(position_id) DO UPDATE SET {updates}",
            values,
        )
        self._mirror(cur, "position_ledger", row, now, row_key=str(p.position_id))

    def _insert_journal(self, cur: sqlite3.Cursor, rows: Sequence[JournalRow], now: float) -> list[int]:
        ids: list[int] = []
        for j in rows:
            cur.execute(
                "INSERT INTO position_journal (journal_id, position_id, slot_id, ts, event_type, details)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(journal_id) DO NOTHING",
                (j.journal_id, j.position_id, j.slot_id, j.ts, j.event_type, json_text(j.details)),
            )
            if cur.rowcount != 1:
                continue  # same explicit journal_id re-sent: already recorded, append-only
            journal_id = j.journal_id if j.journal_id is not None else int(cur.lastrowid or 0)
            ids.append(journal_id)
            row = {"journal_id": journal_id, "position_id": j.position_id, "slot_id": j.slot_id, "ts": j.ts,
                   "event_type": j.event_type, "details": j.details}
            self._mirror(cur, "position_journal", row, now)
        return ids

    def upsert_position(self, row: PositionRow, *, now: float | None = None) -> None:
        self.write_ledger([row], [], now=now)

    def append_journal(self, rows: Sequence[JournalRow], *, now: float | None = None) -> list[int]:
        return self.write_ledger([], rows, now=now)

    def write_ledger(
        self, positions: Sequence[PositionRow], journal: Sequence[JournalRow], *, now: float | None = None
    ) -> list[int]:
        """Position upserts and journal entries in one transaction; returns the journal ids."""
        now = self._now(now)
        with self._write("write_ledger", durable=True) as cur:
            for p in positions:
                self._put_position(cur, p, now)
            return self._insert_journal(cur, journal, now)

    def _position(self, r: tuple[Any, ...]) -> PositionRow:
        d = dict(zip(_POSITION_COLS, r, strict=True))
        d["extra"] = msgspec.json.decode(d["extra"])
        return PositionRow(**d)

    def get_position(self, position_id: int) -> PositionRow | None:
        rows = self._read(
            f"SELECT {','.join(_POSITION_COLS)} FROM position_ledger WHERE position_id = ?", (position_id,)
        )
        return self._position(rows[0]) if rows else None

    def open_positions(self, slot_id: int | None = None) -> list[PositionRow]:
        where, params = ("AND slot_id = ?", [slot_id]) if slot_id is not None else ("", [])
        rows = self._read(
            f"SELECT {','.join(_POSITION_COLS)} FROM position_ledger WHERE status = 'open' {where}"
            " ORDER BY position_id",
            params,
        )
        return [self._position(r) for r in rows]

    def journal(self, *, position_id: int | None = None, slot_id: int | None = None,
                limit: int = 1000) -> list[JournalRow]:
        """Oldest first, the newest `limit` entries for a position or slot (or all)."""
        conds, params = [], []
        if position_id is not None:
            conds.append("position_id = ?")
            params.append(position_id)
        if slot_id is not None:
            conds.append("slot_id = ?")
            params.append(slot_id)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        rows = self._read(
            "SELECT journal_id, position_id, slot_id, ts, event_type, details FROM position_journal"
            f" {where} ORDER BY journal_id DESC LIMIT ?",
            [*params, int(limit)],
        )
        return [
            JournalRow(journal_id=r[0], position_id=r[1], slot_id=r[2], ts=r[3], event_type=r[4],
                       details=msgspec.json.decode(r[5]))
            for r in reversed(rows)
        ]

    def max_ids(self) -> dict[str, int]:
        """Highest ids in use, for counters restored at start-up."""
        (ev, pos, jr), = self._read(
            "SELECT (SELECT COALESCE(MAX(event_id), 0) FROM bot_events),"
            " (SELECT COALESCE(MAX(position_id), 0) FROM position_ledger),"
            " (SELECT COALESCE(MAX(journal_id), 0) FROM position_journal)"
        )
        return {"event_id": ev, "position_id": pos, "journal_id": jr}

