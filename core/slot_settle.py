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
from core.slot_accounting import book_entry_fee, update_loss_counters
from core.slot_ops import (
    Result,
    alloc_order_id,
    book_adjustment,
    book_exit_cycle,
    close_trade,
    dust_writeoff,
    new_exit,
    pop_pending,
    reissue_exit,
    reset_refresh,
    set_pending,
    without_order,
)
from core.slot_recovery import book_recovery_cycle, drop_recovery, place_recovery_action, place_recovery_exit
from core.slot_types import (
    Action,
    BookCycleAction,
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
    """An entry executed in full: its exit covers exactly the filled volume, priced from the fill.

    A volume too small for any exit order (only a short report can give one) is written off.
    """
    st = book_entry_fee(st, fee)
    st = reset_refresh(st, order.trade_id)  # a fill ends any chase
    exit_price = pricing.exit_price(price, st.market_price, pricing.exit_side_of(order.side), cfg)
    if not cfg.rules.meets_minimums(volume, exit_price):
        st, booked = dust_writeoff(
            st,
            cfg,
            trade_id=order.trade_id,
            cycle=order.cycle,
            volume=volume,
            entry_price=price,
            entry_fee=fee,
            entry_time=st.now,
            from_recovery=False,
        )
        return close_trade(st, cfg, order.trade_id, order.cycle), booked
    return new_exit(
        st,
        cfg,
        trade_id=order.trade_id,
        cycle=order.cycle,
        price=exit_price,
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
    st, booked = book_exit_cycle(
        st, cfg, order, exit_price=price, volume=volume, entry_fee=entry_fee, exit_fee=fee,
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
    volume = min(volume, marker.volume)  # an order cannot execute more than its volume
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
    st: PairState,
    cfg: EngineConfig,
    rec: RecoveryOrder,
    *,
    price: float,
    volume: float,
    entry_fee: float,
    exit_fee: float,
    reason: str,
    round_trip: bool = True,
) -> tuple[PairState, BookCycleAction]:
    st, booked = book_recovery_cycle(
        st,
        cfg,
        rec,
        exit_price=price,
        volume=volume,
        entry_fee=entry_fee,
        exit_fee=exit_fee,
        close_reason=reason,
        round_trip=round_trip,
    )
    if reason == "recovery_fill":
        st = update_loss_counters(st, rec.trade_id, booked.record.net_profit, cfg)
    return st, booked


def reissue_recovery(st: PairState, cfg: EngineConfig, rec: RecoveryOrder, price: float) -> Result:
    """Put recovery `rec` (its position as given) back on the book under a new local id.

    Any recovery with the same id is replaced. Below the exchange minimums it is written off.
    """
    st = drop_recovery(st, rec)
    price = pricing.maker_guard(price, st.market_price, rec.side, cfg)
    if not cfg.rules.meets_minimums(rec.volume, price):
        return dust_writeoff(
            st,
            cfg,
            trade_id=rec.trade_id,
            cycle=rec.cycle,
            volume=rec.volume,
            entry_price=rec.entry_price,
            entry_fee=rec.entry_fee,
            entry_time=rec.entry_filled_at,
            from_recovery=True,
            recovery_id=rec.recovery_id,
        )
    st, new_id = alloc_order_id(st)
    fresh = replace(rec, local_id=new_id, price=price, txid="")
    place = place_recovery_action(fresh, "recovery_reissue")
    return replace(st, recovery_orders=(*st.recovery_orders, fresh)), [place]


def on_recovery_fill(
    st: PairState, recovery_id: int, price: float, volume: float, fee: float, cfg: EngineConfig
) -> Result:
    """§7.4: the recovery leaves, its cycle is booked `from_recovery`, the losing streak updates.

    A report short of the recovery's volume (the order closed early) books what executed with its
    share of the entry fee and re-issues the rest, so no position loses its exit.
    """
    if volume <= 0:
        return st, []
    rec = find_recovery(st, recovery_id)
    if rec is None:
        st, marker = pop_pending(st, recovery_id=recovery_id)
        if marker is None:
            return st, []  # unknown or already applied: exactly-once
        return late_execution(st, cfg, marker, volume, price, fee, "late_recovery_fill")
    price = price if price > 0 else rec.price
    volume = min(volume, rec.volume)
    st = drop_recovery(st, rec)
    if rec.volume - volume <= VOLUME_EPS:
        st, booked = _book_recovery(
            st, cfg, rec, price=price, volume=rec.volume, entry_fee=rec.entry_fee, exit_fee=fee,
            reason="recovery_fill",
        )
        return st, [booked]
    share = rec.entry_fee * volume / rec.volume
    st, booked = _book_recovery(
        st, cfg, rec, price=price, volume=volume, entry_fee=share, exit_fee=fee,
        reason="recovery_partial_cancel",
    )
    rest = replace(rec, volume=rec.volume - volume, entry_fee=rec.entry_fee - share)
    st, reissued = reissue_recovery(st, cfg, rest, rec.price)
    return st, [booked, *reissued]


def on_recovery_cancel(
    st: PairState, recovery_id: int, executed: float, price: float, fee: float, cfg: EngineConfig
) -> Result:
    """§7.5: the recovery leaves; what it executed before the cancel is booked once.

    The unexecuted rest is no longer the bot's position and is not booked as a trade, but the
    entry fee it carried was paid: it is booked as a fee-only record (`recovery_cancel`, gross 0,
    not a round trip), so total_profit never overstates what was realized.
    """
    rec = find_recovery(st, recovery_id)
    if rec is None:
        st, marker = pop_pending(st, recovery_id=recovery_id)
        if marker is None:
            return st, []
        return late_execution(st, cfg, marker, executed, price, fee, "late_recovery_fill")
    executed = min(max(0.0, executed), rec.volume)
    st = drop_recovery(st, rec)
    actions: list[Action] = []
    share = 0.0
    if executed > 0:
        share = rec.entry_fee * executed / rec.volume
        st, booked = _book_recovery(
            st,
            cfg,
            rec,
            price=price if price > 0 else rec.price,
            volume=executed,
            entry_fee=share,
            exit_fee=fee,
            reason="recovery_partial_cancel",
        )
        actions.append(booked)
    rest = rec.volume - executed
    if rest > VOLUME_EPS:
        st, sunk = _book_recovery(
            st,
            cfg,
            rec,
            price=rec.entry_price,
            volume=rest,
            entry_fee=rec.entry_fee - share,
            exit_fee=0.0,
            reason="recovery_cancel",
            round_trip=False,
        )
        actions.append(sunk)
    return st, actions


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
        return exit_closed_short(st, cfg, order, executed, price, event.fee)
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


def exit_closed_short(
    st: PairState, cfg: EngineConfig, order: OrderState, executed: float, price: float, fee: float
) -> Result:
    """An exit left the book having executed `executed` of its volume (cancel, or a short fill
    report): book the executed part; the rest of the position gets its exit back."""
    remaining = order.volume - executed
    if executed > 0 and remaining <= VOLUME_EPS:
        return close_position(st, cfg, order, price, executed, order.entry_fee, fee)
    if executed <= 0:
        return reissue_exit(st, cfg, order, order.volume, order.entry_fee, reason="exit_reissue")
    share = order.entry_fee * executed / order.volume
    st, booked = book_exit_cycle(
        st, cfg, order, exit_price=price, volume=executed, entry_fee=share, exit_fee=fee,
        close_reason="partial_cancel",
    )
    st, reissued = reissue_exit(st, cfg, order, remaining, order.entry_fee - share, reason="exit_reissue")
    return st, [booked, *reissued]
