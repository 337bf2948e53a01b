"""Order size and volume: compounding modes, DOGE sizing, capital layers, rebalancer skew.

Two steps, both pure:

1. How big should this slot's next entry be? `slot_order_size_usd` / `slot_order_size_doge`
   (STATE_MACHINE.md §9, checklist §3.10) give one trade's size in the configured unit;
   `slot_trade_sizes` gives both as a `TradeSizes` for the reducer.
2. What volume is that at this price? `compute_order_volume` never upsizes: a size below Kraken's
   minimum volume or cost yields `volume=None` and a diagnostic, and the slot waits (§8).

The reducer's `order_size_usd` argument is either a plain float (USD notional of both trades in
USD mode; ignored in DOGE mode, which then uses ORDER_SIZE_DOGE) or a `TradeSizes`.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from core.engine_config import EngineConfig, SizeMode
from core.market import PairRules

SizingReason = Literal["ok", "invalid_price", "non_positive_size", "below_min_volume", "below_min_cost"]


class SizingResult(msgspec.Struct, frozen=True, kw_only=True):
    """`volume` is None when no order may be placed; `reason`/`detail` say why."""

    volume: float | None
    reason: SizingReason
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.volume is not None


class TradeSizes(msgspec.Struct, frozen=True, kw_only=True):
    """Per-trade order size: A (sell entries) and B (buy entries), in USD or DOGE."""

    a: float
    b: float
    unit: SizeMode = "USD"

    def for_trade(self, trade_id: str) -> float:
        return self.a if trade_id == "A" else self.b


OrderSize = float | TradeSizes


def compute_order_volume(
    order_size_usd: float,
    price: float,
    rules: PairRules,
    *,
    order_size_mode: SizeMode = "USD",
    order_size_doge: float = 0.0,
) -> SizingResult:
    """Volume for one order at `price`, floored to the volume step; never raised to a minimum.

    USD mode: volume = order_size_usd / price. DOGE mode: volume = order_size_doge, independent
    of price (the USD/price division is bypassed). Both modes keep Kraken's minimum volume and
    minimum cost guards.
    """
    if price <= 0 or not math.isfinite(price):
        return SizingResult(volume=None, reason="invalid_price", detail=f"market={price}")
    if order_size_mode == "DOGE":
        raw = order_size_doge
        what = f"ORDER_SIZE_DOGE={order_size_doge:g}"
    else:
        raw = order_size_usd / price if order_size_usd > 0 else 0.0
        what = f"ORDER_SIZE_USD={order_size_usd:g}"
    if raw <= 0 or not math.isfinite(raw):
        return SizingResult(volume=None, reason="non_positive_size", detail=what)
    volume = rules.floor_volume(raw)
    detail = (
        f"{what} volume={volume:.8f} price={price:.7f} min_vol={rules.min_volume:g} "
        f"min_cost={rules.min_cost_usd:g}"
    )
    if volume + 1e-12 < rules.min_volume:
        return SizingResult(volume=None, reason="below_min_volume", detail=detail)
    if volume * price + 1e-12 < rules.min_cost_usd:
        return SizingResult(volume=None, reason="below_min_cost", detail=detail)
    return SizingResult(volume=volume, reason="ok", detail=detail)


def size_for_trade(order_size: OrderSize, trade_id: str, cfg: EngineConfig) -> tuple[float, SizeMode]:
    """Resolve the reducer's size argument to (amount, unit) for one trade."""
    if isinstance(order_size, TradeSizes):
        return order_size.for_trade(trade_id), order_size.unit
    if cfg.order_size_mode == "DOGE":
        return cfg.order_size_doge, "DOGE"
    return float(order_size), "USD"


def entry_volume(order_size: OrderSize, trade_id: str, price: float, cfg: EngineConfig) -> SizingResult:
    """Volume of a new entry of `trade_id` at `price`, or None with the reason it cannot be placed."""
    amount, unit = size_for_trade(order_size, trade_id, cfg)
    return compute_order_volume(amount, price, cfg.rules, order_size_mode=unit, order_size_doge=amount)


def base_order_size_usd(cfg: EngineConfig, slot_total_profit: float) -> float:
    """§9 base: compounding adds the slot's profit (never its losses); `fixed` ignores it."""
    if cfg.sticky_compounding_mode == "fixed":
        return cfg.order_size_usd
    return max(cfg.order_size_usd, cfg.order_size_usd + slot_total_profit)


def skew_multiplier(skew: float, trade_id: str | None, cfg: EngineConfig) -> float:
    """Rebalancer size multiplier: only the favoured side (skew > 0: B buys, < 0: A sells) grows."""
    if trade_id is None or abs(skew) <= 1e-12:
        return 1.0
    favoured = (skew > 0 and trade_id == "B") or (skew < 0 and trade_id == "A")
    if not favoured:
        return 1.0
    sensitivity = max(0.0, cfg.rebalance_size_sensitivity)
    return min(max(1.0, cfg.rebalance_max_size_mult), 1.0 + abs(skew) * sensitivity)


