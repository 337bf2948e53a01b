"""Slot bootstrap / reseed branch decision (STATE_MACHINE.md §8) and degraded-slot auto-repair
(SLOT_BOOTSTRAP_FIX_PLAN; STATE_MACHINE.md §4 step 8).

Balances are Kraken's, authoritative at each check. What a slot may spend is the *available*
amount: the Kraken balance minus what the bot's own open orders already hold
(USD for open buys incl. their fee, DOGE for open sells), never below zero. The runtime passes the
reserved amounts in; this module does not guess them.

Trade A = sell entry (spends DOGE), trade B = buy entry (spends USD).
The caller checks the §8 precondition (a slot with active orders is not bootstrapped).
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from core.market import PairRules
from core.slot_types import PairState

BootstrapDecision = Literal["both", "short_only", "long_only", "A", "B", "cannot", "wait_min_size"]
Trade = Literal["A", "B"]
RESEED_MULTIPLE = 2.0
REGIME_SUPPRESSION_TIER = 2  # tier at/above which the regime suppresses one entry side


class Funds(msgspec.Struct, frozen=True, kw_only=True):
    """Kraken balances and what the bot's open orders already reserve out of them."""

    usd_balance: float
    doge_balance: float
    usd_reserved: float = 0.0
    doge_reserved: float = 0.0

    @property
    def usd_available(self) -> float:
        return max(0.0, self.usd_balance - self.usd_reserved)

    @property
    def doge_available(self) -> float:
        return max(0.0, self.doge_balance - self.doge_reserved)


class BootstrapPlan(msgspec.Struct, frozen=True, kw_only=True):
    decision: BootstrapDecision
    a_volume: float | None  # sell entry volume to place, None = no A entry
    b_volume: float | None  # buy entry volume to place, None = no B entry
    long_only: bool
    short_only: bool
    mode_source: Literal["none", "balance", "regime"]
    order_source: Literal["bootstrap", "bootstrap_regime"]
    reason: str
    pause_reason: str | None = None  # set only for 'cannot': the runtime pauses with this text


def min_tradeable_volume(price: float, rules: PairRules) -> float:
    """Smallest volume Kraken accepts at `price`: ordermin, or costmin / price if that is larger,
    rounded *up* to the volume step so the order really meets the minimum."""
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    need = max(rules.min_volume, rules.min_cost_usd / price)
    step = 10**rules.volume_decimals
    return math.ceil(need * step - 1e-6) / step


def buy_cost(volume: float, price: float, rules: PairRules) -> float:
    """USD a buy of `volume` at `price` ties up, including the maker fee (Kraken takes it in USD)."""
    return volume * price * (1.0 + rules.maker_fee_pct / 100.0)


def _plan_without_orders(
    decision: BootstrapDecision,
    *,
    mode_source: Literal["none", "balance", "regime"],
    order_source: Literal["bootstrap", "bootstrap_regime"],
    reason: str,
    pause_reason: str | None = None,
) -> BootstrapPlan:
    """A plan that places no entry (waiting or cannot): no volumes, no one-sided mode flags."""
    return BootstrapPlan(
        decision=decision,
        a_volume=None,
        b_volume=None,
        long_only=False,
        short_only=False,
        mode_source=mode_source,
        order_source=order_source,
        reason=reason,
        pause_reason=pause_reason,
    )


