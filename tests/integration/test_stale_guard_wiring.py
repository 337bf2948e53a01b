"""The stale-price guard as the loop runs it, scaled for a sped-up simulation clock.

Like test_guardrail_wiring.py: the real `runtime_loop.run` (and the real `RuntimeActor.pause` /
`resume`) on a minimal runtime object. The runtime's clock is what `run.py` gives each mode:
`FollowClock(..., SIM_SPEED)` in sim mode, `WallClock` in live and paper, `VirtualClock` in
backtests. Price ages are clock seconds; at SIM_SPEED=60 the guard trips only after
max(STALE_PRICE_MAX_AGE_SEC, 60 x 10 s) = 600 virtual seconds, i.e. 10 wall seconds without a price,
not after a 2-second stall of the process.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from actors import runtime_loop
from actors.clock import FollowClock, VirtualClock, WallClock
from actors.internal import BudgetMode
from core.config import load_settings
from tests.integration import minimal_runtime

NOW = 1_700_000_000.0
PRICE = 0.1


def _runtime(clock: Any, **env: str) -> SimpleNamespace:
    return minimal_runtime.runtime(env=env, clock=clock)


def _sim(speed: str = "60") -> SimpleNamespace:
    """A sim-mode runtime: run.py follows the simulator's clock at SIM_SPEED."""
    s, _ = load_settings(env={"SIM_SPEED": speed})
    return _runtime(FollowClock(lambda: NOW, s.sim_speed or 1.0), SIM_SPEED=speed)


def _kinds(rt: SimpleNamespace) -> list[str]:
    return minimal_runtime.kinds(rt)


def test_a_price_150_virtual_seconds_old_at_60x_does_not_pause() -> None:
    rt = _sim("60")
    assert rt.settings.stale_price_max_age_sec == 120.0  # the knob's default, unchanged
    rt.price_ts = NOW - 150.0  # 2.5 wall seconds at 60x: a hiccup, not a dead feed
    runtime_loop.run(rt, NOW)
    assert rt.mode == "RUNNING" and rt.pause_kind == ""
    assert "paused" not in _kinds(rt)
    rt.price_ts = NOW - 600.0  # exactly the effective threshold: not strictly above it
    runtime_loop.run(rt, NOW)
    assert rt.mode == "RUNNING"


def test_a_price_older_than_the_effective_threshold_pauses_and_a_fresh_one_resumes() -> None:
    rt = _sim("60")
    rt.price_ts = NOW - 601.0  # > max(120, 60 x 10 s): ten wall seconds without a price
    runtime_loop.run(rt, NOW)
    assert rt.mode == "PAUSED" and rt.pause_kind == "stale_price"
    assert "601s ago > 600s (= 10s wall at 60x; STALE_PRICE_MAX_AGE_SEC=120s)" in rt.pause_reason
    assert "paused" in _kinds(rt)
    assert [m.paused for _, m in rt.sent if isinstance(m, BudgetMode)] == [True]

    rt.price_ts = NOW + 10.0
    runtime_loop.run(rt, NOW + 15.0)
    assert rt.mode == "RUNNING" and "resumed" in _kinds(rt)


def test_the_threshold_scales_with_the_speed() -> None:
    rt = _sim("600")  # 0.2 s of wall time is 120 virtual seconds here
    rt.price_ts = NOW - 5_000.0
    runtime_loop.run(rt, NOW)
    assert rt.mode == "RUNNING"
    rt.price_ts = NOW - 6_001.0
    runtime_loop.run(rt, NOW)
    assert rt.pause_kind == "stale_price"


def test_a_knob_above_the_floor_is_kept_in_sim() -> None:
    rt = _sim("60")
    rt.settings = load_settings(env={"SIM_SPEED": "60", "STALE_PRICE_MAX_AGE_SEC": "3600"})[0]
    rt.price_ts = NOW - 3_000.0
    runtime_loop.run(rt, NOW)
    assert rt.mode == "RUNNING"
    rt.price_ts = NOW - 3_601.0
    runtime_loop.run(rt, NOW)
    assert rt.pause_kind == "stale_price" and "STALE_PRICE_MAX_AGE_SEC=3600s" in rt.pause_reason


@pytest.mark.parametrize("clock", [WallClock(), VirtualClock(NOW), FollowClock(lambda: NOW, 0.0)],
                         ids=["live-paper-wall", "backtest-virtual", "sim-fast"])
def test_clocks_not_sped_up_keep_the_knob(clock: Any) -> None:
    """Live and paper (wall clock), backtests (virtual clock moving with the data) and sim at
    SIM_SPEED=0 (the exchange waits for its clients): the knob applies unchanged."""
    rt = _runtime(clock)
    rt.price_ts = NOW - 150.0
    runtime_loop.run(rt, NOW)
    assert rt.mode == "PAUSED" and rt.pause_kind == "stale_price"
    assert "STALE_PRICE_MAX_AGE_SEC=120s" in rt.pause_reason


def test_the_effective_threshold_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    rt = _sim("60")
    with caplog.at_level(logging.INFO, logger="runtime"):
        for i in range(3):
            runtime_loop.run(rt, NOW + i)
    lines = [r.getMessage() for r in caplog.records if "stale-price guard" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith("stale-price guard: 600 s virtual (= 10 s wall at 60x")


def test_the_gateway_down_alert_uses_the_same_wall_floor_in_a_fast_sim() -> None:
    rt = _sim("60")
    assert rt.settings.gateway_disconnect_alert_sec < 600.0
    rt.connection.down_since = NOW - 120.0  # two wall seconds at 60x
    runtime_loop.run(rt, NOW)
    assert "gateway_disconnected" not in _kinds(rt)
    rt.connection.down_since = NOW - 601.0  # more than ten wall seconds
    runtime_loop.run(rt, NOW)
    assert "gateway_disconnected" in _kinds(rt)


def test_the_gateway_down_alert_keeps_the_knob_on_a_wall_clock() -> None:
    rt = _runtime(WallClock())
    rt.price_ts = NOW
    rt.connection.down_since = NOW - rt.settings.gateway_disconnect_alert_sec
    runtime_loop._guards(rt, NOW)
    assert "gateway_disconnected" in _kinds(rt)
