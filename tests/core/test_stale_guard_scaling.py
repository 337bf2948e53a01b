"""The stale-price threshold for a sped-up clock: max(STALE_PRICE_MAX_AGE_SEC, speed x 10 wall s)."""

from __future__ import annotations

import pytest

from core import guardrails as g

T0 = 1_700_000_000.0


@pytest.mark.parametrize(
    ("knob", "speed", "expected"),
    [
        (120, 1.0, 120),  # live / paper: wall clock, the knob as set
        (5, 1.0, 5),  # even below the floor: real time is never scaled
        (120, 0.0, 120),  # a clock not tied to wall time keeps the knob
        (120, 60.0, 600),  # sim default: 10 wall seconds at 60x
        (120, 600.0, 6000),
        (120, 12.0, 120),  # 12 x 10 s = 120: the knob already covers the floor
        (120, 20.0, 200),
        (3600, 60.0, 3600),  # an operator's larger knob wins
        (120, 1_000_000.0, 10_000_000),  # the knob's range end: still 10 wall seconds
    ],
)
def test_effective_threshold(knob: float, speed: float, expected: float) -> None:
    assert g.effective_stale_price_max_age(knob, speed) == pytest.approx(expected)


def test_the_wall_floor_is_a_parameter() -> None:
    assert g.effective_stale_price_max_age(120, 60, wall_floor_sec=30) == 1800
    assert g.STALE_PRICE_WALL_FLOOR_SEC == 10.0


def test_the_floor_is_ten_wall_seconds_whatever_the_speed() -> None:
    for speed in (13, 60, 120, 600, 10_000):
        guard = g.stale_price_guard(120, speed)
        assert guard.max_age_sec / speed >= g.STALE_PRICE_WALL_FLOOR_SEC
        assert guard.max_age_sec >= 120


def test_guard_describes_itself_for_the_start_up_log() -> None:
    scaled = g.stale_price_guard(120, 60)
    assert scaled.scaled and scaled.max_age_sec == 600
    assert scaled.describe() == ("stale-price guard: 600 s virtual (= 10 s wall at 60x; raised from "
                                 "STALE_PRICE_MAX_AGE_SEC=120 s)")
    assert g.stale_price_guard(120, 1).describe() == "stale-price guard: 120 s (STALE_PRICE_MAX_AGE_SEC)"
    kept = g.stale_price_guard(3600, 60)
    assert not kept.scaled
    assert kept.describe() == "stale-price guard: 3600 s virtual (= 60 s wall at 60x; STALE_PRICE_MAX_AGE_SEC)"
    assert g.stale_price_guard(120, 1_000_000).describe().startswith("stale-price guard: 10000000 s virtual "
                                                                     "(= 10 s wall at 1000000x")


def test_the_pause_message_names_the_effective_threshold() -> None:
    guard = g.stale_price_guard(120, 60)
    assert g.check_stale_price(T0, T0 + 600, guard.max_age_sec, guard.label) is None
    event = g.check_stale_price(T0, T0 + 601, guard.max_age_sec, guard.label)
    assert event is not None and event.kind == "pause_stale_price"
    assert event.message == ("stale price: last update 601s ago > 600s (= 10s wall at 60x; "
                             "STALE_PRICE_MAX_AGE_SEC=120s)")
    plain = g.stale_price_guard(120, 1)
    event = g.check_stale_price(T0, T0 + 121, plain.max_age_sec, plain.label)
    assert event is not None
    assert event.message == "stale price: last update 121s ago > STALE_PRICE_MAX_AGE_SEC=120s"
    # Without a label the message is what it always was.
    assert g.check_stale_price(T0, T0 + 121, 120).message == event.message  # type: ignore[union-attr]
