"""Invariants of a slot (STATE_MACHINE.md §10) and the runtime's three recoverable bypasses.

Structure, per trade: a trade works either its entry (A: sell, B: buy) or its exit (A: buy,
B: sell), never both and never two of one. It may have nothing only while its entry flow is
switched off (long_only switches A off, short_only B) or while the reducer owes it an entry
(`entry_pending_*`: cooldown running, or waiting for a size the exchange accepts). Seen by
phase that is exactly the seed's S0 / S1a / S1b / S2 structure, fallback modes included.
"""

from __future__ import annotations

import math
from collections import Counter

from core import pricing
from core.engine_config import EngineConfig
from core.sizing import OrderSize, entry_volume
from core.slot_types import (
    ENTRY_SIDE,
    EXIT_SIDE,
    TRADES,
    PairState,
    derive_phase,
    entry_pending,
    trade_disabled,
    trade_orders,
)

_VALID_MODE_SOURCES = ("none", "balance", "regime")


def _duplicates(values: list[int]) -> list[int]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _id_violations(state: PairState) -> list[str]:
    out: list[str] = []
    order_ids = [o.local_id for o in state.orders]
    if dup := _duplicates(order_ids):
        out.append(f"duplicate order local_id(s) {dup}")
    all_ids = order_ids + [r.local_id for r in state.recovery_orders if r.local_id > 0]
    all_ids += [p.local_id for p in state.pending_cancels]
    if (dup := _duplicates(all_ids)) and not _duplicates(order_ids):
        out.append(f"local_id(s) {dup} used by more than one order/recovery/pending cancel")
    if all_ids and max(all_ids) >= state.next_order_id:
        out.append(f"next_order_id {state.next_order_id} is not above every used local id ({max(all_ids)})")
    rec_ids = [r.recovery_id for r in state.recovery_orders]
    rec_ids += [p.recovery_id for p in state.pending_cancels if p.kind == "recovery" and p.recovery_id > 0]
    if dup := _duplicates(rec_ids):
        out.append(f"duplicate recovery_id(s) {dup}")
    if rec_ids and max(rec_ids) >= state.next_recovery_id:
        out.append(
            f"next_recovery_id {state.next_recovery_id} is not above every recovery id ({max(rec_ids)})"
        )
    return out


def _order_violations(state: PairState) -> list[str]:
    out: list[str] = []
    for o in state.orders:
        tag = f"order {o.local_id} ({o.trade_id} {o.role})"
        expected_side = ENTRY_SIDE[o.trade_id] if o.role == "entry" else EXIT_SIDE[o.trade_id]
        if o.side != expected_side:
            plural = "entries" if o.role == "entry" else "exits"
            out.append(f"{tag} is a {o.side}; trade {o.trade_id} {plural} must be {expected_side}s")
        if not o.volume > 0:
            out.append(f"{tag} volume must be > 0 (is {o.volume})")
        if not o.price > 0:
            out.append(f"{tag} price must be > 0 (is {o.price})")
        if o.cycle < 1:
            out.append(f"{tag} cycle must be >= 1 (is {o.cycle})")
        current = state.cycle_a if o.trade_id == "A" else state.cycle_b
        if o.cycle != current:
            out.append(f"{tag} belongs to cycle {o.cycle} but trade {o.trade_id} is on cycle {current}")
        if o.role == "exit" and not o.entry_price > 0:
            out.append(f"{tag} exit must carry entry_price")
        if o.entry_fee < 0:
            out.append(f"{tag} entry_fee must be >= 0")
    return out


def _recovery_violations(state: PairState, cfg: EngineConfig | None) -> list[str]:
    out: list[str] = []
    for r in state.recovery_orders:
        tag = f"recovery {r.recovery_id} ({r.trade_id})"
        if r.side != EXIT_SIDE[r.trade_id]:
            out.append(f"{tag} is a {r.side}; trade {r.trade_id} exits must be {EXIT_SIDE[r.trade_id]}s")
        if not r.volume > 0:
            out.append(f"{tag} volume must be > 0")
        if not r.price > 0:
            out.append(f"{tag} price must be > 0")
        if not r.entry_price > 0:
            out.append(f"{tag} must carry entry_price")
        current = state.cycle_a if r.trade_id == "A" else state.cycle_b
        if r.cycle < 1 or r.cycle > current:
            out.append(f"{tag} cycle {r.cycle} outside 1..{current}")
    if cfg is not None and len(state.recovery_orders) > cfg.recovery_cap:
        out.append(f"{len(state.recovery_orders)} recovery orders exceed the cap of {cfg.recovery_cap}")
    return out


