"""Messages of the store actor (actors/store.py): writes in, results and alerts out.

Writes are sent with `tell`. A write that names a `reply_to` (anything with `tell`, normally the
sender's ActorRef) gets a result message back: BookFillsResult for BookFills, StoreWriteResult for
the others. `ts` is the sender's `now` (time is a message); it stamps booked_at/updated_at so a
replayed run writes the same rows. Rows are the Structs of store/rows.py.

`reply_to` is a live reference, so these write messages are process-internal and not encoded;
the results, alerts and status are plain data and encode like every other protocol message.
"""

from __future__ import annotations

from typing import Any, Literal

from actors.messages import Message
from store.rows import CandleRow, EventRow, FillRow, JournalRow, PositionRow, PriceRow

# --------------------------------------------------------------------------- writes (tell)


class BookFills(Message, tag="store_book_fills"):
    """Fills of one slot, the slot's new state and its transition events: one transaction.

    Optional ledger rows (position upserts, journal entries) join the same transaction when the
    sender has them at hand.
    """

    slot_id: int
    fills: list[FillRow]
    state_key: str
    state_payload: bytes
    events: list[EventRow] = []
    positions: list[PositionRow] = []
    journal: list[JournalRow] = []
    request_id: int = 0
    ts: float | None = None
    reply_to: Any = None


class SaveState(Message, tag="store_save_state"):
    key: str
    payload: bytes
    request_id: int = 0
    ts: float | None = None
    reply_to: Any = None


class AppendEvents(Message, tag="store_append_events"):
    events: list[EventRow]
    request_id: int = 0
    ts: float | None = None
    reply_to: Any = None


class InsertPrices(Message, tag="store_insert_prices"):
    prices: list[PriceRow]
    request_id: int = 0
    ts: float | None = None
    reply_to: Any = None


class UpsertCandles(Message, tag="store_upsert_candles"):
    candles: list[CandleRow]
    request_id: int = 0
    ts: float | None = None
    reply_to: Any = None


class WriteLedger(Message, tag="store_write_ledger"):
    """Position upserts and journal entries in one transaction (journal ids in the result)."""

    positions: list[PositionRow] = []
    journal: list[JournalRow] = []
    request_id: int = 0
    ts: float | None = None
    reply_to: Any = None


class TrimStore(Message, tag="store_trim"):
    """Retention: drop price ticks, events and candles older than these ages."""

    price_days: float = 7.0
    event_days: float = 90.0
    candle_days: float = 14.0
    vacuum: bool = True
    request_id: int = 0
    ts: float | None = None
    reply_to: Any = None


class FlushOutbox(Message, tag="store_flush_outbox"):
    """Send due outbox rows to the replica now (ignoring the replica backoff)."""


class InjectStoreFailures(Message, tag="store_inject_failures"):
    """Test fault: the next n write transactions fail (and roll back)."""

    n: int


StoreWrite = BookFills | SaveState | AppendEvents | InsertPrices | UpsertCandles | WriteLedger | TrimStore

# --------------------------------------------------------------------------- results (replies)


class BookFillsResult(Message, tag="store_book_fills_result"):
    """Outcome of a BookFills.

    ok: the fills, state and events are committed. booked_exec_ids were new; already_booked were
        present before (not counted twice).
    ok=False, retrying=True: not committed yet; the store keeps the batch and retries it in order,
        and another BookFillsResult for the same request_id follows once it commits. The slot
        keeps the fills pending until then (it may also resend: booking is idempotent).
    ok=False, retrying=False: rejected for good (a constraint the batch breaks): a bug; halt.
    """

    slot_id: int
    request_id: int
    ok: bool
    booked_exec_ids: list[str] = []
    already_booked_exec_ids: list[str] = []
    error: str = ""
    retrying: bool = False


class StoreWriteResult(Message, tag="store_write_result"):
    """Outcome of the other writes (same ok / retrying meaning as BookFillsResult)."""

    request_id: int
    op: str
    ok: bool
    error: str = ""
    retrying: bool = False
    ids: list[int] = []  # event or journal ids assigned, when the write creates any


# --------------------------------------------------------------------------- alerts and status

AlertKind = Literal[
    "store_unavailable",
    "store_recovered",
    "write_rejected",
    "writes_lost",
    "replica_unavailable",
    "replica_recovered",
    "replica_table_disabled",
]


class StoreAlert(Message, tag="store_alert"):
    """Told to the configured alerts sink (Telegram, status). `StoreUnavailable` is kind
    "store_unavailable": writes are failing and are held in memory (`pending_writes`)."""

    kind: AlertKind
    message: str
    error: str = ""
    pending_writes: int = 0
    ts: float = 0.0


class ReplicaStatus(Message, tag="store_replica_status"):
    enabled: bool = False
    in_flight: bool = False
    acked_rows: int = 0
    failed_rows: int = 0
    consecutive_failures: int = 0
    last_error: str = ""
    disabled_tables: list[str] = []
    next_attempt_in_s: float = 0.0


class StoreStatus(Message, tag="store_status"):
    path: str
    open: bool
    available: bool  # False while writes fail (the StoreUnavailable state)
    writes_ok: int = 0
    commits: int = 0  # transactions: fewer than writes_ok when writes were group-committed
    write_failures: int = 0  # failed attempts, all time
    consecutive_failures: int = 0
    last_error: str = ""
    pending_writes: int = 0  # writes held in memory, waiting for the database
    dropped_market_writes: int = 0
    outbox_depth: int = -1  # -1: unknown (database unavailable)
    schema_version: int = 0
    replica: ReplicaStatus = ReplicaStatus()


# --------------------------------------------------------------------------- internal


class StoreTick(Message, tag="store_tick"):
    """From the store's own timer thread: retry held writes, pump the outbox."""


class StoreCommit(Message, tag="store_commit"):
    """The store actor's own marker: commit the writes collected so far as one transaction."""
