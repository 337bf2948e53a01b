"""Recoveries: orphaned or re-placed exits tracked outside the S0/S1/S2 structure.

Orphaning an exit, the per-slot cap with eviction of the oldest, booking a recovery's cycle and
placing a recovery's exit order. Split from `core/slot_ops.py`, whose order helpers it uses.
"""

from __future__ import annotations

from msgspec.structs import replace

from core import pricing
from core.engine_config import EngineConfig
from core.slot_accounting import book_cycle
from core.slot_ops import (
    Result,
    alloc_order_id,
    close_trade,
    dust_writeoff,
    mark_price,
    without_order,
)
from core.slot_types import (
    EXIT_SIDE,
    Action,
    BookCycleAction,
    CancelOrderAction,
    OrderState,
    OrphanOrderAction,
    PairState,
    PendingCancel,
    PlaceOrderAction,
    RecoveryOrder,
    TradeId,
)


def place_recovery_action(rec: RecoveryOrder, reason: str) -> PlaceOrderAction:
    """The exchange placement of recovery `rec`'s exit order."""
    return PlaceOrderAction(
        local_id=rec.local_id,
        side=rec.side,
        role="exit",
        price=rec.price,
        volume=rec.volume,
        trade_id=rec.trade_id,
        cycle=rec.cycle,
        reason=reason,
        recovery_id=rec.recovery_id,
    )




def drop_recovery(state: PairState, rec: RecoveryOrder) -> PairState:
    """The slot without recovery `rec` (matched by recovery id)."""
    rest = tuple(r for r in state.recovery_orders if r.recovery_id != rec.recovery_id)
    return replace(state, recovery_orders=rest)


def book_recovery_cycle(
    state: PairState,
    cfg: EngineConfig,
    rec: RecoveryOrder,
    *,
    exit_price: float,
    volume: float,
    entry_fee: float,
    exit_fee: float,
    close_reason: str,
    round_trip: bool = True,
) -> tuple[PairState, BookCycleAction]:
    """Book (part of) recovery `rec`'s position as closed at `exit_price`."""
    return book_cycle(
        state,
        cfg,
        trade_id=rec.trade_id,
        cycle=rec.cycle,
        entry_price=rec.entry_price,
        exit_price=exit_price,
        volume=volume,
        entry_fee=entry_fee,
        exit_fee=exit_fee,
        entry_time=rec.entry_filled_at,
        from_recovery=True,
        close_reason=close_reason,
        recovery_id=rec.recovery_id,
        round_trip=round_trip,
    )


def evict_recovery(state: PairState, cfg: EngineConfig, rec: RecoveryOrder) -> Result:
    """Drop a recovery at the cap: book its result at the market now, cancel its exchange order.

    The marker books any execution reported before the cancel landed as an adjustment.
    """
    price = mark_price(state, rec.entry_price)
    state = drop_recovery(state, rec)
    state, booked = book_recovery_cycle(
        state,
        cfg,
        rec,
        exit_price=price,
        volume=rec.volume,
        entry_fee=rec.entry_fee,
        exit_fee=0.0,
        close_reason="evicted",
    )
    marker = PendingCancel(
        local_id=rec.local_id,
        kind="recovery",
        side=rec.side,
        trade_id=rec.trade_id,
        cycle=rec.cycle,
        price=rec.price,
        volume=rec.volume,
        recovery_id=rec.recovery_id,
        txid=rec.txid,
        entry_price=rec.entry_price,
        booked_price=price,
        requested_at=state.now,
        reason="recovery_evicted",
        placed_at=rec.orphaned_at,
    )
    state = replace(state, pending_cancels=(*state.pending_cancels, marker))
    cancel = CancelOrderAction(
        local_id=rec.local_id, txid=rec.txid, reason="recovery_evicted", recovery_id=rec.recovery_id
    )
    return state, [booked, cancel]


def enforce_recovery_cap(state: PairState, cfg: EngineConfig, room: int = 0) -> Result:
    """Evict the oldest recoveries until at most `recovery_cap - room` remain.

    `transition` runs it on every event (room 0), so a cap lowered by configuration (restart or
    live reconfigure) is enforced instead of failing the invariant and halting the slot.
    """
    actions: list[Action] = []
    while state.recovery_orders and len(state.recovery_orders) > cfg.recovery_cap - room:
        oldest = min(state.recovery_orders, key=lambda r: (r.orphaned_at, r.recovery_id))
        state, evicted = evict_recovery(state, cfg, oldest)
        actions.extend(evicted)
    return state, actions


def add_recovery(state: PairState, cfg: EngineConfig, rec: RecoveryOrder) -> Result:
    """Append a recovery, first evicting the oldest ones so the slot stays within the cap."""
    state, actions = enforce_recovery_cap(state, cfg, room=1)
    return replace(state, recovery_orders=(*state.recovery_orders, rec)), actions


def orphan_exit(state: PairState, cfg: EngineConfig, order: OrderState, reason: str) -> Result:
    """Turn an active exit into a recovery (its exchange order stays live); the trade moves on."""
    rec = RecoveryOrder(
        recovery_id=state.next_recovery_id,
        local_id=order.local_id,
        side=order.side,
        price=order.price,
        volume=order.volume,
        trade_id=order.trade_id,
        cycle=order.cycle,
        entry_price=order.entry_price,
        entry_fee=order.entry_fee,
        entry_filled_at=order.entry_filled_at,
        orphaned_at=state.now,
        txid=order.txid,
        reason=reason,
    )
    state = replace(without_order(state, order.local_id), next_recovery_id=rec.recovery_id + 1)
    actions: list[Action] = [
        OrphanOrderAction(local_id=order.local_id, recovery_id=rec.recovery_id, reason=reason)
    ]
    state, evicted = add_recovery(state, cfg, rec)
    actions.extend(evicted)
    return close_trade(state, cfg, order.trade_id, order.cycle), actions


def place_recovery_exit(
    state: PairState,
    cfg: EngineConfig,
    *,
    trade_id: TradeId,
    cycle: int,
    volume: float,
    entry_price: float,
    entry_fee: float,
    reason: str,
) -> Result:
    """An exit for a stray entry execution, tracked as a recovery so the A/B structure is untouched."""
    side = EXIT_SIDE[trade_id]
    price = pricing.exit_price(entry_price, state.market_price, side, cfg)
    if not cfg.rules.meets_minimums(volume, price):
        return dust_writeoff(
            state,
            cfg,
            trade_id=trade_id,
            cycle=cycle,
            volume=volume,
            entry_price=entry_price,
            entry_fee=entry_fee,
            entry_time=state.now,
            from_recovery=True,
        )
    state, local_id = alloc_order_id(state)
    rec = RecoveryOrder(
        recovery_id=state.next_recovery_id,
        local_id=local_id,
        side=side,
        price=price,
        volume=volume,
        trade_id=trade_id,
        cycle=cycle,
        entry_price=entry_price,
        entry_fee=entry_fee,
        entry_filled_at=state.now,
        orphaned_at=state.now,
        reason=reason,
    )
    state = replace(state, next_recovery_id=rec.recovery_id + 1)
    state, actions = add_recovery(state, cfg, rec)
    return state, [*actions, place_recovery_action(rec, reason)]
