"""Bootstrap branch decision (§8) and degraded-slot auto-repair (SLOT_BOOTSTRAP_FIX_PLAN §3)."""

from __future__ import annotations

import msgspec
import pytest

from core import bootstrap as bs
from core import state_machine as sm
from core.bootstrap import Funds, SlotFacts
from core.market import PairRules

RULES = PairRules()  # ordermin 50 DOGE, costmin $0.5, maker fee 0.25 %
PRICE = 0.1  # min tradeable volume 50, reseed 100 DOGE (costs $10.025 with fee)
VOL = 60.0  # the slot's order volume (costs $6.015 to buy with fee)
T0 = 1_700_000_000.0


def plan(usd: float, doge: float, *, usd_res: float = 0.0, doge_res: float = 0.0, **kw: object) -> bs.BootstrapPlan:
    funds = Funds(usd_balance=usd, doge_balance=doge, usd_reserved=usd_res, doge_reserved=doge_res)
    return bs.plan_bootstrap(slot_id=3, funds=funds, price=PRICE, order_volume=kw.pop("vol", VOL), rules=RULES, **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- helpers


def test_available_is_balance_minus_reserved_never_negative() -> None:
    f = Funds(usd_balance=10.0, doge_balance=100.0, usd_reserved=4.0, doge_reserved=150.0)
    assert f.usd_available == 6.0
    assert f.doge_available == 0.0


def test_min_tradeable_volume_meets_both_minimums() -> None:
    assert bs.min_tradeable_volume(0.1, RULES) == 50.0
    # at $0.001 the $0.5 cost minimum needs 500 DOGE
    assert bs.min_tradeable_volume(0.001, RULES) == 500.0
    # rounded up, never down, to the volume step
    assert bs.min_tradeable_volume(0.003, RULES) == pytest.approx(166.66666667)
    with pytest.raises(ValueError):
        bs.min_tradeable_volume(0.0, RULES)


# ------------------------------------------------------------------------------ §8 branches


def test_bootstrap_both_sides_available() -> None:
    p = plan(usd=10.0, doge=100.0)
    assert p.decision == "both"
    assert (p.a_volume, p.b_volume) == (VOL, VOL)
    assert not p.long_only and not p.short_only
    assert p.mode_source == "none" and p.order_source == "bootstrap"
    assert p.pause_reason is None


def test_bootstrap_usd_lacking_doge_2x_min_short_only_reseed() -> None:
    p = plan(usd=1.0, doge=100.0)
    assert p.decision == "short_only"
    assert (p.a_volume, p.b_volume) == (100.0, None)  # 2 x min volume
    assert p.short_only and not p.long_only
    assert p.mode_source == "balance"


def test_bootstrap_doge_lacking_usd_2x_min_long_only_reseed() -> None:
    p = plan(usd=10.03, doge=10.0)
    assert p.decision == "long_only"
    assert (p.a_volume, p.b_volume) == (None, 100.0)
    assert p.long_only and not p.short_only


def test_bootstrap_two_x_minimum_usd_means_the_reseed_orders_real_cost() -> None:
    # $9 covers 2 x costmin ($1) many times over but not a 100-DOGE buy ($10.025): no long_only.
    p = plan(usd=9.0, doge=10.0)
    assert p.decision == "B"
    assert p.b_volume == VOL


def test_bootstrap_degraded_one_sided_a() -> None:
    # DOGE 55: below the slot's 60 and the 100 reseed, above the 50 minimum
    p = plan(usd=1.0, doge=55.0)
    assert p.decision == "A"
    assert (p.a_volume, p.b_volume) == (55.0, None)
    assert p.short_only


def test_bootstrap_degraded_one_sided_b() -> None:
    p = plan(usd=5.1, doge=1.0)  # affords 50.87 DOGE, below the 60 wanted
    assert p.decision == "B"
    assert p.b_volume is not None and 50.0 <= p.b_volume < VOL
    assert p.b_volume * PRICE * 1.0025 <= 5.1 + 1e-9
    assert p.long_only


def test_bootstrap_cannot_pauses_with_seed_text() -> None:
    p = plan(usd=1.0, doge=10.0)
    assert p.decision == "cannot"
    assert p.pause_reason == "slot 3 cannot bootstrap: insufficient USD and DOGE"
    assert p.a_volume is None and p.b_volume is None


def test_bootstrap_reserved_funds_are_not_available() -> None:
    # Kraken shows enough, but the bot's open orders already hold most of it.
    p = plan(usd=20.0, doge=200.0, usd_res=15.0, doge_res=190.0)
    assert p.decision == "cannot"


def test_bootstrap_waits_when_order_size_below_minimum() -> None:
    assert plan(usd=100.0, doge=1000.0, vol=None).decision == "wait_min_size"
    assert plan(usd=100.0, doge=1000.0, vol=40.0).decision == "wait_min_size"


def test_bootstrap_regime_suppressed_side_never_placed() -> None:
    p = plan(usd=100.0, doge=1000.0, suppressed_trade="B")
    assert p.decision == "short_only"
    assert (p.a_volume, p.b_volume) == (VOL, None)  # regime one-sided keeps the slot size
    assert p.mode_source == "regime" and p.order_source == "bootstrap_regime"
    p = plan(usd=100.0, doge=1000.0, suppressed_trade="A")
    assert (p.a_volume, p.b_volume) == (None, VOL)
    assert p.long_only


def test_bootstrap_regime_with_only_the_suppressed_side_funded_waits_without_pause() -> None:
    p = plan(usd=0.0, doge=1000.0, suppressed_trade="A")
    assert p.decision == "cannot"
    assert p.pause_reason is None
    assert p.mode_source == "regime"


# ------------------------------------------------------------------------------ auto-repair

FUNDED = Funds(usd_balance=100.0, doge_balance=1000.0)


def degraded(mode_source: str = "regime", missing: str = "B", **kw: object) -> SlotFacts:
    return SlotFacts(
        slot_id=3,
        long_only=missing == "A",
        short_only=missing == "B",
        mode_source=mode_source,
        has_entry_a=missing != "A",
        has_entry_b=missing != "B",
        has_exit_a=False,
        has_exit_b=False,
        **kw,  # type: ignore[arg-type]
    )


def repair(facts: SlotFacts, tier: int, suppressed: str | None, cooldown_until: float, now: float, funds: Funds = FUNDED) -> bs.RepairDecision:
    return bs.repair_decision(
        facts, tier, suppressed, cooldown_until, now, funds=funds, price=PRICE, order_volume=VOL, rules=RULES  # type: ignore[arg-type]
    )


def test_repair_skipped_while_tier2_suppression_active() -> None:
    d = repair(degraded(), tier=2, suppressed="B", cooldown_until=0.0, now=T0)
    assert not d.repair
    assert d.reason.startswith("regime_suppressed")


def test_repair_tier2_to_0_with_cooldown_active_does_not_repair_then_repairs_after_expiry() -> None:
    cooldown_until = T0 + 600  # REGIME_TIER2_REENTRY_COOLDOWN_SEC after the drop to tier 0
    during = repair(degraded(), tier=0, suppressed=None, cooldown_until=cooldown_until, now=T0 + 1)
    assert not during.repair
    assert during.reason.startswith("regime_cooldown")
    at_edge = repair(degraded(), tier=0, suppressed=None, cooldown_until=cooldown_until, now=T0 + 600)
    assert at_edge.repair
    assert (at_edge.trade_id, at_edge.volume, at_edge.source) == ("B", VOL, "auto_repair")


def test_repair_after_suppression_lapses() -> None:
    d = repair(degraded(), tier=1, suppressed=None, cooldown_until=T0 - 1, now=T0)
    assert d.repair and d.trade_id == "B"


def test_repair_non_regime_slot_ignores_regime_cooldown() -> None:
    d = repair(degraded(mode_source="balance"), tier=0, suppressed=None, cooldown_until=T0 + 600, now=T0)
    assert d.repair


def test_repair_never_places_a_side_under_active_suppression_whatever_the_mode_source() -> None:
    d = repair(degraded(mode_source="balance"), tier=2, suppressed="B", cooldown_until=0.0, now=T0)
    assert not d.repair and d.reason.startswith("regime_suppressed")


def test_repair_allowed_when_suppression_targets_the_other_side() -> None:
    d = repair(degraded(missing="B"), tier=2, suppressed="A", cooldown_until=0.0, now=T0)
    assert d.repair and d.trade_id == "B"


def test_repair_waits_for_the_trades_reentry_cooldown() -> None:
    facts = degraded(mode_source="balance", missing="A", cooldown_until_a=T0 + 30)
    d = repair(facts, tier=0, suppressed=None, cooldown_until=0.0, now=T0)
    assert not d.repair and d.reason.startswith("reentry_cooldown")
    assert repair(facts, tier=0, suppressed=None, cooldown_until=0.0, now=T0 + 30).repair


def test_repair_requires_funds_for_the_missing_entry() -> None:
    poor_usd = Funds(usd_balance=5.0, doge_balance=1000.0)
    d = repair(degraded(mode_source="balance", missing="B"), 0, None, 0.0, T0, funds=poor_usd)
    assert not d.repair and d.reason.startswith("insufficient_usd")
    poor_doge = Funds(usd_balance=100.0, doge_balance=100.0, doge_reserved=60.0)
    d = repair(degraded(mode_source="balance", missing="A"), 0, None, 0.0, T0, funds=poor_doge)
    assert not d.repair and d.reason.startswith("insufficient_doge")


def test_repair_below_minimum_waits() -> None:
    d = bs.repair_decision(
        degraded(mode_source="balance"), 0, None, 0.0, T0, funds=FUNDED, price=PRICE, order_volume=None, rules=RULES
    )
    assert not d.repair and d.reason.startswith("below_minimum")


@pytest.mark.parametrize(
    ("entry_a", "exit_a", "entry_b", "exit_b", "missing"),
    [
        (True, False, True, False, None),  # healthy S0
        (False, False, False, False, None),  # empty: bootstrap's job
        (True, False, False, False, "B"),  # short_only S0
        (False, True, False, False, "B"),  # A in position, B entry missing
        (False, False, False, True, "A"),
        (False, True, False, True, None),  # S2
        (True, False, False, True, None),  # S1b
    ],
)
def test_missing_trade_detection(entry_a: bool, exit_a: bool, entry_b: bool, exit_b: bool, missing: str | None) -> None:
    facts = SlotFacts(
        slot_id=1,
        long_only=False,
        short_only=False,
        mode_source="none",
        has_entry_a=entry_a,
        has_exit_a=exit_a,
        has_entry_b=entry_b,
        has_exit_b=exit_b,
    )
    assert bs.missing_trade(facts) == missing
    if missing is None:
        assert not repair(facts, 0, None, 0.0, T0).repair


def test_slot_facts_from_reducer_state() -> None:
    st, _ = sm.bootstrap_orders(sm.PairState(slot_id=9, market_price=0.1, now=1000.0), sm.EngineConfig(), 10.0)
    facts = bs.slot_facts(st)
    assert (facts.slot_id, facts.has_entry_a, facts.has_entry_b, facts.has_exit_a, facts.has_exit_b) == (
        9, True, True, False, False,
    )
    assert bs.missing_trade(facts) is None
    only_a = msgspec.structs.replace(
        st, orders=tuple(o for o in st.orders if o.trade_id == "A"), short_only=True, mode_source="regime"
    )
    facts = bs.slot_facts(only_a)
    assert bs.missing_trade(facts) == "B"
    assert facts.short_only and facts.mode_source == "regime"
