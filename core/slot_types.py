"""Data model of one slot: orders, recoveries, cycle records, the slot state, events and actions.

Everything here is a frozen msgspec Struct so a `PairState` is its own snapshot format
(`msgspec.json.encode(state)` / `msgspec.json.decode(raw, type=PairState)`). Every field that
was added after the first snapshot version has a default, so older snapshots keep loading; unknown
fields (from a newer snapshot) are ignored on decode.

Trade semantics (STATE_MACHINE.md §5): trade A is the short side (sell entry, buy exit), trade B
the long side (buy entry, sell exit). Prices and money are USD, volumes DOGE, times unix seconds.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Side = Literal["buy", "sell"]
Role = Literal["entry", "exit"]
TradeId = Literal["A", "B"]
PairPhase = Literal["S0", "S1a", "S1b", "S2"]
ModeSource = Literal["none", "balance", "regime"]
PendingKind = Literal["entry", "exit", "recovery"]

TRADES: tuple[TradeId, TradeId] = ("A", "B")
ENTRY_SIDE: dict[str, Side] = {"A": "sell", "B": "buy"}
EXIT_SIDE: dict[str, Side] = {"A": "buy", "B": "sell"}


class _Frozen(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the plain data records."""


class OrderState(_Frozen):
    """An active entry or exit of the slot's A/B structure."""

    local_id: int
    side: Side
    role: Role
    price: float
    volume: float
    trade_id: TradeId
    cycle: int
    txid: str = ""  # exchange order id, empty until the exchange acknowledges the order
    placed_at: float = 0.0
    placed_market: float = 0.0  # market price when placed: the reference for "moved away" (S1 rule)
    entry_price: float = 0.0  # exits: the actual entry fill price (VWAP)
    entry_fee: float = 0.0  # exits: fee paid on the entry leg (already in total_fees)
    entry_filled_at: float = 0.0  # exits: when the entry filled
    reason: str = ""


class RecoveryOrder(_Frozen):
    """An exit that left the A/B structure (orphaned, or placed for a partial fill) but still works."""

    recovery_id: int
    side: Side
    price: float
    volume: float
    trade_id: TradeId
    cycle: int
    entry_price: float
    local_id: int = 0  # local id of its exchange order (the orphaned exit's id or a fresh one)
    entry_fee: float = 0.0
    entry_filled_at: float = 0.0
    orphaned_at: float = 0.0
    txid: str = ""
    reason: str = "stale"


class PendingCancel(_Frozen):
    """An order the reducer asked to cancel, kept until the exchange confirms the outcome.

    Entries (stale refresh) may fill before the cancel lands; exits (release) and recoveries
    (eviction) were booked at `booked_price` when they left the book, so a late execution is
    booked as an adjustment against that price. The marker makes every late report count once.
    """

    local_id: int
    kind: PendingKind
    side: Side
    trade_id: TradeId
    cycle: int
    price: float
    volume: float
    recovery_id: int = 0
    txid: str = ""
    entry_price: float = 0.0
    booked_price: float = 0.0
    requested_at: float = 0.0
    reason: str = ""
    placed_at: float = 0.0  # when the order itself was placed (0: a snapshot from before this field)


class CycleRecord(_Frozen):
    """One booked round trip (or part of one). `net_profit = gross_profit - fees`."""

    trade_id: TradeId
    cycle: int
    entry_price: float
    exit_price: float
    volume: float
    gross_profit: float
    fees: float
    net_profit: float
    entry_fee: float = 0.0
    exit_fee: float = 0.0
    entry_time: float = 0.0
    exit_time: float = 0.0
    from_recovery: bool = False
    # filled | recovery_fill | released | evicted | partial_cancel | recovery_partial_cancel |
    # recovery_cancel | dust_writeoff | adjustment
    close_reason: str = "filled"
    recovery_id: int = 0


class PairState(_Frozen):
    """Everything one slot knows. Derived facts (phase, counts) are computed, never stored."""

    slot_id: int = 0
    market_price: float = 0.0
    now: float = 0.0
    orders: tuple[OrderState, ...] = ()
    recovery_orders: tuple[RecoveryOrder, ...] = ()
    pending_cancels: tuple[PendingCancel, ...] = ()
    completed_cycles: tuple[CycleRecord, ...] = ()  # recent window; totals below stay exact
    cycle_a: int = 1
    cycle_b: int = 1
    next_order_id: int = 1
    next_recovery_id: int = 1
    total_profit: float = 0.0
    total_fees: float = 0.0
    total_round_trips: int = 0
    today_realized_loss: float = 0.0
    loss_day: int = 0  # UTC day number (now // 86400) that today_realized_loss belongs to
    s2_entered_at: float | None = None
    last_price_update_at: float | None = None
    consecutive_losses_a: int = 0
    consecutive_losses_b: int = 0
    cooldown_until_a: float = 0.0
    cooldown_until_b: float = 0.0
    # The reducer owes this trade an entry and places it once cooldowns and fallback mode allow.
    entry_pending_a: bool = False
    entry_pending_b: bool = False
    long_only: bool = False
    short_only: bool = False
    mode_source: ModeSource = "none"
    # Anti-chase entry refresh tracking (STATE_MACHINE.md §7.1).
    consecutive_refreshes_a: int = 0
    consecutive_refreshes_b: int = 0
    last_refresh_direction_a: str | None = None
    last_refresh_direction_b: str | None = None
    refresh_cooldown_until_a: float = 0.0
    refresh_cooldown_until_b: float = 0.0
    # Events `transition` refused as malformed (non-finite numbers, negative fees): not applied.
    rejected_events: int = 0


