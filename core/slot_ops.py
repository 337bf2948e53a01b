"""Building blocks of the slot reducer: pure state operations shared by `transition` and helpers.

Each function takes a state and returns the next state plus the actions it implies; none of
them reads a clock or touches anything outside its arguments.
"""

from __future__ import annotations

from msgspec.structs import replace

from core import pricing
from core.engine_config import EngineConfig
from core.sizing import OrderSize, entry_volume
from core.slot_accounting import advance_cycle, apply_base_cooldown, book_cycle
from core.slot_types import (
    ENTRY_SIDE,
    EXIT_SIDE,
    TRADES,
    Action,
    BookCycleAction,
    CancelOrderAction,
    OrderState,
    PairState,
    PendingCancel,
    PendingKind,
    PlaceOrderAction,
    TradeId,
    cooldown_until,
    derive_phase,
    entry_pending,
    trade_disabled,
    trade_orders,
)

Result = tuple[PairState, list[Action]]


def alloc_order_id(state: PairState) -> tuple[PairState, int]:
    return replace(state, next_order_id=state.next_order_id + 1), state.next_order_id


def set_pending(state: PairState, trade_id: str, value: bool) -> PairState:
    if entry_pending(state, trade_id) == value:
        return state
    if trade_id == "A":
        return replace(state, entry_pending_a=value)
    return replace(state, entry_pending_b=value)


def without_order(state: PairState, local_id: int) -> PairState:
    return replace(state, orders=tuple(o for o in state.orders if o.local_id != local_id))


def reset_refresh(state: PairState, trade_id: str) -> PairState:
    """Forget a trade's anti-chase history (its entry filled: there is nothing left to chase)."""
    if trade_id == "A":
        return replace(
            state, consecutive_refreshes_a=0, last_refresh_direction_a=None, refresh_cooldown_until_a=0.0
        )
    return replace(
        state, consecutive_refreshes_b=0, last_refresh_direction_b=None, refresh_cooldown_until_b=0.0
    )


def mark_price(state: PairState, fallback: float) -> float:
    """Price a position is written off at: the market, or `fallback` while the market is unknown."""
    return state.market_price if state.market_price > 0 else fallback


def place_order_action(order: OrderState) -> PlaceOrderAction:
    """The exchange placement of an active entry or exit, exactly as the slot records it."""
    return PlaceOrderAction(
        local_id=order.local_id,
        side=order.side,
        role=order.role,
        price=order.price,
        volume=order.volume,
        trade_id=order.trade_id,
        cycle=order.cycle,
        reason=order.reason,
    )


# --------------------------------------------------------------------------- entries


def new_entry(state: PairState, cfg: EngineConfig, trade_id: TradeId, size: OrderSize, reason: str) -> Result:
    """Place trade `trade_id`'s entry at the market distance; nothing when it cannot be sized."""
    side = ENTRY_SIDE[trade_id]
    price = pricing.entry_price(state.market_price, side, cfg)
    if price <= 0:
        return state, []
    sized = entry_volume(size, trade_id, price, cfg)
    if sized.volume is None:
        return state, []
    state, local_id = alloc_order_id(state)
    cycle = state.cycle_a if trade_id == "A" else state.cycle_b
    order = OrderState(
        local_id=local_id,
        side=side,
        role="entry",
        price=price,
        volume=sized.volume,
        trade_id=trade_id,
        cycle=cycle,
        placed_at=state.now,
        placed_market=state.market_price,
        reason=reason,
    )
    state = set_pending(replace(state, orders=(*state.orders, order)), trade_id, False)
    return state, [place_order_action(order)]


def rearm_pending(state: PairState, cfg: EngineConfig, size: OrderSize) -> Result:
    """Place every owed entry whose cooldown has lapsed and whose trade is not switched off.

    An entry that cannot be sized (below exchange minimums) stays owed: the slot waits (§8).
    """
    actions: list[Action] = []
    for trade_id in TRADES:
        if not entry_pending(state, trade_id):
            continue
        if trade_orders(state, trade_id):
            state = set_pending(state, trade_id, False)
            continue
        if trade_disabled(state, trade_id) or state.now < cooldown_until(state, trade_id):
            continue
        state, placed = new_entry(state, cfg, trade_id, size, reason="reentry")
        actions.extend(placed)
    return state, actions


def close_trade(state: PairState, cfg: EngineConfig, trade_id: TradeId, closed_cycle: int) -> PairState:
    """A trade's position is gone (cycle close, orphan, release): next cycle, cooldown, owe an entry."""
    state = advance_cycle(state, trade_id, closed_cycle)
    state = apply_base_cooldown(state, trade_id, cfg)
    return set_pending(state, trade_id, True)


def request_cancel(
    state: PairState,
    order: OrderState,
    *,
    kind: PendingKind,
    reason: str,
    entry_price: float = 0.0,
    booked_price: float = 0.0,
) -> tuple[PairState, CancelOrderAction]:
    """Cancel active `order` on the exchange, remembering it until the exchange confirms the outcome.

    An exit whose position was already booked passes its `entry_price` and the `booked_price`, so a
    late execution is booked as an adjustment against it.
    """
    marker = PendingCancel(
        local_id=order.local_id,
        kind=kind,
        side=order.side,
        trade_id=order.trade_id,
        cycle=order.cycle,
        price=order.price,
        volume=order.volume,
        txid=order.txid,
        entry_price=entry_price,
        booked_price=booked_price,
        requested_at=state.now,
        reason=reason,
        placed_at=order.placed_at,
    )
    state = replace(state, pending_cancels=(*state.pending_cancels, marker))
    return state, CancelOrderAction(local_id=order.local_id, txid=order.txid, reason=reason)


