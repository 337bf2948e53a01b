"""`System.metrics()`: the gauges the dashboard's /metrics adds to the status metrics."""

from __future__ import annotations

from tests.integration.conftest import Driven


def test_metrics_report_every_actor_inbox_and_the_rate_budget() -> None:
    d = Driven()
    try:
        d.step(3)
        m = d.system.metrics()
        depths = m["actor_queue_depth"]
        for name in ("store", "status", "rate_budget", "router", "runtime"):
            assert name in depths and depths[name] >= 0
        slot_depths = [k for k in depths if k.startswith("slot_")]
        assert len(slot_depths) == 3
        assert m["rate_budget_trading_threshold"] > 0
        assert m["rate_budget_forwarded"] >= 6  # both entries of the three bootstrapped slots
    finally:
        d.close()
