"""Every knob the slot reducer and the sizing functions read, frozen into one value.

`engine_config_from(settings, rules)` builds it from the `Settings` object (core/config.py) by
attribute name, falling back to the seeds' defaults for anything the object lacks, so the core
does not depend on the config loader. Exchange minimums, precision and fees come from `PairRules`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from core.market import PairRules

SizeMode = Literal["USD", "DOGE"]
CompoundingMode = Literal["legacy_profit", "fixed"]


class EngineConfig(msgspec.Struct, frozen=True, kw_only=True):
    entry_pct: float = 0.35  # percent distance of an entry from the market
    profit_pct: float = 1.0  # percent net profit target per round trip, after both maker fees
    refresh_pct: float = 1.0  # entry drift (percent) that triggers a refresh
    max_consecutive_refreshes: int = 3
    refresh_cooldown_sec: float = 300.0
    s1_orphan_after_sec: float = 86400.0
    s2_orphan_after_sec: float = 172800.0
    reentry_base_cooldown_sec: float = 60.0
    max_consecutive_losses: int = 3
    loss_cooldown_sec: float = 900.0
    max_recovery_slots: int = 4
    sticky_mode_enabled: bool = False
    order_size_usd: float = 10.0
    order_size_mode: SizeMode = "USD"
    order_size_doge: float = 60.0
    sticky_compounding_mode: CompoundingMode = "legacy_profit"
    capital_layer_doge_per_order: float = 1.0
    capital_layer_balance_buffer: float = 1.5
    rebalance_size_sensitivity: float = 1.0
    rebalance_max_size_mult: float = 1.5
    completed_cycles_keep: int = 200
    rules: PairRules = msgspec.field(default_factory=PairRules)

    @property
    def maker_fee(self) -> float:
        """Maker fee as a fraction (PairRules carries percent)."""
        return self.rules.maker_fee_pct / 100.0

    @property
    def recovery_cap(self) -> int:
        return max(1, self.max_recovery_slots)


_DEFAULTS = EngineConfig()


def _num(
    settings: Any, name: str, default: float, *, lo: float | None = None, hi: float | None = None
) -> float:
    try:
        value = float(getattr(settings, name, default))
    except (TypeError, ValueError):
        value = float(default)
    if value != value:  # NaN would poison every comparison downstream
        value = float(default)
    if lo is not None:
        value = max(lo, value)
    if hi is not None:
        value = min(hi, value)
    return value


def _int(settings: Any, name: str, default: int, *, lo: int) -> int:
    return max(lo, int(_num(settings, name, default)))


def _choice(settings: Any, name: str, default: str, choices: tuple[str, ...], *, upper: bool) -> str:
    raw = str(getattr(settings, name, default) or default).strip()
    value = raw.upper() if upper else raw.lower()
    return value if value in choices else default


def engine_config_from(settings: Any, rules: PairRules) -> EngineConfig:
    """Read the reducer's knobs from `settings` (lower-case attribute names) with safe clamping.

    Clamps keep the price formulas meaningful: a buy exit needs `1 - fee - profit > 0`, so the
    profit target is capped at 50 %; counts that act as caps are at least 1.
    """
    d = _DEFAULTS
    return EngineConfig(
        entry_pct=_num(settings, "entry_pct", d.entry_pct, lo=0.0, hi=50.0),
        profit_pct=_num(settings, "profit_pct", d.profit_pct, lo=0.0, hi=50.0),
        refresh_pct=_num(settings, "refresh_pct", d.refresh_pct, lo=0.0),
        max_consecutive_refreshes=_int(
            settings, "max_consecutive_refreshes", d.max_consecutive_refreshes, lo=1
        ),
        refresh_cooldown_sec=_num(settings, "refresh_cooldown_sec", d.refresh_cooldown_sec, lo=0.0),
        s1_orphan_after_sec=_num(settings, "s1_orphan_after_sec", d.s1_orphan_after_sec, lo=0.0),
        s2_orphan_after_sec=_num(settings, "s2_orphan_after_sec", d.s2_orphan_after_sec, lo=0.0),
        reentry_base_cooldown_sec=_num(
            settings, "reentry_base_cooldown_sec", d.reentry_base_cooldown_sec, lo=0.0
        ),
        max_consecutive_losses=_int(settings, "max_consecutive_losses", d.max_consecutive_losses, lo=1),
        loss_cooldown_sec=_num(settings, "loss_cooldown_sec", d.loss_cooldown_sec, lo=0.0),
        max_recovery_slots=_int(settings, "max_recovery_slots", d.max_recovery_slots, lo=1),
        sticky_mode_enabled=bool(getattr(settings, "sticky_mode_enabled", d.sticky_mode_enabled)),
        order_size_usd=_num(settings, "order_size_usd", d.order_size_usd, lo=0.0),
        order_size_mode=_choice(settings, "order_size_mode", d.order_size_mode, ("USD", "DOGE"), upper=True),  # type: ignore[arg-type]
        order_size_doge=_num(settings, "order_size_doge", d.order_size_doge, lo=0.0),
        sticky_compounding_mode=_choice(  # type: ignore[arg-type]
            settings,
            "sticky_compounding_mode",
            d.sticky_compounding_mode,
            ("legacy_profit", "fixed"),
            upper=False,
        ),
        capital_layer_doge_per_order=_num(
            settings, "capital_layer_doge_per_order", d.capital_layer_doge_per_order, lo=0.0
        ),
        capital_layer_balance_buffer=_num(
            settings, "capital_layer_balance_buffer", d.capital_layer_balance_buffer, lo=1.0
        ),
        rebalance_size_sensitivity=_num(
            settings, "rebalance_size_sensitivity", d.rebalance_size_sensitivity, lo=0.0
        ),
        rebalance_max_size_mult=_num(settings, "rebalance_max_size_mult", d.rebalance_max_size_mult, lo=1.0),
        completed_cycles_keep=_int(settings, "completed_cycles_keep", d.completed_cycles_keep, lo=1),
        rules=rules,
    )