def plan_bootstrap(
    *,
    slot_id: int,
    funds: Funds,
    price: float,
    order_volume: float | None,
    rules: PairRules,
    suppressed_trade: Trade | None = None,
) -> BootstrapPlan:
    """§8 branch order, checking each side against what the order it would place really needs.

    order_volume: the slot's entry volume from sizing, None when sizing is below Kraken's minimum
    (the min-size wait state: no order, the slot waits). price: the market price; a buy is costed
    at market (above the B entry price), which is the conservative side.
    suppressed_trade: the regime's tier-2 suppression of one side; that side is never placed
    ('bootstrap_regime', mode_source 'regime').

    1. both fundable at slot size            -> 'both'
    2. USD short, DOGE >= 2 x min volume     -> 'short_only', A sell of 2 x min volume
    3. DOGE short, USD >= cost(2 x min vol)  -> 'long_only', B buy of 2 x min volume
    4. DOGE >= min volume                    -> 'A' (short_only), A at the slot size or what DOGE allows
       USD >= cost(min volume)               -> 'B' (long_only), likewise
    5. otherwise                             -> 'cannot' + pause reason
    "2 x minimum" is read as the 2 x min-volume reseed order itself, so the USD test is that
    order's real cost (2 x min_cost_usd alone would under-fund a 100-DOGE buy at any normal price).
    """
    if order_volume is None or not rules.meets_minimums(order_volume, price):
        return _plan_without_orders(
            "wait_min_size",
            mode_source="none",
            order_source="bootstrap",
            reason=f"slot {slot_id}: order size below Kraken minimum at {price:.7f}; waiting",
        )
    min_vol = min_tradeable_volume(price, rules)
    reseed = rules.floor_volume(min_vol * RESEED_MULTIPLE)
    doge = funds.doge_available
    usd = funds.usd_available
    a_ok = suppressed_trade != "A"
    b_ok = suppressed_trade != "B"
    regime = suppressed_trade is not None
    mode_source: Literal["balance", "regime"] = "regime" if regime else "balance"
    order_source: Literal["bootstrap", "bootstrap_regime"] = "bootstrap_regime" if regime else "bootstrap"

    def plan(decision: BootstrapDecision, a: float | None, b: float | None, reason: str) -> BootstrapPlan:
        one_sided = a is None or b is None
        return BootstrapPlan(
            decision=decision,
            a_volume=a,
            b_volume=b,
            long_only=a is None and b is not None,
            short_only=b is None and a is not None,
            mode_source=mode_source if one_sided else "none",
            order_source=order_source,
            reason=f"slot {slot_id}: {reason}",
        )

    has_a = doge + 1e-12 >= order_volume
    has_b = usd + 1e-12 >= buy_cost(order_volume, price, rules)
    if a_ok and b_ok and has_a and has_b:
        return plan("both", order_volume, order_volume, "both sides funded")
    if a_ok and (not has_b or not b_ok) and doge + 1e-12 >= reseed:
        why = "B suppressed by regime" if not b_ok else f"USD {usd:.2f} short"
        volume = order_volume if (regime and has_a) else reseed
        return plan("short_only", volume, None, f"{why}; A sell reseed of {volume:g} DOGE")
    if b_ok and (not has_a or not a_ok) and usd + 1e-12 >= buy_cost(reseed, price, rules):
        why = "A suppressed by regime" if not a_ok else f"DOGE {doge:.2f} short"
        volume = order_volume if (regime and has_b) else reseed
        return plan("long_only", None, volume, f"{why}; B buy reseed of {volume:g} DOGE")
    if a_ok and doge + 1e-12 >= min_vol:
        volume = min(order_volume, rules.floor_volume(doge))
        return plan("A", volume, None, f"degraded: only DOGE {doge:.2f} fundable; A sell {volume:g}")
    if b_ok and usd + 1e-12 >= buy_cost(min_vol, price, rules):
        affordable = rules.floor_volume(usd / (price * (1.0 + rules.maker_fee_pct / 100.0)))
        volume = max(min_vol, min(order_volume, affordable))
        return plan("B", None, volume, f"degraded: only USD {usd:.2f} fundable; B buy {volume:g}")
    if regime and plan_bootstrap(
        slot_id=slot_id, funds=funds, price=price, order_volume=order_volume, rules=rules
    ).decision != "cannot":
        # Only the regime stands in the way (the funded side is the suppressed one): wait for the
        # suppression to lapse instead of pausing the whole bot.
        return _plan_without_orders(
            "cannot",
            mode_source="regime",
            order_source=order_source,
            reason=f"slot {slot_id}: trade {suppressed_trade} suppressed by regime and the other side unfunded; waiting",
        )
    text = f"slot {slot_id} cannot bootstrap: insufficient USD and DOGE"
    return _plan_without_orders(
        "cannot",
        mode_source="none",
        order_source=order_source,
        reason=f"{text} (usd {usd:.2f}, doge {doge:.2f}, min volume {min_vol:g})",
        pause_reason=text,
    )


# ------------------------------------------------------------------------------------ auto-repair


class SlotFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What repair needs to know about one slot (the runtime reads it off PairState)."""

    slot_id: int
    long_only: bool
    short_only: bool
    mode_source: str  # 'none' | 'balance' | 'regime'
    has_entry_a: bool
    has_entry_b: bool
    has_exit_a: bool  # A in position: a buy exit is working
    has_exit_b: bool  # B in position: a sell exit is working
    cooldown_until_a: float = 0.0
    cooldown_until_b: float = 0.0


def slot_facts(state: PairState) -> SlotFacts:
    """SlotFacts read off a slot's PairState (A exit = buy exit, B exit = sell exit)."""

    def has(trade: str, role: str) -> bool:
        return any(o.trade_id == trade and o.role == role for o in state.orders)

    return SlotFacts(
        slot_id=state.slot_id,
        long_only=state.long_only,
        short_only=state.short_only,
        mode_source=state.mode_source,
        has_entry_a=has("A", "entry"),
        has_entry_b=has("B", "entry"),
        has_exit_a=has("A", "exit"),
        has_exit_b=has("B", "exit"),
        cooldown_until_a=state.cooldown_until_a,
        cooldown_until_b=state.cooldown_until_b,
    )


class RepairDecision(msgspec.Struct, frozen=True, kw_only=True):
    repair: bool
    trade_id: Trade | None  # the entry to restore
    volume: float | None
    reason: str  # why (skip reasons are stable words first, for counting)
    source: Literal["auto_repair"] = "auto_repair"


def missing_trade(facts: SlotFacts) -> Trade | None:
    """The one trade with neither an entry nor an exit while the other trade is working.

    Both missing is an empty slot: that is bootstrap's job, not repair's.
    """
    a_missing = not (facts.has_entry_a or facts.has_exit_a)
    b_missing = not (facts.has_entry_b or facts.has_exit_b)
    if a_missing and not b_missing:
        return "A"
    if b_missing and not a_missing:
        return "B"
    return None


def regime_blocks(
    trade: Trade,
    mode_source: str,
    regime_tier: int,
    regime_suppressed_side: Trade | None,
    tier2_cooldown_until: float,
    now: float,
) -> str | None:
    """The fix plan's gate: a 'regime' slot waits while its missing side is still suppressed
    (tier >= 2 suppressing that trade) or the tier-2 re-entry cooldown still runs.

    A side under active tier-2 suppression is never placed, whatever the slot's mode source (the
    plan's acceptance criterion: suppression "still prevents prohibited side placement"); the
    cooldown only holds slots the regime degraded (mode_source 'regime')."""
    if regime_tier >= REGIME_SUPPRESSION_TIER and regime_suppressed_side == trade:
        return f"regime_suppressed: tier {regime_tier} suppresses trade {trade}"
    if mode_source != "regime":
        return None
    if now < tier2_cooldown_until:
        return f"regime_cooldown: tier-2 re-entry cooldown for {tier2_cooldown_until - now:.0f}s more"
    return None


def repair_decision(
    facts: SlotFacts,
    regime_tier: int,
    regime_suppressed_side: Trade | None,
    tier2_cooldown_until: float,
    now: float,
    *,
    funds: Funds,
    price: float,
    order_volume: float | None,
    rules: PairRules,
) -> RepairDecision:
    """Restore a degraded slot's missing entry when allowed and fundable (order source 'auto_repair')."""

    def skip(reason: str, trade: Trade | None = None) -> RepairDecision:
        return RepairDecision(repair=False, trade_id=trade, volume=None, reason=f"{reason} (slot {facts.slot_id})")

    trade = missing_trade(facts)
    if trade is None:
        return skip("not_degraded")
    block = regime_blocks(trade, facts.mode_source, regime_tier, regime_suppressed_side, tier2_cooldown_until, now)
    if block is not None:
        return skip(block, trade)
    cooldown = facts.cooldown_until_a if trade == "A" else facts.cooldown_until_b
    if now < cooldown:
        return skip(f"reentry_cooldown: trade {trade} for {cooldown - now:.0f}s more", trade)
    if order_volume is None or not rules.meets_minimums(order_volume, price):
        return skip("below_minimum: order size below Kraken minimum", trade)
    if trade == "A" and funds.doge_available + 1e-12 < order_volume:
        return skip(f"insufficient_doge: {funds.doge_available:.2f} < {order_volume:g}", trade)
    if trade == "B" and funds.usd_available + 1e-12 < buy_cost(order_volume, price, rules):
        return skip(f"insufficient_usd: {funds.usd_available:.2f} < {buy_cost(order_volume, price, rules):.2f}", trade)
    return RepairDecision(
        repair=True, trade_id=trade, volume=order_volume, reason=f"repair: restore trade {trade} entry (slot {facts.slot_id})"
    )
