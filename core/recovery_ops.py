"""Recovery-order operations (STATE_MACHINE.md §11, §22 actions) and the drift reconciliation plan.

Selections only: which recoveries to soft-close and at what price, which Kraken orders
`reconcile_drift` may cancel. The runtime sends the resulting amend/cancel intents.

A recovery is an orphaned exit: a `sell` recovery sells DOGE bought by trade B, a `buy` recovery
buys back DOGE sold by trade A. Soft-closing moves it to just beyond the market on its own
side, so it rests on the book as a maker order and fills on the next small move.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

from actors.status import RecoverySummary
from core import order_ids, pricing
from core.engine_config import EngineConfig
from core.guardrails import DEFAULT_ORPHAN_PRESSURE_WARN_AT, orphan_pressure_level
from core.market import PairRules
from core.slot_types import PairState

DEFAULT_AUTO_SOFT_CLOSE_CAPACITY_PCT = 95.0
DEFAULT_AUTO_SOFT_CLOSE_BATCH = 2
# Distance of a soft-closed recovery from the market, percent. Far enough to stay a maker order
# through a few ticks of spread and jitter (DOGE's tick is ~0.0001 % of the price), close enough
# to fill on ordinary noise.
DEFAULT_SOFT_CLOSE_OFFSET_PCT = 0.1
DEFAULT_STALE_DISTANCE_PCT = 3.0


class RecoveryView(msgspec.Struct, frozen=True, kw_only=True):
    """The facts a selection needs about one recovery order (mapped from RecoveryOrder)."""

    slot_id: int
    recovery_id: int
    side: Literal["buy", "sell"]
    price: float
    volume: float
    entry_price: float = 0.0
    orphaned_at: float = 0.0
    txid: str = ""


def recovery_views(state: PairState) -> list[RecoveryView]:
    """The slot's recovery orders as RecoveryViews."""
    return [
        RecoveryView(
            slot_id=state.slot_id,
            recovery_id=r.recovery_id,
            side=r.side,
            price=r.price,
            volume=r.volume,
            entry_price=r.entry_price,
            orphaned_at=r.orphaned_at,
            txid=r.txid,
        )
        for r in state.recovery_orders
    ]


def distance_pct(price: float, market: float) -> float:
    """|price - market| / market x 100 (unsigned). Infinite with no market price."""
    if market <= 0:
        return math.inf
    return abs(price - market) / market * 100.0


def _far_first(r: RecoveryView, market: float) -> tuple[float, float, int, int]:
    # Farthest first; ties: oldest, then slot and recovery id, so the choice is deterministic.
    return (-distance_pct(r.price, market), r.orphaned_at, r.slot_id, r.recovery_id)


def soft_close_price(
    side: str,
    market: float,
    current_price: float,
    rules: PairRules,
    offset_pct: float = DEFAULT_SOFT_CLOSE_OFFSET_PCT,
) -> float | None:
    """The near-market price for soft-closing a recovery, or None when no reprice is useful.

    sell: market x (1 + offset), rounded UP to the tick; buy: market x (1 - offset), rounded DOWN.
    That is the maker side of the market (post-only accepts it) and, of the prices near market, the
    better one for us: a sell as high and a buy as low as near-market allows, i.e. the profitable
    or least-bad fill. The price never moves away from the market: a sell already at or below the
    target (a buy at or above it) is left alone (None).
    """
    if market <= 0:
        return None
    tick = rules.price_tick
    scale = 10**rules.price_decimals
    if side == "sell":
        target = math.ceil(market * (1.0 + offset_pct / 100.0) * scale - 1e-6) / scale
        target = max(target, rules.round_price(market + tick))
        return target if target < current_price - tick / 2 else None
    if side == "buy":
        target = math.floor(market * (1.0 - offset_pct / 100.0) * scale + 1e-6) / scale
        target = min(target, rules.round_price(market - tick))
        if target <= 0:
            return None
        return target if target > current_price + tick / 2 else None
    raise ValueError(f"unknown side {side!r}")


def guarded_soft_close_price(side: str, market: float, current_price: float, cfg: EngineConfig) -> float | None:
    """The soft-close price a slot will really use, or None when it would not move the order closer.

    The slot applies its maker guard (`pricing.maker_guard`, at least ENTRY_PCT from market)
    before amending; a near-market target inside that distance would otherwise become a move away
    from the market.
    """
    target = soft_close_price(side, market, current_price, cfg.rules)
    if target is None:
        return None
    price = pricing.maker_guard(target, market, side, cfg)  # type: ignore[arg-type]
    return price if distance_pct(price, market) < distance_pct(current_price, market) else None


class SoftClosePlan(msgspec.Struct, frozen=True, kw_only=True):
    recovery: RecoveryView
    new_price: float


