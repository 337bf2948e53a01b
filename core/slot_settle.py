"""Settling what the exchange reports beyond plain fills of active orders.

* Complete executions of active orders: an entry opens the position and places its exit, an
  exit closes the cycle (also when a cancel report shows the whole order executed).
* Recovery fills and cancels (STATE_MACHINE.md §7.4-§7.5), with a cancel after a partial fill
  booking the executed part.
* Cancels of active entries/exits, with or without a partial fill (CAPACITY_TELEMETRY_SPEC.md's
  deferred issue): executed entry volume goes to a recovery-tracked exit, executed exit volume is
  booked and the rest of the position gets its exit back.
* Late reports for orders the reducer had already cancelled (refresh, release, eviction),
  matched against their `PendingCancel` marker so each one counts exactly once.
"""

from __future__ import annotations

from msgspec.structs import replace

from core import pricing
from core.engine_config import EngineConfig
from core.slot_accounting import book_cycle, book_entry_fee, update_loss_counters
from core.slot_ops import (
    Result,
    book_adjustment,
    close_trade,
    new_exit,
    place_recovery_exit,
    pop_pending,
    reissue_exit,
    reset_refresh,
    set_pending,
    without_order,
)
from core.slot_types import (
    OrderCanceledEvent,
    OrderState,
    PairState,
    PendingCancel,
    RecoveryOrder,
    find_order,
    find_recovery,
)

# Below this a "remaining" volume is float noise, not a position.
VOLUME_EPS = 1e-9


def open_position(
    st: PairState, cfg: EngineConfig, order: OrderState, price: float, volume: float, fee: float
) -> Result:
    """An entry executed in full: its exit covers exactly the filled volume, priced from the fill."""
    st = book_entry_fee(st, fee)
    st = reset_refresh(st, order.trade_id)  # a fill ends any chase
    exit_side = pricing.exit_side_of(order.side)
    return new_exit(
        st,
        cfg,
        trade_id=order.trade_id,
        cycle=order.cycle,
        price=pricing.exit_price(price, st.market_price, exit_side, cfg),
        volume=volume,
        entry_price=price,
        entry_fee=fee,
        entry_filled_at=st.now,
        reason="entry_fill_exit",
    )


def close_position(
    st: PairState,
    cfg: EngineConfig,
    order: OrderState,
    price: float,
    volume: float,
    entry_fee: float,
    fee: float,
) -> Result:
    """An exit executed in full: book the cycle, update the losing streak, start the next cycle."""
    st, booked = book_cycle(
        st,
        cfg,
        trade_id=order.trade_id,
        cycle=order.cycle,
        entry_price=order.entry_price,
        exit_price=price,
        volume=volume,
        entry_fee=entry_fee,
        exit_fee=fee,
        entry_time=order.entry_filled_at,
        from_recovery=False,
        close_reason="filled",
    )
    st = update_loss_counters(st, order.trade_id, booked.record.net_profit, cfg)
    return close_trade(st, cfg, order.trade_id, order.cycle), [booked]


def late_execution(
    st: PairState,
    cfg: EngineConfig,
    marker: PendingCancel,
    volume: float,
    price: float,
    fee: float,
    reason: str,
) -> Result:
    """An order the reducer had cancelled executed (fully or partly) before the cancel landed."""
    if volume <= 0:
        return st, []
    price = price if price > 0 else marker.price
    if marker.kind == "entry":
        st = book_entry_fee(st, fee)
        return place_recovery_exit(
            st,
            cfg,
            trade_id=marker.trade_id,
            cycle=marker.cycle,
            volume=volume,
            entry_price=price,
            entry_fee=fee,
            reason=reason,
        )
    return book_adjustment(st, cfg, marker, volume, price, fee)


def _book_recovery(
    st: PairState, cfg: EngineConfig, rec: RecoveryOrder, price: float, volume: float, fee: float, reason: str
) -> Result:
    # A complete fill carries the whole entry fee; a partial one its share.
    share = 1.0 if reason == "recovery_fill" else min(1.0, volume / rec.volume)
    st = replace(st, recovery_orders=tuple(r for r in st.recovery_orders if r.recovery_id != rec.recovery_id))
    st, booked = book_cycle(
        st,
        cfg,
        trade_id=rec.trade_id,
        cycle=rec.cycle,
        entry_price=rec.entry_price,
        exit_price=price if price > 0 else rec.price,
        volume=volume,
        entry_fee=rec.entry_fee * share,
        exit_fee=fee,
        entry_time=rec.entry_filled_at,
        from_recovery=True,
        close_reason=reason,
        recovery_id=rec.recovery_id,
    )
    if reason == "recovery_fill":
        st = update_loss_counters(st, rec.trade_id, booked.record.net_profit, cfg)
    return st, [booked]


