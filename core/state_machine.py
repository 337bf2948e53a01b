"""The slot reducer: `transition(state, event, cfg, order_size_usd) -> (next_state, actions)`.

Pure: no I/O, no clock, no logging; the input is never mutated (everything is frozen) and the
same input always gives the same output. The runtime applies the actions and feeds the
exchange's answers back as events. Rules and formulas: docs/strategy.md; contract:
STATE_MACHINE.md §5-§10 (seed).

This module is the public face of the slot engine: it re-exports the data model, the helpers
the runtime calls and the invariant checker, so `from core import state_machine as sm` is enough.
"""

from __future__ import annotations

import math

from msgspec.structs import replace

from core import pricing
from core.engine_config import EngineConfig, engine_config_from
from core.sizing import OrderSize, TradeSizes, entry_volume
from core.slot_accounting import advance_clock
from core.slot_helpers import (
    bind_recovery_txid,
    bind_txid,
    bootstrap_orders,
    normalize_slot_mode,
    release_exit,
    remove_order,
    reprice_recovery,
    set_recovery_price,
)
from core.slot_invariants import check_invariants, is_bootstrap_pending_state, is_min_size_wait_state
from core.slot_ops import (
    Result,
    cancel_entry,
    new_entry,
    pop_pending,
    rearm_pending,
    sync_s2_flag,
    without_order,
)
from core.slot_recovery import enforce_recovery_cap, orphan_exit
from core.slot_settle import (
    VOLUME_EPS,
    close_position,
    exit_closed_short,
    late_execution,
    on_order_canceled,
    on_recovery_cancel,
    on_recovery_fill,
    open_position,
)
from core.slot_types import (
    Action,
    BookCycleAction,
    CancelOrderAction,
    CycleRecord,
    Event,
    FillEvent,
    OrderCanceledEvent,
    OrderState,
    OrphanOrderAction,
    PairPhase,
    PairState,
    PendingCancel,
    PlaceOrderAction,
    PriceTick,
    RecoveryCancelEvent,
    RecoveryFillEvent,
    RecoveryOrder,
    TimerTick,
    derive_phase,
    find_order,
)

__all__ = [
    "Action",
    "BookCycleAction",
    "CancelOrderAction",
    "CycleRecord",
    "EngineConfig",
    "Event",
    "FillEvent",
    "OrderCanceledEvent",
    "OrderSize",
    "OrderState",
    "OrphanOrderAction",
    "PairPhase",
    "PairState",
    "PendingCancel",
    "PlaceOrderAction",
    "PriceTick",
    "RecoveryCancelEvent",
    "RecoveryFillEvent",
    "RecoveryOrder",
    "TimerTick",
    "TradeSizes",
    "bind_recovery_txid",
    "bind_txid",
    "bootstrap_orders",
    "check_invariants",
    "derive_phase",
    "engine_config_from",
    "is_bootstrap_pending_state",
    "is_min_size_wait_state",
    "normalize_slot_mode",
    "release_exit",
    "remove_order",
    "reprice_recovery",
    "set_recovery_price",
    "transition",
]


def transition(
    state: PairState, event: Event, cfg: EngineConfig, order_size_usd: OrderSize
) -> tuple[PairState, list[Action]]:
    """Apply one event. `order_size_usd`: USD notional, or a `TradeSizes` (see core/sizing.py).

    A malformed event (see `_malformed`) is refused: nothing but `rejected_events` changes.
    """
    if _malformed(event):
        return replace(state, rejected_events=state.rejected_events + 1), []
    st = advance_clock(state, event.timestamp)
    if isinstance(event, PriceTick):
        st, actions = _on_price_tick(st, event, cfg, order_size_usd)
    elif isinstance(event, TimerTick):
        st, actions = _on_timer_tick(st, cfg)
    elif isinstance(event, FillEvent):
        st, actions = _on_fill(st, event, cfg)
    elif isinstance(event, RecoveryFillEvent):
        st, actions = on_recovery_fill(st, event.recovery_id, event.price, event.volume, event.fee, cfg)
    elif isinstance(event, RecoveryCancelEvent):
        st, actions = on_recovery_cancel(
            st, event.recovery_id, event.executed_volume, event.executed_price, event.fee, cfg
        )
    elif isinstance(event, OrderCanceledEvent):
        st, actions = on_order_canceled(st, event, cfg)
    else:
        raise TypeError(f"not a slot event: {type(event).__name__}")
    # A recovery cap lowered by configuration is enforced here rather than halting the slot.
    st, evicted = enforce_recovery_cap(st, cfg)
    # Owed entries are placed by whichever event first finds their cooldown lapsed.
    st, rearmed = rearm_pending(st, cfg, order_size_usd)
    return sync_s2_flag(st, cfg), actions + evicted + rearmed


def _malformed(event: Event) -> bool:
    """Numbers that would poison the books: NaN/inf anywhere, a negative fee, volume or price.

    A non-positive tick price is malformed too (the market is unknown, not zero); a fill or
    cancel price of 0 means "not reported" and falls back to the order's own price.
    """
    if isinstance(event, PriceTick):
        numbers: tuple[float, ...] = (event.price,)
        if not event.price > 0:
            return True
    elif isinstance(event, FillEvent | RecoveryFillEvent):
        numbers = (event.price, event.volume, event.fee)
    elif isinstance(event, RecoveryCancelEvent):
        numbers = (event.executed_volume, event.executed_price, event.fee)
    elif isinstance(event, OrderCanceledEvent):
        numbers = (event.executed_volume, event.avg_price, event.fee)
    else:
        numbers = ()
    timestamp = getattr(event, "timestamp", 0.0)  # a non-event is refused by `transition` itself
    return not math.isfinite(timestamp) or any(not math.isfinite(x) or x < 0 for x in numbers)


