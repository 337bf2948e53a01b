"""Operational guardrails (§24) and capacity-safe slot-add advice (sticky checklist §3.6)."""

from __future__ import annotations

import msgspec
import pytest

from actors.status import OpenOrderDriftHint
from core import guardrails as g

T0 = 1_700_000_000.0


# ---------------------------------------------------------------------------------- stale price


def test_stale_price_pauses_only_strictly_above_max_age() -> None:
    assert g.check_stale_price(T0, T0 + 120, 120) is None
    event = g.check_stale_price(T0, T0 + 120.5, 120)
    assert event is not None
    assert (event.kind, event.action) == ("pause_stale_price", "pause")
    assert "STALE_PRICE_MAX_AGE_SEC=120s" in event.message


def test_stale_price_without_any_price_pauses() -> None:
    event = g.check_stale_price(0.0, T0)
    assert event is not None and "no price" in event.message
    assert g.price_age(0.0, T0) is None
    assert g.price_age(T0 + 5, T0) == 0.0  # a price stamped ahead of our clock is fresh


# ------------------------------------------------------------------------- consecutive errors


def test_consecutive_api_errors_pause_at_threshold() -> None:
    s = g.ApiErrorState()
    for _ in range(4):
        s, events = g.record_api_result(s, ok=False, max_errors=5, detail="EAPI:Rate limit exceeded")
        assert events == []
    s, events = g.record_api_result(s, ok=False, max_errors=5, detail="EAPI:Rate limit exceeded")
    assert s.consecutive == 5
    assert [e.kind for e in events] == ["pause_api_errors"]
    assert "EAPI:Rate limit exceeded" in events[0].message
    # Still failing after an operator resume: pauses again.
    s, events = g.record_api_result(s, ok=False, max_errors=5)
    assert [e.action for e in events] == ["pause"]


def test_consecutive_api_errors_reset_on_success() -> None:
    s = g.ApiErrorState()
    for _ in range(4):
        s, _ = g.record_api_result(s, ok=False, max_errors=5)
    s, events = g.record_api_result(s, ok=True, max_errors=5)
    assert s.consecutive == 0 and events == []
    s, events = g.record_api_result(s, ok=False, max_errors=5)
    assert s.consecutive == 1 and events == []


# ------------------------------------------------------------------------------- drift alert


def test_drift_threshold_is_pct_of_internal_with_one_order_floor() -> None:
    assert g.drift_threshold_orders(100) == 5.0
    assert g.drift_threshold_orders(10) == 1.0
    assert g.drift_threshold_orders(0) == 1.0
    assert g.drift_threshold_orders(10, min_orders=2) == 2.0


def test_drift_persisting_ten_minutes_sends_one_alert() -> None:
    s = g.DriftAlertState()
    s, events = g.update_drift(s, kraken=106, internal=100, now=T0)
    assert events == [] and s.exceeding and s.since == T0
    s, events = g.update_drift(s, kraken=106, internal=100, now=T0 + 599)
    assert events == []
    s, events = g.update_drift(s, kraken=107, internal=100, now=T0 + 600)
    assert [e.kind for e in events] == ["drift_alert"]
    assert "+7" in events[0].message
    s, events = g.update_drift(s, kraken=107, internal=100, now=T0 + 1200)
    assert events == [] and s.alerted


def test_drift_below_threshold_never_alerts() -> None:
    s = g.DriftAlertState()
    for i in range(10):
        s, events = g.update_drift(s, kraken=104, internal=100, now=T0 + i * 600)
        assert events == []
    assert not s.exceeding and s.drift == 4


def test_negative_drift_counts_by_magnitude() -> None:
    s, _ = g.update_drift(g.DriftAlertState(), kraken=90, internal=100, now=T0)
    s, events = g.update_drift(s, kraken=90, internal=100, now=T0 + 600)
    assert [e.kind for e in events] == ["drift_alert"]


def test_transient_drift_resets_the_persistence_timer() -> None:
    s, _ = g.update_drift(g.DriftAlertState(), kraken=110, internal=100, now=T0)
    s, _ = g.update_drift(s, kraken=100, internal=100, now=T0 + 300)
    s, events = g.update_drift(s, kraken=110, internal=100, now=T0 + 700)
    assert events == [] and s.since == T0 + 700


def test_drift_auto_clears_with_recovery_notification() -> None:
    s, _ = g.update_drift(g.DriftAlertState(), kraken=110, internal=100, now=T0)
    s, _ = g.update_drift(s, kraken=110, internal=100, now=T0 + 600)
    s, events = g.update_drift(s, kraken=101, internal=100, now=T0 + 700)
    assert [(e.kind, e.action) for e in events] == [("drift_cleared", "notice")]
    assert not s.alerted and s.since is None


