"""StoreCore: the SQLite connection, its transactions and error mapping (base of SqliteStore).

One connection, used by one thread (the store actor's): sqlite3's same-thread check stays on, so
a stray call from another thread fails loudly instead of racing. Every write is one small
`BEGIN IMMEDIATE ... COMMIT` transaction; a mirrored write enqueues its Supabase row in that same
transaction (store/outbox.py).

Durability (docs/persistence.md): transactions that carry money (fills, slot state, ledger,
journal) commit with synchronous=FULL, so they survive a power loss as well as a process kill;
market data and bookkeeping commit with synchronous=NORMAL (survives a process kill; the next FULL
commit also makes them durable, because the WAL is synced as a whole).

Every sqlite3 error is turned into StoreUnavailable (infrastructure: locked, full, I/O, corrupt)
or StoreIntegrityError (a constraint the caller broke), so callers never see a raw sqlite3 error.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import msgspec

from store import outbox
from store.migrate import SCHEMA_VERSION, SchemaTooNew, apply_schema
from store.rows import StoreError, StoreIntegrityError, StoreUnavailable

DAY = 86400.0
_enc = msgspec.json.Encoder()


def placeholders(n: int) -> str:
    return ",".join("?" * n)


def json_text(value: Any) -> str:
    try:
        return _enc.encode(value).decode("utf-8")
    except (TypeError, msgspec.EncodeError) as e:
        raise StoreIntegrityError(f"value is not JSON-serialisable: {e}") from e


def state_text(payload: bytes) -> str:
    """Snapshot payloads are stored as JSON text; reject anything else before it reaches the file."""
    try:
        msgspec.json.decode(payload, type=msgspec.Raw)  # validates without building objects
        return bytes(payload).decode("utf-8")
    except (msgspec.DecodeError, UnicodeDecodeError, TypeError) as e:
        raise StoreIntegrityError(f"state payload is not UTF-8 JSON: {e}") from e


def map_error(e: sqlite3.Error, what: str) -> StoreError:
    if isinstance(e, sqlite3.IntegrityError):
        return StoreIntegrityError(f"{what}: {e}")
    text = str(e)
    permanent = not isinstance(e, sqlite3.OperationalError) or any(
        s in text for s in ("no such table", "no such column", "syntax error", "malformed")
    )
    return StoreUnavailable(f"{what}: {text}", retryable=not permanent)


class StoreCore:
    """Connection, transactions and helpers shared by the table groups. Not thread-safe by design."""

    def __init__(
        self,
        path: str | Path,
        *,
        mirror: Iterable[str] | bool = False,
        busy_timeout_ms: int = 2000,
        integrity_check: bool = True,
        money_sync: str = "FULL",
        bulk_sync: str = "NORMAL",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (creating or upgrading) the database file at `path`.

        mirror: tables whose writes enqueue replica rows (True = all of outbox.MIRRORED); leave it
            False without a replica, or the outbox grows for nobody.
        busy_timeout_ms: how long a write waits for another process's lock before failing
            (StoreUnavailable), bounded so the owning actor never hangs.
        integrity_check: run PRAGMA quick_check when opening an existing file.
        money_sync / bulk_sync: synchronous level of money transactions / of market-data writes.
        clock: time source for booked_at / updated_at / created_at when a call passes no `now`.
        """
        self.path = Path(path)
        self._clock = clock
        self._money_sync = money_sync.upper()
        self._bulk_sync = bulk_sync.upper()
        self._sync = ""
        self._inject = 0
        self._grouped = False
        self.set_mirror(mirror)
        self._conn = self._open(busy_timeout_ms, integrity_check)

    # ------------------------------------------------------------------ lifecycle

    def _open(self, busy_timeout_ms: int, integrity_check: bool) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            wal = self.path.with_name(self.path.name + "-wal")
            # A file killed before its first checkpoint is empty but has its data in the WAL.
            new_file = (not self.path.exists() or self.path.stat().st_size == 0) and not (
                wal.exists() and wal.stat().st_size > 0
            )
            conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=busy_timeout_ms / 1000)
        except (OSError, sqlite3.Error) as e:
            raise StoreUnavailable(f"cannot open database {self.path}: {e}", retryable=False) from e
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if new_file:
                # Must precede the first table; lets trim() give pages back without a full VACUUM.
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreUnavailable(f"{self.path}: could not enable WAL (journal_mode={mode})")
            self._set_sync(conn, self._bulk_sync)
            if integrity_check and not new_file:
                result = conn.execute("PRAGMA quick_check").fetchall()
                if result != [("ok",)]:
                    raise StoreUnavailable(
                        f"{self.path} failed its integrity check: {result[:3]}", retryable=False
                    )
            self.migrated_from, self.migration_changes = apply_schema(conn, now=self._clock())
        except SchemaTooNew as e:
            conn.close()
            raise StoreUnavailable(f"{self.path}: {e}", retryable=False) from e
        except sqlite3.Error as e:
            conn.close()
            raise StoreUnavailable(f"{self.path} is not a usable SQLite database: {e}", retryable=False) from e
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_sync(self, conn: sqlite3.Connection, level: str) -> None:
        if self._sync != level:
            conn.execute(f"PRAGMA synchronous = {level}")
            self._sync = level

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with suppress(sqlite3.Error):  # best effort: the file is consistent either way
            conn.execute("PRAGMA optimize")
        conn.close()

    @property
    def closed(self) -> bool:
        return self._conn is None

    def set_mirror(self, tables: Iterable[str] | bool) -> None:
        """Which tables enqueue replica rows: True = all mirrored tables, False = none."""
        if tables is True:
            self.mirror = frozenset(outbox.MIRRORED)
        elif tables is False:
            self.mirror = frozenset()
        else:
            self.mirror = frozenset(tables) & frozenset(outbox.MIRRORED)

    def inject_failures(self, n: int) -> None:
        """Test fault hook: the next n write transactions run their statements, then fail and roll back."""
        self._inject = max(0, int(n))

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(f"store {self.path} is closed", retryable=False)
        return self._conn

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[None]:
        """Run several writes as ONE transaction (group commit): one fsync for all of them.

        Each write keeps its own atomicity (it is inside the bigger transaction); any exception
        rolls back every write of the group, and none of their results may be reported until the
        block exits normally. `durable` must be True when any write in the group carries money.
        """
        with self._write("transaction", durable=durable):
            self._grouped = True
            try:
                yield
            finally:
                self._grouped = False

    @contextmanager
    def _write(self, what: str, *, durable: bool) -> Iterator[sqlite3.Cursor]:
        conn = self._require()
        if self._grouped:  # part of the enclosing transaction(): it begins, commits or rolls back
            try:
                yield conn.cursor()
            except sqlite3.Error as e:
                raise map_error(e, what) from e
            return
        try:
            self._set_sync(conn, self._money_sync if durable else self._bulk_sync)
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise map_error(e, what) from e
        try:
            yield conn.cursor()
            if self._inject > 0:
                self._inject -= 1
                raise sqlite3.OperationalError("injected write failure")
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                # A failed COMMIT may already have rolled back; either way nothing was persisted.
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise map_error(e, what) from e
            raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._require().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise map_error(e, "read") from e

    def _mirror(self, cur: sqlite3.Cursor, table: str, row: Mapping[str, Any], now: float,
                row_key: str | None = None) -> None:
        if table in self.mirror:
            outbox.enqueue(cur, table, row, now=now, row_key=row_key)

    # ------------------------------------------------------------------ maintenance

    def vacuum(self, *, full: bool = False) -> None:
        """Give freed pages back: incremental (cheap, files created by this store) or a full VACUUM
        (rewrites the file; blocks for a while on a big file, run it when the bot is idle)."""
        try:
            conn = self._require()
            if full:
                conn.execute("VACUUM")
            else:
                conn.execute("PRAGMA incremental_vacuum").fetchall()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as e:
            raise map_error(e, "vacuum") from e

    def info(self) -> dict[str, Any]:
        (mode,), = self._read("PRAGMA journal_mode")
        (pages,), = self._read("PRAGMA page_count")
        (page_size,), = self._read("PRAGMA page_size")
        (busy,), = self._read("PRAGMA busy_timeout")
        return {"path": str(self.path), "schema_version": SCHEMA_VERSION, "journal_mode": mode,
                "synchronous_money": self._money_sync, "synchronous_bulk": self._bulk_sync,
                "busy_timeout_ms": busy, "size_bytes": pages * page_size, "mirror": sorted(self.mirror)}

