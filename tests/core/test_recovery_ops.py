"""Recovery operations (§11) and the reconcile_drift plan."""

from __future__ import annotations

import pytest

from actors.status import RecoverySummary
from core import order_ids
from core import recovery_ops as ro
from core import state_machine as sm
from core.market import PairRules
from core.recovery_ops import ExchangeOrder, RecoveryView

RULES = PairRules()
MARKET = 0.1


def rec(slot: int, rid: int, side: str, price: float, orphaned_at: float = 0.0) -> RecoveryView:
    return RecoveryView(slot_id=slot, recovery_id=rid, side=side, price=price, volume=50.0, orphaned_at=orphaned_at)  # type: ignore[arg-type]


BOOK = [
    rec(1, 1, "sell", 0.110, orphaned_at=300),  # 10 % away
    rec(1, 2, "buy", 0.095, orphaned_at=100),  # 5 %
    rec(2, 1, "sell", 0.130, orphaned_at=200),  # 30 %
    rec(3, 1, "buy", 0.0999, orphaned_at=50),  # 0.1 %: already near market
]


def test_distance_pct() -> None:
    assert ro.distance_pct(0.11, 0.1) == pytest.approx(10.0)
    assert ro.distance_pct(0.09, 0.1) == pytest.approx(10.0)
    assert ro.distance_pct(0.09, 0.0) == float("inf")


# ------------------------------------------------------------------------------ soft-close price


def test_soft_close_price_sell_just_above_market_rounded_up_to_tick() -> None:
    price = ro.soft_close_price("sell", 0.12345678, 0.2, RULES, offset_pct=0.1)
    assert price == pytest.approx(0.1235803)  # 0.12358023... rounded up to 7 decimals
    assert price > 0.12345678


def test_soft_close_price_buy_just_below_market_rounded_down_to_tick() -> None:
    price = ro.soft_close_price("buy", 0.12345678, 0.05, RULES, offset_pct=0.1)
    assert price == pytest.approx(0.1233333)
    assert price < 0.12345678


def test_soft_close_price_never_moves_away_from_market() -> None:
    assert ro.soft_close_price("sell", MARKET, 0.1000500, RULES) is None  # already inside the target
    assert ro.soft_close_price("buy", MARKET, 0.0999500, RULES) is None
    assert ro.soft_close_price("buy", 0.0, 0.05, RULES) is None


def test_soft_close_price_keeps_at_least_one_tick_on_the_maker_side() -> None:
    assert ro.soft_close_price("sell", MARKET, 0.2, RULES, offset_pct=0.0) == pytest.approx(0.1000001)
    assert ro.soft_close_price("buy", MARKET, 0.05, RULES, offset_pct=0.0) == pytest.approx(0.0999999)


def test_soft_close_price_rejects_unknown_side() -> None:
    with pytest.raises(ValueError):
        ro.soft_close_price("hold", MARKET, 0.2, RULES)


# ------------------------------------------------------------------------------ auto soft-close


def test_auto_soft_close_only_above_capacity_threshold() -> None:
    assert ro.select_auto_soft_close(BOOK, MARKET, 95.0, RULES) == []
    plans = ro.select_auto_soft_close(BOOK, MARKET, 95.1, RULES)
    assert [(p.recovery.slot_id, p.recovery.recovery_id) for p in plans] == [(2, 1), (1, 1)]
    assert plans[0].new_price == pytest.approx(0.1001)


def test_auto_soft_close_batch_and_disabled() -> None:
    assert len(ro.select_auto_soft_close(BOOK, MARKET, 99.0, RULES, batch=3)) == 3
    assert ro.select_auto_soft_close(BOOK, MARKET, 99.0, RULES, batch=0) == []
    assert ro.select_auto_soft_close(BOOK, 0.0, 99.0, RULES) == []


def test_auto_soft_close_skips_recoveries_already_near_market() -> None:
    plans = ro.select_auto_soft_close(BOOK, MARKET, 99.0, RULES, batch=10)
    assert (3, 1) not in [(p.recovery.slot_id, p.recovery.recovery_id) for p in plans]
    assert len(plans) == 3


def test_auto_soft_close_ties_break_oldest_first() -> None:
    twins = [rec(5, 1, "sell", 0.12, orphaned_at=20), rec(4, 1, "sell", 0.12, orphaned_at=10)]
    plans = ro.select_auto_soft_close(twins, MARKET, 99.0, RULES, batch=1)
    assert plans[0].recovery.slot_id == 4


