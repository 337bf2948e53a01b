"""A synthetic L2 book around the simulated price, with Kraken's CRC32 checksum.

Level quantities are a fixed function of the level's price, so when the price moves by one
tick only the levels at the edges change and book updates stay small (like a real book).
The account's own orders are not shown in it (docs/simulator.md).
"""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

from gateway.sim.wire import fmt

Level = tuple[Decimal, Decimal]  # (price, qty)
CHECKSUM_LEVELS = 10


def level_qty(price_ticks: int) -> Decimal:
    """Deterministic pseudo-random size (1,000 .. 101,000 DOGE) for a price level."""
    mixed = (price_ticks * 2654435761) % 1_000_003
    return Decimal(1000 + (mixed % 100_000)).quantize(Decimal("0.00000001"))


def build_levels(bid: Decimal, ask: Decimal, tick: Decimal, depth: int) -> tuple[list[Level], list[Level]]:
    bids = []
    asks = []
    for i in range(depth):
        bp = bid - tick * i
        if bp > 0:
            bids.append((bp, level_qty(int(bp / tick))))
        ap = ask + tick * i
        asks.append((ap, level_qty(int(ap / tick))))
    return bids, asks


def _checksum_part(price: Decimal, qty: Decimal, price_decimals: int, qty_decimals: int) -> str:
    p = fmt(price, price_decimals).replace(".", "").lstrip("0")
    v = fmt(qty, qty_decimals).replace(".", "").lstrip("0")
    return p + v


def checksum(bids: list[Level], asks: list[Level], price_decimals: int = 7, qty_decimals: int = 8) -> int:
    """CRC32 over the top 10 asks (ascending) then top 10 bids (descending), kraken-api.md §2.4."""
    text = "".join(_checksum_part(p, v, price_decimals, qty_decimals) for p, v in asks[:CHECKSUM_LEVELS])
    text += "".join(_checksum_part(p, v, price_decimals, qty_decimals) for p, v in bids[:CHECKSUM_LEVELS])
    return zlib.crc32(text.encode("ascii")) & 0xFFFFFFFF


def levels_json(levels: list[Level]) -> list[dict[str, Any]]:
    return [{"price": p, "qty": v} for p, v in levels]


def diff_side(old: list[Level], new: list[Level], descending: bool) -> list[Level]:
    """Changed levels from `old` to `new`: removed ones with qty 0 first, then added/changed."""
    old_map = dict(old)
    new_map = dict(new)
    removed = [(p, Decimal(0)) for p in old_map if p not in new_map]
    changed = [(p, v) for p, v in new if old_map.get(p) != v]
    out = removed + changed
    out.sort(key=lambda lv: lv[0], reverse=descending)
    return out
