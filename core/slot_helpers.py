"""Pure helpers the slot runtime calls outside `transition`: bootstrap, txid binding, rejected
placements, sticky release, recovery repricing and fallback-mode normalisation.
"""

from __future__ import annotations

import math
from typing import Literal

from msgspec.structs import replace

from core import pricing
from core.engine_config import EngineConfig
from core.sizing import OrderSize
from core.slot_accounting import advance_clock, update_loss_counters
from core.slot_ops import (
    Result,
    book_exit_cycle,
    close_trade,
    new_entry,
    rearm_pending,
    reissue_exit,
    request_cancel,
    set_pending,
    sync_s2_flag,
    without_order,
)
from core.slot_settle import reissue_recovery
from core.slot_types import (
    TRADES,
    Action,
    ModeSource,
    PairState,
    TradeId,
    cooldown_until,
    entry_pending,
    find_order,
    find_recovery,
    trade_orders,
)

Which = Literal["both", "A", "B"]


def bind_txid(state: PairState, local_id: int, txid: str) -> PairState:
    """Record the exchange order id of an acknowledged order (active, recovery or being cancelled)."""
    orders = tuple(replace(o, txid=txid) if o.local_id == local_id else o for o in state.orders)
    recs = tuple(replace(r, txid=txid) if r.local_id == local_id else r for r in state.recovery_orders)
    pend = tuple(replace(p, txid=txid) if p.local_id == local_id else p for p in state.pending_cancels)
    return replace(state, orders=orders, recovery_orders=recs, pending_cancels=pend)


def bind_recovery_txid(state: PairState, recovery_id: int, txid: str) -> PairState:
    recs = tuple(replace(r, txid=txid) if r.recovery_id == recovery_id else r for r in state.recovery_orders)
    return replace(state, recovery_orders=recs)


def normalize_slot_mode(state: PairState, source: ModeSource = "balance") -> PairState:
    """Align long_only/short_only with the actual one-sided entry state (§10 bypass 3).

    A trade that has an entry is not switched off. A trade with no order and no owed entry,
    while the other trade is active, is switched off (its entry was never placed or was
    rejected); `source` records why, unless an existing flag already names its source. A slot
    with no order at all is left alone: that is the bootstrap gap, not a one-sided mode.
    """
    a_entry = any(o.trade_id == "A" and o.role == "entry" for o in state.orders)
    b_entry = any(o.trade_id == "B" and o.role == "entry" for o in state.orders)
    # A trade counts as active while it works an order or is owed one by the reducer.
    a_busy = bool(trade_orders(state, "A")) or entry_pending(state, "A")
    b_busy = bool(trade_orders(state, "B")) or entry_pending(state, "B")
    a_idle, b_idle = not a_busy, not b_busy
    long_only = state.long_only and not state.short_only
    short_only = state.short_only and not state.long_only
    if a_entry:
        long_only = False
    if b_entry:
        short_only = False
    if b_busy and a_idle:
        long_only, short_only = True, False
    elif a_busy and b_idle:
        long_only, short_only = False, True
    if not long_only and not short_only:
        mode: ModeSource = "none"
    elif (long_only, short_only) == (state.long_only, state.short_only) and state.mode_source != "none":
        mode = state.mode_source
    else:
        mode = source if source != "none" else "balance"
    if (long_only, short_only, mode) == (state.long_only, state.short_only, state.mode_source):
        return state
    return replace(state, long_only=long_only, short_only=short_only, mode_source=mode)


def bootstrap_orders(
    state: PairState,
    cfg: EngineConfig,
    order_size_usd: OrderSize,
    which: Which = "both",
    *,
    mode_source: ModeSource = "balance",
) -> Result:
    """Place fresh entries for the requested trades (the runtime picks `which` from balances, §8).

    A trade that already has an order is left alone; one whose re-entry cooldown is still running
    is marked as owed an entry, which `transition` places when the cooldown lapses. Trades
    that cannot be sized (below exchange minimums) get nothing: the slot waits. Afterwards the
    fallback flags match what was placed (one-sided: long_only/short_only with `mode_source`).
    For the seed's 2x-minimum reseed pass `TradeSizes(a=2 * min_volume, b=..., unit="DOGE")`.
    """
    actions: list[Action] = []
    trades: tuple[TradeId, ...] = TRADES if which == "both" else (which,)
    for trade_id in trades:
        if trade_orders(state, trade_id):
            continue
        if state.now < cooldown_until(state, trade_id):
            state = set_pending(state, trade_id, True)
            continue
        state, placed = new_entry(state, cfg, trade_id, order_size_usd, reason="bootstrap")
        actions.extend(placed)
    state = normalize_slot_mode(state, source=mode_source)
    return sync_s2_flag(state, cfg), actions