def _fund_guard(base: float, scaled: float, available: float | None) -> float:
    """Scaling never exceeds what the favoured side can fund, and never goes below base."""
    if available is None:
        return max(base, scaled)
    return max(base, min(scaled, available))


def slot_order_size_usd(
    cfg: EngineConfig,
    *,
    slot_total_profit: float,
    price: float,
    effective_layers: int = 0,
    skew: float = 0.0,
    trade_id: str | None = None,
    available_usd: float | None = None,
    available_doge: float | None = None,
) -> float:
    """One trade's USD order size (USD mode): base, plus capital layers, times the skew multiplier.

    The fund guard compares with the balance the favoured side spends: USD for B buys, DOGE
    (valued at `price`) for A sells.
    """
    base = base_order_size_usd(cfg, slot_total_profit)
    layer_usd = max(0, effective_layers) * max(0.0, cfg.capital_layer_doge_per_order) * max(0.0, price)
    base_with_layers = max(base, base + layer_usd)
    mult = skew_multiplier(skew, trade_id, cfg)
    if mult <= 1.0:
        return base_with_layers
    if trade_id == "B":
        available = available_usd
    else:
        available = None if available_doge is None or price <= 0 else available_doge * price
    return _fund_guard(base_with_layers, base_with_layers * mult, available)


def slot_order_size_doge(
    cfg: EngineConfig,
    *,
    price: float,
    effective_layers: int = 0,
    skew: float = 0.0,
    trade_id: str | None = None,
    available_usd: float | None = None,
    available_doge: float | None = None,
) -> float:
    """One trade's DOGE volume target (DOGE mode).

    Deliberately not coupled to USD compounding (checklist §3.10): the volume is ORDER_SIZE_DOGE
    plus the layers' DOGE, independent of price and of slot profit; only the skew scales it.
    """
    base = max(0.0, cfg.order_size_doge) + max(0, effective_layers) * max(
        0.0, cfg.capital_layer_doge_per_order
    )
    mult = skew_multiplier(skew, trade_id, cfg)
    if mult <= 1.0:
        return base
    if trade_id == "A":
        available = available_doge
    else:
        available = None if available_usd is None or price <= 0 else available_usd / price
    return _fund_guard(base, base * mult, available)


def slot_trade_sizes(
    cfg: EngineConfig,
    *,
    slot_total_profit: float,
    price: float,
    effective_layers: int = 0,
    skew: float = 0.0,
    available_usd: float | None = None,
    available_doge: float | None = None,
) -> TradeSizes:
    """Both trades' sizes in the configured unit, ready to pass to `transition`."""
    if cfg.order_size_mode == "DOGE":
        sizes = [
            slot_order_size_doge(
                cfg,
                price=price,
                effective_layers=effective_layers,
                skew=skew,
                trade_id=t,
                available_usd=available_usd,
                available_doge=available_doge,
            )
            for t in ("A", "B")
        ]
        return TradeSizes(a=sizes[0], b=sizes[1], unit="DOGE")
    sizes = [
        slot_order_size_usd(
            cfg,
            slot_total_profit=slot_total_profit,
            price=price,
            effective_layers=effective_layers,
            skew=skew,
            trade_id=t,
            available_usd=available_usd,
            available_doge=available_doge,
        )
        for t in ("A", "B")
    ]
    return TradeSizes(a=sizes[0], b=sizes[1], unit="USD")


def effective_layers(
    target: int,
    doge_available: float,
    usd_available: float,
    price: float,
    cfg: EngineConfig,
    *,
    active_sell_orders: int = 1,
    active_buy_orders: int = 1,
) -> int:
    """Layers the balances can fund (§18): min(target, max_from_doge, max_from_usd).

    One layer adds CAPITAL_LAYER_DOGE_PER_ORDER to every order: every open sell needs that much
    more DOGE and every open buy that much more DOGE's worth of USD, times the balance buffer.
    """
    per_order = max(0.0, cfg.capital_layer_doge_per_order)
    if target <= 0 or per_order <= 0 or not price > 0:
        return 0
    if not all(math.isfinite(x) for x in (price, doge_available, usd_available)):
        return 0  # garbage balances fund nothing
    buffer = max(1.0, cfg.capital_layer_balance_buffer)
    sells = max(1, active_sell_orders)
    buys = max(1, active_buy_orders)
    max_from_doge = math.floor(max(0.0, doge_available) / (sells * per_order * buffer))
    max_from_usd = math.floor(max(0.0, usd_available) / (buys * per_order * price * buffer))
    return max(0, min(int(target), max_from_doge, max_from_usd))