# ------------------------------------------------------------------------------ manual selections


def test_soft_close_next_is_the_oldest_recovery() -> None:
    picked = ro.soft_close_next(BOOK)
    assert picked is not None and (picked.slot_id, picked.recovery_id) == (3, 1)
    assert ro.soft_close_next([]) is None


def test_cancel_stale_recoveries_selects_beyond_distance_farthest_first() -> None:
    stale = ro.select_stale_recoveries(BOOK, MARKET, min_distance_pct=6.0)
    assert [(r.slot_id, r.recovery_id) for r in stale] == [(2, 1), (1, 1)]
    at_edge = [rec(1, 1, "sell", 0.125)]  # 25 % away (as computed), threshold exactly that: not beyond
    assert ro.select_stale_recoveries(at_edge, MARKET, ro.distance_pct(0.125, MARKET)) == []
    assert ro.select_stale_recoveries(BOOK, 0.0, 1.0) == []
    assert len(ro.select_stale_recoveries(BOOK, MARKET, 0.0)) == 4


def test_plan_soft_close_for_a_manual_selection() -> None:
    plans = ro.plan_soft_close(BOOK, MARKET, RULES)
    assert {(p.recovery.slot_id, p.recovery.recovery_id) for p in plans} == {(1, 1), (1, 2), (2, 1)}
    buy = next(p for p in plans if p.recovery.side == "buy")
    assert buy.new_price == pytest.approx(0.0999)


# ------------------------------------------------------------------------- drift reconciliation


def ours(slot: int, local: int, role: str = "entry") -> str:
    owner = order_ids.OrderOwner(kind="s", slot_id=slot, trade_id="A", role=role, cycle=1, local_id=local)
    return order_ids.encode(owner)


def test_reconcile_drift_cancels_only_our_untracked_orders() -> None:
    orders = [
        ExchangeOrder(txid="T1", cl_ord_id=ours(1, 1)),  # tracked by txid
        ExchangeOrder(txid="T2", cl_ord_id=ours(1, 2)),  # ours, nobody tracks it: cancel
        ExchangeOrder(txid="T3", cl_ord_id=""),  # placed by hand: foreign
        ExchangeOrder(txid="T4", cl_ord_id="my-grid-bot-7"),  # other software: foreign
        ExchangeOrder(txid="T5", cl_ord_id=ours(2, 9, "recovery")),  # in flight: tracked by cl_ord_id
        ExchangeOrder(txid="T2", cl_ord_id=ours(1, 2)),  # duplicate report
    ]
    plan = ro.plan_drift_reconciliation(orders, tracked_txids={"T1", "GONE"}, tracked_cl_ord_ids={ours(2, 9, "recovery")})
    assert [o.txid for o in plan.cancel] == ["T2"]
    assert [o.txid for o in plan.foreign] == ["T3", "T4"]
    assert plan.tracked == 2
    assert plan.missing_on_exchange == ["GONE"]


def test_reconcile_drift_never_touches_foreign_orders_even_when_nothing_is_tracked() -> None:
    plan = ro.plan_drift_reconciliation([ExchangeOrder(txid="X", cl_ord_id="s1-AE1")], tracked_txids=[])
    assert plan.cancel == [] and len(plan.foreign) == 1  # looks like ours but does not decode


def test_recovery_summary_block() -> None:
    block = ro.recovery_summary(total=205, cap_per_slot=4, auto_soft_close_total=7, warn_at=100)
    assert block == RecoverySummary(total=205, cap_per_slot=4, orphan_pressure_level=2, auto_soft_close_total=7)
    assert ro.recovery_summary(0, 4, 0).orphan_pressure_level == 0


def test_recovery_views_from_reducer_state() -> None:
    rec_order = sm.RecoveryOrder(
        recovery_id=3, side="sell", price=0.12, volume=80.0, trade_id="B", cycle=2, entry_price=0.1,
        orphaned_at=500.0, txid="TXR",
    )
    st = sm.PairState(slot_id=6, market_price=0.1, recovery_orders=(rec_order,))
    (view,) = ro.recovery_views(st)
    assert view == RecoveryView(
        slot_id=6, recovery_id=3, side="sell", price=0.12, volume=80.0, entry_price=0.1, orphaned_at=500.0, txid="TXR"
    )