def _structure_violations(state: PairState) -> list[str]:
    out: list[str] = []
    phase = derive_phase(state)
    for trade in TRADES:
        orders = trade_orders(state, trade)
        entries = [o for o in orders if o.role == "entry"]
        exits = [o for o in orders if o.role == "exit"]
        if len(orders) > 1:
            out.append(
                f"{phase}: trade {trade} has {len(entries)} entries and {len(exits)} exits "
                "(must work exactly one order: its entry or its exit)"
            )
            continue
        if entries and trade_disabled(state, trade):
            flag = "long_only" if trade == "A" else "short_only"
            out.append(f"{phase}: {flag} is set but trade {trade} has a {ENTRY_SIDE[trade]} entry")
        if orders and entry_pending(state, trade):
            out.append(f"{phase}: trade {trade} has an order but is still marked as owed an entry")
        if not orders and not trade_disabled(state, trade) and not entry_pending(state, trade):
            out.append(
                f"{phase}: trade {trade} has no order ({ENTRY_SIDE[trade]} entry or {EXIT_SIDE[trade]} exit), "
                "is not in fallback mode and is not owed an entry"
            )
    if phase == "S2":
        buy_exits = sum(1 for o in state.orders if o.role == "exit" and o.side == "buy")
        sell_exits = sum(1 for o in state.orders if o.role == "exit" and o.side == "sell")
        entries = sum(1 for o in state.orders if o.role == "entry")
        if buy_exits != 1 or sell_exits != 1 or entries:
            out.append("S2 must be exactly one buy exit + one sell exit and no entry")
    return out


def _flag_violations(state: PairState) -> list[str]:
    out: list[str] = []
    if state.long_only and state.short_only:
        out.append("long_only and short_only are both set")
    if state.mode_source not in _VALID_MODE_SOURCES:
        out.append(f"mode_source {state.mode_source!r} is not one of {_VALID_MODE_SOURCES}")
    if derive_phase(state) != "S2" and state.s2_entered_at is not None:
        out.append("s2_entered_at must be null outside S2")
    if state.s2_entered_at is not None and state.s2_entered_at > state.now:
        out.append("s2_entered_at is in the future")
    return out


def _number_violations(state: PairState) -> list[str]:
    """A NaN or infinity anywhere in the books would silently poison every later sum."""
    named = {
        "total_profit": state.total_profit,
        "total_fees": state.total_fees,
        "today_realized_loss": state.today_realized_loss,
        "market_price": state.market_price,
        "now": state.now,
        "cooldown_until_a": state.cooldown_until_a,
        "cooldown_until_b": state.cooldown_until_b,
    }
    out = [f"{name} is not a finite number ({v})" for name, v in named.items() if not math.isfinite(v)]
    for o in state.orders:
        if not all(math.isfinite(x) for x in (o.price, o.volume, o.entry_price, o.entry_fee)):
            out.append(f"order {o.local_id} carries a non-finite price, volume or fee")
    for r in state.recovery_orders:
        if not all(math.isfinite(x) for x in (r.price, r.volume, r.entry_price, r.entry_fee)):
            out.append(f"recovery {r.recovery_id} carries a non-finite price, volume or fee")
    return out


def check_invariants(state: PairState, cfg: EngineConfig | None = None) -> list[str]:
    """Every broken invariant as a readable sentence; an empty list means the slot is healthy.

    With `cfg`, also checks the recovery cap.
    """
    out = _id_violations(state)
    out += _order_violations(state)
    out += _structure_violations(state)
    out += _flag_violations(state)
    out += _recovery_violations(state, cfg)
    out += _number_violations(state)
    if state.cycle_a < 1 or state.cycle_b < 1:
        out.append(f"cycle counters must be >= 1 (cycle_a={state.cycle_a}, cycle_b={state.cycle_b})")
    if state.total_round_trips < 0 or state.today_realized_loss < 0:
        out.append("total_round_trips and today_realized_loss must be >= 0")
    return out


def is_bootstrap_pending_state(state: PairState) -> bool:
    """§10 bypass 2: a slot still being bootstrapped has no exits and at most one entry."""
    exits = sum(1 for o in state.orders if o.role == "exit")
    entries = sum(1 for o in state.orders if o.role == "entry")
    return exits == 0 and entries <= 1


def is_min_size_wait_state(
    state: PairState, cfg: EngineConfig, order_size_usd: OrderSize, market_price: float
) -> bool:
    """§10 bypass 1: a trade is missing its entry because its size is below the exchange minimums."""
    for trade in TRADES:
        if trade_orders(state, trade) or trade_disabled(state, trade):
            continue
        price = pricing.entry_price(market_price, ENTRY_SIDE[trade], cfg)
        if price <= 0 or entry_volume(order_size_usd, trade, price, cfg).volume is None:
            return True
    return False
