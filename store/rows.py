"""Row types of the embedded store, and its errors.

Rows are plain msgspec Structs so actors can carry them in messages unchanged and the store can
turn them into SQL parameters and replica JSON without a mapping layer. Field names are the column
names of store/schema.sql (and of store/schema_postgres.sql for the mirrored tables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import msgspec

if TYPE_CHECKING:
    from actors.messages import Candle, Fill

FillSource = Literal["ws", "snapshot", "replay"]


class StoreError(Exception):
    """Base of the store's errors."""


class StoreUnavailable(StoreError):
    """The database cannot be opened, read or written (locked, disk full, I/O error, corrupt...).

    `retryable` is False when retrying the same call cannot help without operator action (a file
    that is not a SQLite database, a schema written by a newer version).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class StoreIntegrityError(StoreError):
    """A write broke a constraint (an immutable row rewritten, a bad enum value).

    It is the caller's bug, never a transient fault: the same write will fail again.
    """


class FillRow(msgspec.Struct, frozen=True, kw_only=True):
    exec_id: str
    order_id: str
    cl_ord_id: str | None = None
    slot_id: int | None = None
    side: Literal["buy", "sell"] | None = None
    qty: float
    price: float
    fee: float = 0.0
    fee_asset: str = "USD"
    liquidity: Literal["m", "t"] | None = None
    ts: float
    source: FillSource = "ws"
    booked_at: float | None = None  # set by the store when the row is booked

    @classmethod
    def from_fill(cls, fill: Fill, *, slot_id: int | None, source: FillSource | None = None) -> FillRow:
        """The row for a gateway `Fill` message (snapshot fills are marked as such)."""
        return cls(
            exec_id=fill.exec_id,
            order_id=fill.order_id,
            cl_ord_id=fill.cl_ord_id,
            slot_id=slot_id,
            side=fill.side,
            qty=fill.last_qty,
            price=fill.last_price,
            fee=fill.fee,
            fee_asset=fill.fee_asset,
            liquidity=fill.liquidity,
            ts=fill.ts,
            source=source or ("snapshot" if fill.snapshot else "ws"),
        )


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    ts: float
    slot_id: int | None = None
    from_state: str | None = None
    to_state: str | None = None
    event_type: str = ""
    details: dict[str, Any] = {}
    event_id: int | None = None  # None: the store assigns the next id


class PriceRow(msgspec.Struct, frozen=True, kw_only=True):
    ts: float
    price: float


class CandleRow(msgspec.Struct, frozen=True, kw_only=True):
    time: float
    pair: str = "DOGE/USD"
    interval_min: int = 5
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    trade_count: int = 0

    @classmethod
    def from_candle(cls, candle: Candle) -> CandleRow:
        return cls(
            time=candle.begin_ts,
            pair=candle.symbol,
            interval_min=candle.interval_min,
            open=candle.open,
            high=candle.high,
            low=candle.low,
            close=candle.close,
            volume=candle.volume,
            trade_count=candle.trades,
        )


class PositionRow(msgspec.Struct, frozen=True, kw_only=True):
    position_id: int
    slot_id: int = 0
    trade_id: str = ""
    slot_mode: str = "sticky"  # sticky | legacy | churner
    cycle: int = 0
    status: Literal["open", "closed"] = "open"
    entry_side: Literal["buy", "sell"] | None = None
    entry_time: float = 0.0
    entry_price: float = 0.0
    entry_volume: float = 0.0
    entry_cost: float = 0.0
    entry_fee: float = 0.0
    entry_regime: str | None = None
    original_exit_price: float = 0.0
    current_exit_price: float = 0.0
    exit_cl_ord_id: str | None = None
    exit_order_id: str | None = None
    times_repriced: int = 0
    exit_time: float | None = None
    exit_price: float | None = None
    exit_cost: float | None = None
    exit_fee: float | None = None
    exit_regime: str | None = None
    net_profit: float | None = None
    close_reason: str | None = None
    extra: dict[str, Any] = {}
    updated_at: float | None = None  # set by the store


class JournalRow(msgspec.Struct, frozen=True, kw_only=True):
    position_id: int
    ts: float
    event_type: str
    details: dict[str, Any] = {}
    slot_id: int | None = None
    journal_id: int | None = None  # None: the store assigns the next id


class OutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    table_name: str
    op: Literal["insert", "upsert"]
    conflict_key: str
    row: bytes  # the replica row as JSON
    created_at: float
    attempts: int = 0
    last_error: str | None = None
    row_key: str | None = None
    next_attempt_at: float = 0.0


class BookOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one book_fills transaction did: exec ids newly booked, and those already present."""

    booked: list[str]
    duplicates: list[str]
    event_ids: list[int] = []
    journal_ids: list[int] = []