def plan_soft_close(
    recoveries: Iterable[RecoveryView],
    market: float,
    rules: PairRules,
    offset_pct: float = DEFAULT_SOFT_CLOSE_OFFSET_PCT,
) -> list[SoftClosePlan]:
    """Reprice plans for the given recoveries, skipping those already at or inside the target."""
    plans = []
    for r in recoveries:
        price = soft_close_price(r.side, market, r.price, rules, offset_pct)
        if price is not None:
            plans.append(SoftClosePlan(recovery=r, new_price=price))
    return plans


def select_auto_soft_close(
    recoveries: Sequence[RecoveryView],
    market: float,
    utilization_pct: float,
    rules: PairRules,
    *,
    capacity_pct: float = DEFAULT_AUTO_SOFT_CLOSE_CAPACITY_PCT,
    batch: int = DEFAULT_AUTO_SOFT_CLOSE_BATCH,
    offset_pct: float = DEFAULT_SOFT_CLOSE_OFFSET_PCT,
) -> list[SoftClosePlan]:
    """Capacity governor: above AUTO_SOFT_CLOSE_CAPACITY_PCT utilization (strictly), reprice the
    AUTO_SOFT_CLOSE_BATCH recoveries farthest from the market. Recoveries already repriced near the
    market are not picked again (so the batch moves on to the next farthest each loop)."""
    if utilization_pct <= capacity_pct or batch <= 0 or market <= 0:
        return []
    ordered = sorted(recoveries, key=lambda r: _far_first(r, market))
    return plan_soft_close(ordered, market, rules, offset_pct)[:batch]


def soft_close_next(recoveries: Iterable[RecoveryView]) -> RecoveryView | None:
    """The oldest recovery (smallest orphaned_at; ties by slot id then recovery id)."""
    return min(recoveries, key=lambda r: (r.orphaned_at, r.slot_id, r.recovery_id), default=None)


def select_stale_recoveries(
    recoveries: Iterable[RecoveryView], market: float, min_distance_pct: float = DEFAULT_STALE_DISTANCE_PCT
) -> list[RecoveryView]:
    """cancel_stale_recoveries: recoveries strictly farther than min_distance_pct from the market,
    farthest first. (The action soft-closes them; nothing is cancelled at a loss blindly.)"""
    if market <= 0:
        return []
    stale = [r for r in recoveries if distance_pct(r.price, market) > min_distance_pct]
    return sorted(stale, key=lambda r: _far_first(r, market))


def recovery_summary(
    total: int,
    cap_per_slot: int,
    auto_soft_close_total: int,
    warn_at: int = DEFAULT_ORPHAN_PRESSURE_WARN_AT,
) -> RecoverySummary:
    """The `recoveries` status block; the pressure level is the current multiple of warn_at."""
    return RecoverySummary(
        total=total,
        cap_per_slot=cap_per_slot,
        orphan_pressure_level=orphan_pressure_level(total, warn_at),
        auto_soft_close_total=auto_soft_close_total,
    )


# ------------------------------------------------------------------------- drift reconciliation


class ExchangeOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One pair-filtered open order as Kraken reports it."""

    txid: str
    cl_ord_id: str = ""


class DriftPlan(msgspec.Struct, frozen=True, kw_only=True):
    cancel: list[ExchangeOrder]  # ours by cl_ord_id, tracked by nobody: safe to cancel
    foreign: list[ExchangeOrder]  # not ours (manual/other software): never touched
    tracked: int  # Kraken orders some slot/churner tracks
    missing_on_exchange: list[str]  # tracked txids Kraken does not show open (candidates for fill replay)


def plan_drift_reconciliation(
    exchange_orders: Iterable[ExchangeOrder],
    tracked_txids: Iterable[str],
    tracked_cl_ord_ids: Iterable[str] = (),
) -> DriftPlan:
    """reconcile_drift, conservatively: cancel only orders that are provably ours and orphaned.

    * ours: the cl_ord_id decodes with core.order_ids.decode (slot or churner order);
    * orphaned: neither its txid nor its cl_ord_id is tracked by any slot, recovery, pending cancel
      or churner. Tracking by cl_ord_id covers an order placed moments ago whose txid is not back
      yet, so an in-flight placement is never cancelled;
    * everything else on Kraken is foreign and left alone, even if it looks like drift: the account
      may be shared with a person or other software.
    """
    txids = set(tracked_txids)
    cl_ids = set(tracked_cl_ord_ids)
    cancel: list[ExchangeOrder] = []
    foreign: list[ExchangeOrder] = []
    tracked = 0
    seen: set[str] = set()
    for order in exchange_orders:
        if order.txid in seen:
            continue
        seen.add(order.txid)
        if order.txid in txids or (order.cl_ord_id and order.cl_ord_id in cl_ids):
            tracked += 1
        elif order.cl_ord_id and order_ids.decode(order.cl_ord_id) is not None:
            cancel.append(order)
        else:
            foreign.append(order)
    missing = sorted(t for t in txids if t and t not in seen)
    return DriftPlan(cancel=cancel, foreign=foreign, tracked=tracked, missing_on_exchange=missing)
