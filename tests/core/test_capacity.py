"""Capacity and fill-health telemetry: CAPACITY_TELEMETRY_SPEC unit tests."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.status import CapacityFillHealth
from core import capacity as cap

T0 = 1_700_000_000.0
DAY = 86_400.0


# ------------------------------------------------------------------------------ rolling windows


def test_rolling_window_trim_drops_events_older_than_24h() -> None:
    w = cap.FillHealthWindows()
    w.record_partial_cancel(T0)
    w.record_partial_cancel(T0 + 10)
    assert w.partial_cancel_count(T0 + DAY) == 2  # exactly 24 h old: still inside
    assert w.partial_cancel_count(T0 + DAY + 1) == 1
    assert w.partial_cancel_count(T0 + DAY + 11) == 0


def test_partial_open_events_deduplicated_per_txid() -> None:
    w = cap.FillHealthWindows()
    assert w.record_partial_open("OAAA", T0) is True
    assert w.record_partial_open("OAAA", T0 + 5) is False
    assert w.record_partial_open("OBBB", T0 + 6) is True
    assert w.partial_open_count(T0 + 7) == 2


def test_partial_open_dedup_outlives_the_window_until_the_order_closes() -> None:
    w = cap.FillHealthWindows()
    w.record_partial_open("OAAA", T0)
    # Still open and partially filled 2 days later: not a new event.
    assert w.record_partial_open("OAAA", T0 + 2 * DAY) is False
    assert w.partial_open_count(T0 + 2 * DAY) == 0
    w.forget_txid("OAAA")
    assert w.record_partial_open("OAAA", T0 + 2 * DAY + 1) is True


def test_fill_durations_rolling_and_negative_ignored() -> None:
    w = cap.FillHealthWindows()
    w.record_fill_duration(T0, 30.0)
    w.record_fill_duration(T0 + 1, -5.0)
    w.record_fill_duration(T0 + DAY, 90.0)
    assert w.fill_durations(T0 + DAY) == [30.0, 90.0]
    assert w.fill_durations(T0 + DAY + 0.5) == [90.0]


def test_out_of_order_timestamps_are_clamped_so_trim_stays_ordered() -> None:
    w = cap.FillHealthWindows()
    w.record_partial_cancel(T0 + 100)
    w.record_partial_cancel(T0)  # late report: stamped T0+100
    assert w.partial_cancel_count(T0 + DAY + 50) == 2
    assert w.partial_cancel_count(T0 + DAY + 101) == 0


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        cap.FillHealthWindows(window_sec=0)


# -------------------------------------------------------------------------------- percentiles


def test_percentile_median_and_p95_linear_interpolation() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert cap.percentile(values, 50) == pytest.approx(25.0)
    # rank 0.95 * 3 = 2.85 -> 30 + 0.85 * 10
    assert cap.percentile(values, 95) == pytest.approx(38.5)
    assert cap.percentile([5.0], 95) == 5.0
    assert cap.percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_percentile_empty_is_null() -> None:
    assert cap.percentile([], 50) is None


def test_percentile_bounds_are_min_and_max() -> None:
    assert cap.percentile([4.0, 1.0, 9.0], 0) == 1.0
    assert cap.percentile([4.0, 1.0, 9.0], 100) == 9.0
    with pytest.raises(ValueError):
        cap.percentile([1.0], 101)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50), st.floats(0, 100))
def test_percentile_within_range_and_monotone(values: list[float], p: float) -> None:
    got = cap.percentile(values, p)
    assert got is not None
    assert min(values) - 1e-6 <= got <= max(values) + 1e-6
    assert cap.percentile(values, min(100.0, p + 1)) >= got - 1e-6  # type: ignore[operator]


# -------------------------------------------------------------------- source selection and math


def test_open_order_count_kraken_first() -> None:
    c = cap.open_order_count(internal=40, kraken=43)
    assert (c.current, c.source, c.internal, c.kraken, c.drift) == (43, "kraken", 40, 43, 3)


def test_open_order_count_internal_fallback_when_kraken_unavailable() -> None:
    c = cap.open_order_count(internal=40, kraken=None)
    assert (c.current, c.source, c.kraken, c.drift) == (40, "internal_fallback", None, None)


def test_safe_cap_floors_limit_times_ratio() -> None:
    assert cap.safe_cap(225, 0.75) == 168
    assert cap.safe_cap(100, 0.75) == 75
    assert cap.safe_cap(80, 0.9) == 72
    assert cap.safe_cap(10, 0.0) == 0


def test_headroom_and_utilization() -> None:
    assert cap.headroom(168, 150) == 18
    assert cap.headroom(168, 170) == -2
    assert cap.utilization_pct(84, 168) == pytest.approx(50.0)
    assert cap.utilization_pct(0, 0) == 0.0
    assert cap.utilization_pct(3, 0) == 100.0


def test_runway_estimate_math() -> None:
    assert cap.orders_per_slot(60, 20) == 3.0
    assert cap.estimated_slots_remaining(108, 3.0) == 36
    assert cap.estimated_slots_remaining(10, 3.0) == 3


def test_runway_null_and_zero_edge_cases() -> None:
    assert cap.orders_per_slot(0, 0) is None
    assert cap.estimated_slots_remaining(168, None) == 168  # max(null -> 1, 1)
    assert cap.estimated_slots_remaining(10, 0.5) == 10  # orders_per_slot below 1 counts as 1
    assert cap.estimated_slots_remaining(0, 2.0) == 0
    assert cap.estimated_slots_remaining(-4, 2.0) == 0


# ------------------------------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("room", "cancels", "band"),
    [
        (9, 0, "stop"),
        (10, 0, "caution"),
        (19, 0, "caution"),
        (20, 0, "normal"),
        (500, 1, "stop"),
        (-3, 0, "stop"),
    ],
)
def test_status_band_thresholds(room: int, cancels: int, band: str) -> None:
    assert cap.status_band(room, cancels) == band


def test_blocked_risk_hints_name_each_signal() -> None:
    hints = cap.blocked_risk_hints(
        room=5, partial_open_events_1d=2, partial_cancel_events_1d=1, source="internal_fallback", drift=None
    )
    assert hints[0].startswith("partial_fill_cancel_events_1d=1")
    assert any("open_order_headroom=5 < 10" in h for h in hints)
    assert any("partial_fill_open_events_1d=2" in h for h in hints)
    assert any("internal_fallback" in h for h in hints)
    assert cap.blocked_risk_hints(
        room=50, partial_open_events_1d=0, partial_cancel_events_1d=0, source="kraken", drift=0
    ) == []
    caution = cap.blocked_risk_hints(
        room=15, partial_open_events_1d=0, partial_cancel_events_1d=0, source="kraken", drift=-2
    )
    assert caution == [
        "open_order_headroom=15 < 20: add at most 1 slot per day",
        "open_orders_drift=-2: Kraken and internal open-order counts disagree",
    ]


# -------------------------------------------------------------------------------- the block


def test_build_capacity_fill_health_block() -> None:
    w = cap.FillHealthWindows()
    w.record_partial_open("O1", T0)
    for i, d in enumerate([10.0, 20.0, 30.0, 40.0]):
        w.record_fill_duration(T0 + i, d)
    block = cap.build_capacity_fill_health(
        internal_open_orders=58, kraken_open_orders=60, slot_count=20, windows=w, now=T0 + 100
    )
    assert isinstance(block, CapacityFillHealth)
    assert block.open_orders_current == 60
    assert block.open_orders_source == "kraken"
    assert block.open_orders_drift == 2
    assert block.open_order_limit_configured == 225
    assert block.open_orders_safe_cap == 168
    assert block.open_order_headroom == 108
    assert block.open_order_utilization_pct == pytest.approx(60 / 168 * 100)
    assert block.orders_per_slot_estimate == 3.0
    assert block.estimated_slots_remaining == 36
    assert block.partial_fill_open_events_1d == 1
    assert block.partial_fill_cancel_events_1d == 0
    assert block.median_fill_seconds_1d == pytest.approx(25.0)
    assert block.p95_fill_seconds_1d == pytest.approx(38.5)
    assert block.status_band == "normal"


def test_build_block_fallback_nullability_round_trips_as_json() -> None:
    block = cap.build_capacity_fill_health(
        internal_open_orders=0,
        kraken_open_orders=None,
        slot_count=0,
        windows=cap.FillHealthWindows(),
        now=T0,
        limit=80,
        safety_ratio=0.75,
    )
    data = msgspec.json.decode(msgspec.json.encode(block))
    assert data["open_orders_kraken"] is None
    assert data["open_orders_drift"] is None
    assert data["orders_per_slot_estimate"] is None
    assert data["median_fill_seconds_1d"] is None
    assert data["p95_fill_seconds_1d"] is None
    assert data["open_orders_source"] == "internal_fallback"
    assert data["estimated_slots_remaining"] == 60
    assert msgspec.json.decode(msgspec.json.encode(block), type=CapacityFillHealth) == block


def test_build_block_partial_cancel_forces_stop_band() -> None:
    w = cap.FillHealthWindows()
    w.record_partial_cancel(T0)
    block = cap.build_capacity_fill_health(
        internal_open_orders=10, kraken_open_orders=10, slot_count=5, windows=w, now=T0 + 1
    )
    assert block.status_band == "stop"
    later = cap.build_capacity_fill_health(
        internal_open_orders=10, kraken_open_orders=10, slot_count=5, windows=w, now=T0 + DAY + 2
    )
    assert later.status_band == "normal"


def test_phantom_position_canary_line() -> None:
    line = cap.phantom_position_canary("OQCLML-BW3P3-BUCMWZ", 12.5, 50.0)
    assert line == "PHANTOM_POSITION_CANARY txid=OQCLML-BW3P3-BUCMWZ vol_exec=12.50000000 vol=50.00000000"