def on_recovery_fill(
    st: PairState, recovery_id: int, price: float, volume: float, fee: float, cfg: EngineConfig
) -> Result:
    """§7.4: the recovery leaves, its cycle is booked `from_recovery`, the losing streak updates."""
    if volume <= 0:
        return st, []
    rec = find_recovery(st, recovery_id)
    if rec is not None:
        return _book_recovery(st, cfg, rec, price, volume, fee, "recovery_fill")
    st, marker = pop_pending(st, recovery_id=recovery_id)
    if marker is None:
        return st, []  # unknown or already applied: exactly-once
    return late_execution(st, cfg, marker, volume, price, fee, "late_recovery_fill")


def on_recovery_cancel(
    st: PairState, recovery_id: int, executed: float, price: float, fee: float, cfg: EngineConfig
) -> Result:
    """§7.5: the recovery leaves; only what it executed before the cancel is booked."""
    rec = find_recovery(st, recovery_id)
    if rec is None:
        st, marker = pop_pending(st, recovery_id=recovery_id)
        if marker is None:
            return st, []
        return late_execution(st, cfg, marker, executed, price, fee, "late_recovery_fill")
    if executed <= 0:
        return replace(st, recovery_orders=tuple(r for r in st.recovery_orders if r is not rec)), []
    return _book_recovery(st, cfg, rec, price, min(executed, rec.volume), fee, "recovery_partial_cancel")


def on_order_canceled(st: PairState, event: OrderCanceledEvent, cfg: EngineConfig) -> Result:
    """An entry or exit is gone without a complete fill (requested by us or not)."""
    executed = max(0.0, event.executed_volume)
    order = find_order(st, event.order_local_id)
    if order is None:
        rec = next((r for r in st.recovery_orders if r.local_id == event.order_local_id), None)
        if rec is not None:
            return on_recovery_cancel(st, rec.recovery_id, executed, event.avg_price, event.fee, cfg)
        st, marker = pop_pending(st, local_id=event.order_local_id)
        if marker is None:
            return st, []
        return late_execution(st, cfg, marker, executed, event.avg_price, event.fee, "partial_entry_cancel")
    st = without_order(st, order.local_id)
    price = event.avg_price if event.avg_price > 0 else order.price
    executed = min(executed, order.volume)
    if order.role == "exit":
        return _exit_canceled(st, cfg, order, executed, price, event.fee)
    if order.volume - executed <= VOLUME_EPS:
        return open_position(st, cfg, order, price, executed, event.fee)  # it filled after all
    # The trade lost its entry outside our control: owe it a new one, and hand any executed
    # volume to a recovery exit so it is not stranded.
    st = set_pending(st, order.trade_id, True)
    if executed <= 0:
        return st, []
    st = book_entry_fee(st, event.fee)
    return place_recovery_exit(
        st,
        cfg,
        trade_id=order.trade_id,
        cycle=order.cycle,
        volume=executed,
        entry_price=price,
        entry_fee=event.fee,
        reason="partial_entry_cancel",
    )


def _exit_canceled(
    st: PairState, cfg: EngineConfig, order: OrderState, executed: float, price: float, fee: float
) -> Result:
    """Book the executed part of a cancelled exit; the rest of the position gets its exit back."""
    remaining = order.volume - executed
    if executed > 0 and remaining <= VOLUME_EPS:
        return close_position(st, cfg, order, price, executed, order.entry_fee, fee)
    if executed <= 0:
        return reissue_exit(st, cfg, order, order.volume, order.entry_fee, reason="exit_reissue")
    share = order.entry_fee * executed / order.volume
    st, booked = book_cycle(
        st,
        cfg,
        trade_id=order.trade_id,
        cycle=order.cycle,
        entry_price=order.entry_price,
        exit_price=price,
        volume=executed,
        entry_fee=share,
        exit_fee=fee,
        entry_time=order.entry_filled_at,
        from_recovery=False,
        close_reason="partial_cancel",
    )
    st, reissued = reissue_exit(st, cfg, order, remaining, order.entry_fee - share, reason="exit_reissue")
    return st, [booked, *reissued]
