"""check_invariants: healthy states pass; each broken invariant is reported in words."""

from __future__ import annotations

from msgspec.structs import replace

from core import state_machine as sm
from tests.core.test_state_machine_builders import CFG, make_cfg, order_of, s0_state, s1_state, s2_state


def _swap(st: sm.PairState, old: sm.OrderState, new: sm.OrderState) -> sm.PairState:
    return replace(st, orders=tuple(new if o.local_id == old.local_id else o for o in st.orders))


def _without(st: sm.PairState, trade: str, role: str) -> sm.PairState:
    return replace(st, orders=tuple(o for o in st.orders if not (o.trade_id == trade and o.role == role)))


def _has(violations: list[str], *words: str) -> bool:
    return any(all(w in v for w in words) for v in violations)


def test_healthy_phases_have_no_violations() -> None:
    for st in (s0_state(), s1_state("A"), s1_state("B"), s2_state()):
        assert sm.check_invariants(st, CFG) == []


def test_valid_fallback_structures_pass() -> None:
    st = s0_state()
    assert (
        sm.check_invariants(replace(_without(st, "A", "entry"), long_only=True, mode_source="balance")) == []
    )
    assert (
        sm.check_invariants(replace(_without(st, "B", "entry"), short_only=True, mode_source="regime")) == []
    )
    s1b = replace(_without(s1_state("B"), "A", "entry"), long_only=True, mode_source="balance")
    assert sm.check_invariants(s1b) == []


def test_s0_must_be_two_sided_or_a_valid_fallback() -> None:
    v = sm.check_invariants(_without(s0_state(), "A", "entry"))
    assert _has(v, "S0", "trade A has no order", "not in fallback mode")


def test_s0_long_only_with_a_sell_entry_is_reported() -> None:
    v = sm.check_invariants(replace(s0_state(), long_only=True, mode_source="balance"))
    assert _has(v, "long_only is set but trade A has a sell entry")


def test_s1a_needs_its_buy_exit_plus_the_b_buy_entry() -> None:
    v = sm.check_invariants(_without(s1_state("A"), "B", "entry"))
    assert _has(v, "S1a", "trade B has no order")


def test_s1b_needs_its_sell_exit_plus_the_a_sell_entry() -> None:
    v = sm.check_invariants(_without(s1_state("B"), "A", "entry"))
    assert _has(v, "S1b", "trade A has no order")


def test_s2_must_be_exactly_one_buy_exit_and_one_sell_exit() -> None:
    st = s2_state()
    extra = sm.OrderState(
        local_id=99, side="buy", role="entry", price=0.099, volume=60.0, trade_id="B", cycle=1
    )
    v = sm.check_invariants(replace(st, orders=(*st.orders, extra), next_order_id=100))
    assert _has(v, "S2 must be exactly one buy exit + one sell exit")
    assert _has(v, "trade B has 1 entries and 1 exits")


def test_cycle_counters_must_be_at_least_one() -> None:
    st = replace(sm.PairState(), cycle_a=0, long_only=True, mode_source="balance", entry_pending_b=True)
    assert _has(sm.check_invariants(st), "cycle counters must be >= 1")


def test_duplicate_local_order_ids_are_reported() -> None:
    st = s0_state()
    a = order_of(st, "A", "entry")
    dup = replace(order_of(st, "B", "entry"), local_id=a.local_id)
    assert _has(sm.check_invariants(_swap(st, order_of(st, "B", "entry"), dup)), "duplicate order local_id")


def test_local_id_shared_with_a_recovery_is_reported() -> None:
    st = s0_state()
    rec = sm.RecoveryOrder(
        recovery_id=1, local_id=1, side="buy", price=0.09, volume=60.0, trade_id="A", cycle=1, entry_price=0.1
    )
    v = sm.check_invariants(replace(st, recovery_orders=(rec,), next_recovery_id=2))
    assert _has(v, "used by more than one")


def test_exits_must_carry_entry_price() -> None:
    st = s1_state("B")
    ex = order_of(st, "B", "exit")
    assert _has(
        sm.check_invariants(_swap(st, ex, replace(ex, entry_price=0.0))), "exit must carry entry_price"
    )


def test_volume_and_price_must_be_positive() -> None:
    st = s0_state()
    b = order_of(st, "B", "entry")
    v = sm.check_invariants(_swap(st, b, replace(b, volume=0.0, price=-1.0)))
    assert _has(v, "volume must be > 0") and _has(v, "price must be > 0")


def test_trade_sides_are_fixed() -> None:
    st = s0_state()
    a = order_of(st, "A", "entry")
    assert _has(sm.check_invariants(_swap(st, a, replace(a, side="buy"))), "trade A entries must be sells")


def test_order_cycle_must_match_its_trade_cycle() -> None:
    st = s0_state()
    a = order_of(st, "A", "entry")
    assert _has(sm.check_invariants(_swap(st, a, replace(a, cycle=3))), "belongs to cycle 3")


def test_recovery_ids_must_be_unique_and_within_the_cap() -> None:
    rec = sm.RecoveryOrder(
        recovery_id=1,
        local_id=50,
        side="buy",
        price=0.09,
        volume=60.0,
        trade_id="A",
        cycle=1,
        entry_price=0.1,
    )
    twin = replace(rec, local_id=51)
    st = replace(s0_state(), recovery_orders=(rec, twin), next_recovery_id=2, next_order_id=60)
    v = sm.check_invariants(st, make_cfg(max_recovery_slots=1))
    assert _has(v, "duplicate recovery_id") and _has(v, "exceed the cap of 1")


def test_recovery_must_be_an_exit_side_with_entry_price() -> None:
    rec = sm.RecoveryOrder(
        recovery_id=1,
        local_id=50,
        side="sell",
        price=0.09,
        volume=60.0,
        trade_id="A",
        cycle=1,
        entry_price=0.0,
    )
    v = sm.check_invariants(replace(s0_state(), recovery_orders=(rec,), next_recovery_id=2, next_order_id=60))
    assert _has(v, "recovery 1", "must be buys") and _has(v, "must carry entry_price")


def test_s2_entered_at_must_be_null_outside_s2() -> None:
    assert _has(
        sm.check_invariants(replace(s0_state(), s2_entered_at=1.0)), "s2_entered_at must be null outside S2"
    )


def test_both_fallback_flags_at_once_are_reported() -> None:
    st = replace(sm.PairState(), long_only=True, short_only=True, mode_source="balance")
    assert _has(sm.check_invariants(st), "long_only and short_only are both set")


def test_owed_entry_flag_with_an_order_is_reported() -> None:
    assert _has(sm.check_invariants(replace(s0_state(), entry_pending_a=True)), "still marked as owed")


def test_id_counters_must_stay_ahead_of_used_ids() -> None:
    v = sm.check_invariants(replace(s0_state(), next_order_id=2))
    assert _has(v, "next_order_id 2 is not above")


def test_owed_entry_during_cooldown_is_a_legal_gap() -> None:
    st = replace(_without(s0_state(), "B", "entry"), entry_pending_b=True, cooldown_until_b=2000.0)
    assert sm.check_invariants(st) == []
