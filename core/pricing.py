"""Entry and exit price formulas (docs/strategy.md "Prices" has the derivations and examples).

* Entries sit `entry_pct` percent from the market: buys below, sells above.
* Exits are priced from the ACTUAL entry fill so that, after maker fees on both legs, the round
  trip nets `profit_pct` percent of the entry notional. With maker fee fraction f and profit
  fraction p:  sell exit (trade B) = E * (1 + f + p) / (1 - f);  buy exit (trade A) =
  E * (1 - f - p) / (1 + f).
* Rounding to the exchange tick always moves a price away from the market: buys round down,
  sells round up. For an exit that direction can only add profit.
* Post-only guard: an exit is never placed closer to the market than an entry would be
  (sell >= market * (1 + entry_pct), buy <= market * (1 - entry_pct)), and always at least one
  tick on the maker side of the market, so a post-only order cannot cross.
"""

from __future__ import annotations

import math

from core.engine_config import EngineConfig
from core.slot_types import Side

# Absorbs binary float noise (0.1 * 1e7 = 999999.9999999999) without moving a real tick.
_TICK_EPS = 1e-7


def floor_to_tick(price: float, decimals: int) -> float:
    scale = 10.0**decimals
    return round(math.floor(price * scale + _TICK_EPS) / scale, decimals)


def ceil_to_tick(price: float, decimals: int) -> float:
    scale = 10.0**decimals
    return round(math.ceil(price * scale - _TICK_EPS) / scale, decimals)


def strictly_below(market: float, decimals: int) -> float:
    """The highest tick price strictly below `market`."""
    return round(ceil_to_tick(market, decimals) - 10.0**-decimals, decimals)


def strictly_above(market: float, decimals: int) -> float:
    """The lowest tick price strictly above `market`."""
    return round(floor_to_tick(market, decimals) + 10.0**-decimals, decimals)


def pct_distance(price: float, market: float) -> float:
    """Distance of `price` from `market` in percent of the market."""
    if market <= 0:
        return 0.0
    return abs(price - market) / market * 100.0


def entry_price(market: float, side: Side, cfg: EngineConfig) -> float:
    """Entry price for `side`, or 0.0 when no valid maker price exists (market unknown)."""
    if not (market > 0 and math.isfinite(market)):
        return 0.0
    decimals = cfg.rules.price_decimals
    e = cfg.entry_pct / 100.0
    if side == "buy":
        price = min(floor_to_tick(market * (1.0 - e), decimals), strictly_below(market, decimals))
    else:
        price = max(ceil_to_tick(market * (1.0 + e), decimals), strictly_above(market, decimals))
    return price if price > 0 else 0.0


def exit_target(entry_fill: float, exit_side: Side, cfg: EngineConfig) -> float:
    """Unrounded exit price that nets exactly `profit_pct` after maker fees on both legs."""
    f = cfg.maker_fee
    p = cfg.profit_pct / 100.0
    if exit_side == "sell":
        return entry_fill * (1.0 + f + p) / (1.0 - f)
    return entry_fill * (1.0 - f - p) / (1.0 + f)


def maker_guard(price: float, market: float, side: Side, cfg: EngineConfig) -> float:
    """Move an order price to the maker side of `market` (never toward it), rounded away from it."""
    decimals = cfg.rules.price_decimals
    if side == "sell":
        price = ceil_to_tick(price, decimals)
        if market > 0 and math.isfinite(market):
            guard = ceil_to_tick(market * (1.0 + cfg.entry_pct / 100.0), decimals)
            price = max(price, guard, strictly_above(market, decimals))
        return price
    price = floor_to_tick(price, decimals)
    if market > 0 and math.isfinite(market):
        guard = floor_to_tick(market * (1.0 - cfg.entry_pct / 100.0), decimals)
        price = min(price, guard, strictly_below(market, decimals))
    # A buy price must stay positive; one tick is the smallest the exchange accepts.
    return max(price, 10.0**-decimals)


def exit_price(entry_fill: float, market: float, exit_side: Side, cfg: EngineConfig) -> float:
    """The exit price for an entry that filled at `entry_fill` (see module docstring)."""
    return maker_guard(exit_target(entry_fill, exit_side, cfg), market, exit_side, cfg)


def exit_side_of(entry_side: Side) -> Side:
    return "sell" if entry_side == "buy" else "buy"
