"""Capital-layer propagation (STATE_MACHINE §18: "propagation progress" on the dashboard).

A layer change does not resize orders already resting: each entry is sized with the effective
layers when it is placed, and its exit inherits the entry's filled volume. So after `add_layer`
the new size spreads through the book as slots cycle. To show that, every slot tags each of its
active orders with the layer count it was sized with (`tags`: local order id -> layers), and the
coordinator counts how many carry the current effective count.

A fixed-volume entry (the runtime's auto-repair, a single-side or reseed bootstrap) carries the
current layers only when its volume is at least what the slot's own sizes give at the current
layers (`fixed_volume_layers`): a repair at the slot's layered volume does, a reduced or 2 x
minimum reseed order does not (0).

Pure functions; the slot actor keeps the tags next to its state and persists them with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import msgspec

from core import sizing
from core.engine_config import EngineConfig
from core.slot_types import PairState

UNKNOWN = -1  # report key for active orders without a tag (placed before tags were kept)


class Propagation(msgspec.Struct, frozen=True, kw_only=True):
    """How far the effective layer count has spread through the active orders."""

    effective_layers: int
    orders_total: int  # active entries and exits (recoveries are orphaned positions: excluded)
    orders_at_effective: int
    orders_unknown: int  # no tag: sized before tagging existed (old snapshot) or a volume of unknown origin
    progress_pct: float | None  # orders_at_effective / orders_total, None with no active order


def carry(old: PairState, new: PairState, tags: Mapping[int, int], placing_layers: int) -> dict[int, int]:
    """The tags after a transition from `old` to `new`.

    New entries get `placing_layers` (what the sizes given to the reducer carried); a new exit
    inherits the tag of the order of the same trade and cycle it comes from (the entry that
    filled, the entry's pending cancel when a partial fill was handed over, or the exit it
    replaces). Tags of orders no longer active are dropped.
    """
    active = {o.local_id for o in new.orders}
    out = {lid: layers for lid, layers in tags.items() if lid in active}
    # Where a new exit's volume comes from: the entry of its trade and cycle (filled, or cancelled
    # after a partial fill), or the exit of that cycle it replaces (re-placed after a cancel).
    sources: dict[tuple[str, int], int] = {}
    for o in old.orders:
        sources.setdefault((o.trade_id, o.cycle), o.local_id)
    for p in old.pending_cancels:
        if p.kind in ("entry", "exit"):
            sources.setdefault((p.trade_id, p.cycle), p.local_id)
    for o in new.orders:
        if o.local_id in out:
            continue
        if o.role == "entry":
            out[o.local_id] = placing_layers
            continue
        source = sources.get((o.trade_id, o.cycle))
        if source is not None and source in tags:
            out[o.local_id] = tags[source]
    return out


def fixed_volume_layers(
    volume: float,
    sizes: sizing.OrderSize,
    trades: Iterable[str],
    price: float,
    cfg: EngineConfig,
    layers: int,
) -> int:
    """Layers an entry of the fixed `volume` (DOGE) carries: `layers` or 0.

    `sizes` are the slot's own sizes at the current effective `layers`; the entry carries them
    exactly when `volume` is at least the volume those sizes give at the market `price` for every
    trade in `trades` (the runtime sizes repairs and bootstraps at the market price too). A
    smaller volume (a degraded bootstrap reduced to what the funds allow, the 2 x minimum reseed)
    or a slot whose own size cannot be placed (below Kraken's minimums) carries no layer: 0.
    """
    if layers <= 0 or not (math.isfinite(volume) and volume > 0):
        return 0
    tolerance = cfg.rules.volume_step / 2  # both sides are floored to the volume step
    for trade in trades:
        sized = sizing.entry_volume(sizes, trade, price, cfg).volume
        if sized is None or volume + tolerance < sized:
            return 0
    return layers


def counts(state: PairState, tags: Mapping[int, int]) -> dict[int, int]:
    """Active orders by the layer count they carry; `UNKNOWN` for untagged ones."""
    out: dict[int, int] = {}
    for o in state.orders:
        key = tags.get(o.local_id, UNKNOWN)
        out[key] = out.get(key, 0) + 1
    return out


def summarize(per_slot: Iterable[Mapping[int, int]], effective_layers: int) -> Propagation:
    total = at = unknown = 0
    for c in per_slot:
        for layers, n in c.items():
            total += n
            if layers == UNKNOWN:
                unknown += n
            elif layers == effective_layers:
                at += n
    return Propagation(
        effective_layers=effective_layers, orders_total=total, orders_at_effective=at, orders_unknown=unknown,
        progress_pct=round(100.0 * at / total, 1) if total else None,
    )