def test_drift_unknown_kraken_count_holds_the_run() -> None:
    s, _ = g.update_drift(g.DriftAlertState(), kraken=110, internal=100, now=T0)
    s, events = g.update_drift(s, kraken=None, internal=100, now=T0 + 300)
    assert events == [] and s.since == T0 and s.drift is None
    s, events = g.update_drift(s, kraken=110, internal=100, now=T0 + 600)
    assert [e.kind for e in events] == ["drift_alert"]


def test_drift_hint_block() -> None:
    s, _ = g.update_drift(g.DriftAlertState(), kraken=12, internal=10, now=T0)
    hint = g.drift_hint(s)
    assert isinstance(hint, OpenOrderDriftHint)
    assert hint == OpenOrderDriftHint(active=True, drift=2, drift_pct=20.0, since=T0, alerted=False)
    assert msgspec.json.decode(msgspec.json.encode(s), type=g.DriftAlertState) == s


# ---------------------------------------------------------------------------- orphan pressure


def test_orphan_pressure_fires_once_per_new_multiple() -> None:
    s = g.OrphanPressureState()
    fired = []
    for total in [5, 9, 10, 11, 10, 19, 20, 20, 35]:
        s, events = g.update_orphan_pressure(s, total, warn_at=10)
        fired.extend((total, e.kind) for e in events)
    assert fired == [(10, "orphan_pressure"), (20, "orphan_pressure"), (35, "orphan_pressure")]
    assert s.notified_level == 3


def test_orphan_pressure_jump_over_several_multiples_sends_one_notice() -> None:
    s, events = g.update_orphan_pressure(g.OrphanPressureState(), 45, warn_at=10)
    assert s.notified_level == 4
    assert len(events) == 1 and ">= 40" in events[0].message


def test_orphan_pressure_refires_after_falling_below_a_multiple() -> None:
    s, _ = g.update_orphan_pressure(g.OrphanPressureState(), 10, warn_at=10)
    s, events = g.update_orphan_pressure(s, 8, warn_at=10)
    assert events == [] and s.notified_level == 0
    s, events = g.update_orphan_pressure(s, 10, warn_at=10)
    assert len(events) == 1


def test_orphan_pressure_level_edge_cases() -> None:
    assert g.orphan_pressure_level(0, 10) == 0
    assert g.orphan_pressure_level(99, 100) == 0
    assert g.orphan_pressure_level(250, 100) == 2
    assert g.orphan_pressure_level(250, 0) == 0


# ------------------------------------------------------------------------ slot-add advice


def test_slot_add_allowed_with_room() -> None:
    advice = g.slot_add_advice(slot_count=20, adding=1, recovery_orders=10, safe_cap=168)
    assert advice.decision == "allow"
    assert advice.projected_orders == 52
    assert advice.projected_headroom == 116
    assert advice.max_addable == 59


def test_slot_add_warns_in_caution_band() -> None:
    # 2 x 70 + 10 = 150 -> headroom 18
    advice = g.slot_add_advice(slot_count=69, adding=1, recovery_orders=10, safe_cap=168)
    assert advice.decision == "warn"
    assert "caution" in advice.reason


def test_slot_add_blocked_when_projected_all_s0_exceeds_safe_cap() -> None:
    advice = g.slot_add_advice(slot_count=78, adding=2, recovery_orders=10, safe_cap=168)
    assert advice.projected_orders == 170
    assert advice.decision == "block"
    assert advice.max_addable == 1
    assert "exceed the safe cap 168" in advice.reason


def test_slot_add_counts_untracked_and_other_orders() -> None:
    base = g.slot_add_advice(slot_count=50, adding=1, recovery_orders=0, safe_cap=168)
    more = g.slot_add_advice(
        slot_count=50, adding=1, recovery_orders=0, safe_cap=168, untracked_orders=6, other_orders=4
    )
    assert more.projected_orders == base.projected_orders + 10
    negative = g.slot_add_advice(slot_count=50, adding=1, recovery_orders=0, safe_cap=168, untracked_orders=-6)
    assert negative.projected_orders == base.projected_orders  # fewer on Kraken frees nothing for sure


def test_slot_add_blocked_by_partial_cancel_events() -> None:
    advice = g.slot_add_advice(slot_count=1, adding=1, recovery_orders=0, safe_cap=168, partial_cancel_events_1d=1)
    assert advice.decision == "block"
    assert "frozen" in advice.reason


@pytest.mark.parametrize(("slots", "decision"), [(64, "allow"), (65, "warn"), (74, "warn"), (75, "block")])
def test_slot_add_thresholds(slots: int, decision: str) -> None:
    # safe cap 150, no recoveries: after adding one, projected = 2 * (slots + 1)
    assert g.slot_add_advice(slot_count=slots, adding=1, recovery_orders=0, safe_cap=150).decision == decision