# --------------------------------------------------------------------------- price tick (§7.1)


def _on_price_tick(st: PairState, event: PriceTick, cfg: EngineConfig, size: OrderSize) -> Result:
    last = st.last_price_update_at
    st = replace(
        st,
        market_price=event.price,
        last_price_update_at=event.timestamp if last is None else max(last, event.timestamp),
    )
    return _refresh_stale_entries(st, cfg, size)


def _refresh_state(st: PairState, trade_id: str) -> tuple[int, str | None, float]:
    if trade_id == "A":
        return st.consecutive_refreshes_a, st.last_refresh_direction_a, st.refresh_cooldown_until_a
    return st.consecutive_refreshes_b, st.last_refresh_direction_b, st.refresh_cooldown_until_b


def _set_refresh(st: PairState, trade_id: str, count: int, direction: str | None, until: float) -> PairState:
    if trade_id == "A":
        return replace(
            st,
            consecutive_refreshes_a=count,
            last_refresh_direction_a=direction,
            refresh_cooldown_until_a=until,
        )
    return replace(
        st, consecutive_refreshes_b=count, last_refresh_direction_b=direction, refresh_cooldown_until_b=until
    )


def _refresh_stale_entries(st: PairState, cfg: EngineConfig, size: OrderSize) -> Result:
    """Re-place at most one entry per tick whose distance from the market exceeds refresh_pct.

    Anti-chase: refreshes of one trade in the same direction are counted; the refresh that would
    exceed max_consecutive_refreshes starts a refresh cooldown instead, and the count restarts
    when the cooldown lapses or the direction flips.
    """
    market = st.market_price
    for order in sorted((o for o in st.orders if o.role == "entry"), key=lambda o: o.local_id):
        if pricing.pct_distance(order.price, market) <= cfg.refresh_pct:
            continue
        trade = order.trade_id
        count, last_dir, until = _refresh_state(st, trade)
        if st.now < until:
            continue
        if until > 0:
            count, last_dir = 0, None
            st = _set_refresh(st, trade, 0, None, 0.0)
        direction = "up" if market > order.price else "down"
        count = count + 1 if direction == last_dir else 1
        if count > cfg.max_consecutive_refreshes:
            st = _set_refresh(st, trade, count - 1, direction, st.now + cfg.refresh_cooldown_sec)
            continue
        price = pricing.entry_price(market, order.side, cfg)
        if price <= 0 or entry_volume(size, trade, price, cfg).volume is None:
            # Keep the stale entry rather than leave the trade without one.
            continue
        st, cancel = cancel_entry(st, order, reason="stale_entry")
        st, place = new_entry(st, cfg, trade, size, reason="refresh_entry")
        return _set_refresh(st, trade, count, direction, 0.0), cancel + place
    return st, []


# --------------------------------------------------------------------------- timer tick (§7.2)


def _on_timer_tick(st: PairState, cfg: EngineConfig) -> Result:
    """Legacy orphaning of stale exits. Sticky mode: exits just wait, nothing is orphaned."""
    if cfg.sticky_mode_enabled or st.market_price <= 0:
        return st, []
    phase = derive_phase(st)
    exits = [o for o in st.orders if o.role == "exit"]
    if phase in ("S1a", "S1b") and len(exits) == 1:
        ex = exits[0]
        age = st.now - (ex.entry_filled_at or ex.placed_at or st.now)
        reference = ex.placed_market or ex.entry_price
        moved_away = st.market_price < reference if ex.side == "sell" else st.market_price > reference
        if age >= cfg.s1_orphan_after_sec and moved_away:
            return orphan_exit(st, cfg, ex, reason="s1_timeout")
    elif phase == "S2" and len(exits) == 2 and _s2_timed_out(st, cfg):
        # Worse = farther from the market in percent; a tie orphans the older exit. Distances are
        # compared at 1e-9 % (far below a tick) so float noise cannot break a real tie.
        worse = max(
            exits, key=lambda o: (round(pricing.pct_distance(o.price, st.market_price), 9), -o.local_id)
        )
        return orphan_exit(st, cfg, worse, reason="s2_timeout")
    return st, []


def _s2_timed_out(st: PairState, cfg: EngineConfig) -> bool:
    return st.s2_entered_at is not None and st.now - st.s2_entered_at >= cfg.s2_orphan_after_sec


# --------------------------------------------------------------------------- fills (§7.3)


def _on_fill(st: PairState, event: FillEvent, cfg: EngineConfig) -> Result:
    if event.volume <= 0:
        return st, []
    order = find_order(st, event.order_local_id)
    if order is None:
        rec = next((r for r in st.recovery_orders if r.local_id == event.order_local_id), None)
        if rec is not None:
            return on_recovery_fill(st, rec.recovery_id, event.price, event.volume, event.fee, cfg)
        st, marker = pop_pending(st, local_id=event.order_local_id)
        if marker is None:
            return st, []  # unknown or already applied: exactly-once
        return late_execution(st, cfg, marker, event.volume, event.price, event.fee, "late_entry_fill")
    price = event.price if event.price > 0 else order.price
    # A complete fill cannot execute more than the order: anything above is report noise.
    volume = min(event.volume, order.volume)
    st = without_order(st, order.local_id)
    if order.role == "entry":
        return open_position(st, cfg, order, price, volume, event.fee)
    if order.volume - volume > VOLUME_EPS:
        # The order closed short of its volume: book what executed, the rest gets its exit back.
        return exit_closed_short(st, cfg, order, volume, price, event.fee)
    return close_position(st, cfg, order, price, order.volume, order.entry_fee, event.fee)