def cancel_entry(state: PairState, order: OrderState, reason: str) -> Result:
    """Take an entry off the book, remembering it until the exchange confirms the outcome."""
    state, cancel = request_cancel(without_order(state, order.local_id), order, kind="entry", reason=reason)
    return state, [cancel]


# --------------------------------------------------------------------------- exits


def book_exit_cycle(
    state: PairState,
    cfg: EngineConfig,
    order: OrderState,
    *,
    exit_price: float,
    volume: float,
    entry_fee: float,
    exit_fee: float,
    close_reason: str,
) -> tuple[PairState, BookCycleAction]:
    """Book (part of) active exit `order`'s position as closed at `exit_price`."""
    return book_cycle(
        state,
        cfg,
        trade_id=order.trade_id,
        cycle=order.cycle,
        entry_price=order.entry_price,
        exit_price=exit_price,
        volume=volume,
        entry_fee=entry_fee,
        exit_fee=exit_fee,
        entry_time=order.entry_filled_at,
        from_recovery=False,
        close_reason=close_reason,
    )


def new_exit(
    state: PairState,
    cfg: EngineConfig,
    *,
    trade_id: TradeId,
    cycle: int,
    price: float,
    volume: float,
    entry_price: float,
    entry_fee: float,
    entry_filled_at: float,
    reason: str,
) -> Result:
    state, local_id = alloc_order_id(state)
    side = EXIT_SIDE[trade_id]
    order = OrderState(
        local_id=local_id,
        side=side,
        role="exit",
        price=price,
        volume=volume,
        trade_id=trade_id,
        cycle=cycle,
        placed_at=state.now,
        placed_market=state.market_price if state.market_price > 0 else entry_price,
        entry_price=entry_price,
        entry_fee=entry_fee,
        entry_filled_at=entry_filled_at,
        reason=reason,
    )
    return replace(state, orders=(*state.orders, order)), [place_order_action(order)]


def dust_writeoff(
    state: PairState,
    cfg: EngineConfig,
    *,
    trade_id: TradeId,
    cycle: int,
    volume: float,
    entry_price: float,
    entry_fee: float,
    entry_time: float,
    from_recovery: bool,
    recovery_id: int = 0,
) -> Result:
    """Volume too small for any exchange order is closed on the books at the market price."""
    state, booked = book_cycle(
        state,
        cfg,
        trade_id=trade_id,
        cycle=cycle,
        entry_price=entry_price,
        exit_price=mark_price(state, entry_price),
        volume=volume,
        entry_fee=entry_fee,
        exit_fee=0.0,
        entry_time=entry_time,
        from_recovery=from_recovery,
        close_reason="dust_writeoff",
        recovery_id=recovery_id,
    )
    return state, [booked]


def reissue_exit(
    state: PairState, cfg: EngineConfig, order: OrderState, volume: float, entry_fee: float, reason: str
) -> Result:
    """Put a position's exit back on the book (new local id, same target, post-only safe).

    When the volume left is below the exchange minimums the position is written off instead
    and the trade moves on to its next cycle.
    """
    state = without_order(state, order.local_id)
    price = pricing.maker_guard(order.price, state.market_price, order.side, cfg)
    if cfg.rules.meets_minimums(volume, price):
        return new_exit(
            state,
            cfg,
            trade_id=order.trade_id,
            cycle=order.cycle,
            price=price,
            volume=volume,
            entry_price=order.entry_price,
            entry_fee=entry_fee,
            entry_filled_at=order.entry_filled_at,
            reason=reason,
        )
    state, actions = dust_writeoff(
        state,
        cfg,
        trade_id=order.trade_id,
        cycle=order.cycle,
        volume=volume,
        entry_price=order.entry_price,
        entry_fee=entry_fee,
        entry_time=order.entry_filled_at,
        from_recovery=False,
    )
    return close_trade(state, cfg, order.trade_id, order.cycle), actions


# --------------------------------------------------------------------------- pending cancels


def pop_pending(
    state: PairState, *, local_id: int | None = None, recovery_id: int | None = None
) -> tuple[PairState, PendingCancel | None]:
    for marker in state.pending_cancels:
        if (local_id is not None and marker.local_id == local_id) or (
            recovery_id is not None and marker.recovery_id == recovery_id and marker.kind == "recovery"
        ):
            rest = tuple(m for m in state.pending_cancels if m is not marker)
            return replace(state, pending_cancels=rest), marker
    return state, None


def book_adjustment(
    state: PairState, cfg: EngineConfig, marker: PendingCancel, volume: float, price: float, fee: float
) -> Result:
    """A position booked at `marker.booked_price` actually executed `volume` at `price`: book the gap."""
    state, booked = book_cycle(
        state,
        cfg,
        trade_id=marker.trade_id,
        cycle=marker.cycle,
        entry_price=marker.booked_price,
        exit_price=price,
        volume=volume,
        entry_fee=0.0,
        exit_fee=fee,
        entry_time=marker.requested_at,
        from_recovery=marker.kind == "recovery",
        close_reason="adjustment",
        recovery_id=marker.recovery_id,
        round_trip=False,
    )
    return state, [booked]


# --------------------------------------------------------------------------- derived flags


def sync_s2_flag(state: PairState, cfg: EngineConfig) -> PairState:
    """`s2_entered_at` is set while in S2 (legacy mode only) and cleared everywhere else."""
    in_s2 = derive_phase(state) == "S2" and not cfg.sticky_mode_enabled
    if in_s2 and state.s2_entered_at is None:
        return replace(state, s2_entered_at=state.now)
    if not in_s2 and state.s2_entered_at is not None:
        return replace(state, s2_entered_at=None)
    return state