# --------------------------------------------------------------------------- events


class SlotEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of the reducer's input events."""


class PriceTick(SlotEvent, tag="price_tick"):
    price: float
    timestamp: float


class TimerTick(SlotEvent, tag="timer_tick"):
    timestamp: float


class FillEvent(SlotEvent, tag="fill"):
    """An order completely filled; partial executions aggregated (price = VWAP, fee = sum)."""

    order_local_id: int
    txid: str
    side: Side
    price: float
    volume: float
    fee: float
    timestamp: float


class RecoveryFillEvent(SlotEvent, tag="recovery_fill"):
    recovery_id: int
    txid: str
    side: Side
    price: float
    volume: float
    fee: float
    timestamp: float


class RecoveryCancelEvent(SlotEvent, tag="recovery_cancel"):
    """A recovery order was cancelled; `executed_volume` > 0 when it had partially filled first."""

    recovery_id: int
    txid: str
    timestamp: float
    executed_volume: float = 0.0
    executed_price: float = 0.0
    fee: float = 0.0


class OrderCanceledEvent(SlotEvent, tag="order_canceled"):
    """The exchange confirmed that an entry or exit is gone without a complete fill.

    Sent for every cancel the reducer requested (stale refresh, release) and for cancels it did
    not (operator, exchange). `executed_volume` > 0 means the order partially filled first: the
    reducer hands that volume to an exit (entries) or books it (exits), exactly once. This is the
    fix of CAPACITY_TELEMETRY_SPEC.md's deferred cancel-after-partial issue. The original order's
    side/role/trade/cycle/price travel along for the journal; the reducer trusts its own record.
    """

    order_local_id: int
    txid: str
    timestamp: float
    executed_volume: float = 0.0
    avg_price: float = 0.0
    fee: float = 0.0
    side: Side | None = None
    role: Role | None = None
    trade_id: TradeId | None = None
    cycle: int = 0
    price: float = 0.0


Event = PriceTick | TimerTick | FillEvent | RecoveryFillEvent | RecoveryCancelEvent | OrderCanceledEvent


# --------------------------------------------------------------------------- actions


class SlotAction(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of the reducer's output actions; the runtime carries them out."""


class PlaceOrderAction(SlotAction, tag="place_order"):
    """Place a post-only limit order. `recovery_id` set: the order belongs to that recovery."""

    local_id: int
    side: Side
    role: Role
    price: float
    volume: float
    trade_id: TradeId
    cycle: int
    reason: str = ""
    recovery_id: int | None = None
    post_only: bool = True


class CancelOrderAction(SlotAction, tag="cancel_order"):
    """Cancel an exchange order (by txid, or by the local id's client order id when txid is '')."""

    local_id: int
    txid: str
    reason: str = ""
    recovery_id: int | None = None


class OrphanOrderAction(SlotAction, tag="orphan_order"):
    """The exit `local_id` now belongs to recovery `recovery_id`; its exchange order stays live."""

    local_id: int
    recovery_id: int
    reason: str


class BookCycleAction(SlotAction, tag="book_cycle"):
    """A cycle was booked into the slot's totals; journal/persist `record`."""

    record: CycleRecord


Action = PlaceOrderAction | CancelOrderAction | OrphanOrderAction | BookCycleAction


# --------------------------------------------------------------------------- derived facts


def derive_phase(state: PairState) -> PairPhase:
    """S2: both exits; S1a: A in position (buy exit); S1b: B in position (sell exit); else S0."""
    has_buy_exit = any(o.role == "exit" and o.side == "buy" for o in state.orders)
    has_sell_exit = any(o.role == "exit" and o.side == "sell" for o in state.orders)
    if has_buy_exit and has_sell_exit:
        return "S2"
    if has_buy_exit:
        return "S1a"
    if has_sell_exit:
        return "S1b"
    return "S0"


def trade_orders(state: PairState, trade_id: str) -> list[OrderState]:
    return [o for o in state.orders if o.trade_id == trade_id]


def find_order(state: PairState, local_id: int) -> OrderState | None:
    return next((o for o in state.orders if o.local_id == local_id), None)


def find_recovery(state: PairState, recovery_id: int) -> RecoveryOrder | None:
    return next((r for r in state.recovery_orders if r.recovery_id == recovery_id), None)


def trade_disabled(state: PairState, trade_id: str) -> bool:
    """Fallback mode switches a trade's entry flow off (long_only: no A; short_only: no B)."""
    return state.long_only if trade_id == "A" else state.short_only


def entry_pending(state: PairState, trade_id: str) -> bool:
    return state.entry_pending_a if trade_id == "A" else state.entry_pending_b


def cooldown_until(state: PairState, trade_id: str) -> float:
    return state.cooldown_until_a if trade_id == "A" else state.cooldown_until_b