def remove_order(state: PairState, local_id: int, cfg: EngineConfig) -> Result:
    """Undo a placement the exchange definitively rejected, leaving the slot consistent.

    * entry: dropped; fallback flags are normalised (the runtime's repair re-adds it when funds
      allow).
    * exit: a position never loses its exit: it is re-issued under a new local id at a post-only
      safe price; if its volume is below the exchange minimums it is written off at the market.
    * recovery placement: re-issued the same way (or written off).
    """
    order = find_order(state, local_id)
    if order is not None:
        if order.role == "entry":
            return normalize_slot_mode(without_order(state, local_id)), []
        state, actions = reissue_exit(state, cfg, order, order.volume, order.entry_fee, reason="exit_reissue")
        return sync_s2_flag(state, cfg), actions
    rec = next((r for r in state.recovery_orders if r.local_id == local_id), None)
    if rec is None:
        return state, []
    return reissue_recovery(state, cfg, rec, rec.price)


def reprice_recovery(state: PairState, recovery_id: int, price: float, cfg: EngineConfig) -> PairState:
    """Soft-close support: move a recovery's limit price to `price`, made post-only safe.

    The runtime carries it out as an in-place amend of the same exchange order (Kraken
    `amend_order` keeps the order id and its executed quantity), so no second order can
    oversell the position while a cancel is in flight. Read the new price from the recovery.
    """
    rec = find_recovery(state, recovery_id)
    if rec is None or not (price > 0 and math.isfinite(price)):
        return state
    fresh = replace(rec, price=pricing.maker_guard(price, state.market_price, rec.side, cfg))
    return replace(state, recovery_orders=tuple(fresh if r is rec else r for r in state.recovery_orders))


def set_recovery_price(state: PairState, recovery_id: int, price: float) -> PairState:
    """Record the price the exchange reports for a recovery's order (no guard: it is a fact)."""
    rec = find_recovery(state, recovery_id)
    if rec is None or not (price > 0 and math.isfinite(price)) or rec.price == price:
        return state
    fresh = replace(rec, price=price)
    return replace(state, recovery_orders=tuple(fresh if r is rec else r for r in state.recovery_orders))


def release_exit(
    state: PairState,
    local_id: int,
    price: float,
    now: float,
    cfg: EngineConfig,
    order_size_usd: OrderSize | None = None,
) -> Result:
    """Sticky release (checklist §2.3): close a waiting exit's position on the books at `price`.

    The exit leaves the slot and its exchange order is cancelled (tracked until confirmed: an
    execution that beat the cancel is booked as an adjustment against `price`). The cycle is
    booked through `book_cycle`, the losing streak and cooldowns update as for a filled exit,
    the trade's cycle advances and its entry is re-armed: placed now when `order_size_usd` is
    given and no cooldown blocks it, else by the next event once the cooldown lapses.
    """
    order = find_order(state, local_id)
    if order is None or order.role != "exit" or not (price > 0 and math.isfinite(price)):
        return state, []
    if not math.isfinite(now):
        return state, []
    state = without_order(advance_clock(state, now), local_id)
    state, booked = book_exit_cycle(
        state,
        cfg,
        order,
        exit_price=price,
        volume=order.volume,
        entry_fee=order.entry_fee,
        exit_fee=0.0,
        close_reason="released",
    )
    state = update_loss_counters(state, order.trade_id, booked.record.net_profit, cfg)
    state, cancel = request_cancel(
        state, order, kind="exit", reason="release", entry_price=order.entry_price, booked_price=price
    )
    state = close_trade(state, cfg, order.trade_id, order.cycle)
    actions: list[Action] = [booked, cancel]
    if order_size_usd is not None:
        state, placed = rearm_pending(state, cfg, order_size_usd)
        actions.extend(placed)
    return sync_s2_flag(state, cfg), actions


__all__ = [
    "bind_recovery_txid",
    "bind_txid",
    "bootstrap_orders",
    "normalize_slot_mode",
    "release_exit",
    "remove_order",
    "reprice_recovery",
]
