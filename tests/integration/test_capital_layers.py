"""`add_layer` (STATE_MACHINE §18/§22): one layer step must be affordable from its funding source.

A step is CAPITAL_LAYER_ORDER_BUDGET orders x CAPITAL_LAYER_DOGE_PER_ORDER DOGE, times the
balance buffer; `doge` needs that much free DOGE, `usd` its worth in free USD, `auto` either.
"""

from __future__ import annotations

from actors import commands as c
from tests.integration.conftest import Driven

# 225 orders x 30 DOGE x 1.5 = 10,125 DOGE-equivalent per step: more than the 10,000 DOGE the
# simulated account starts with, less than its 1,000 USD at about 0.06 USD/DOGE (~16,000).
ENV = {"CAPITAL_LAYER_DOGE_PER_ORDER": "30", "CAPITAL_LAYER_BALANCE_BUFFER": "1.5"}


def test_a_layer_the_source_cannot_fund_is_refused_and_changes_nothing() -> None:
    d = Driven(env=ENV)
    try:
        d.step(1)
        reply = d.command(c.AddLayer(source="doge"))
        assert not reply.ok
        assert reply.data["error_kind"] == "refused"
        assert reply.data["required_doge_eq"] == 10_125.0
        assert reply.data["available_doge_eq"] < 10_125.0
        ok = d.command(c.AddLayer(source="usd"))
        assert ok.ok, ok.message
        assert ok.data["target_layers"] == 1  # the refused add did not count
    finally:
        d.close()


def test_the_default_source_comes_from_configuration() -> None:
    d = Driven(env={**ENV, "CAPITAL_LAYER_DEFAULT_SOURCE": "doge"})
    try:
        d.step(1)
        reply = d.command(c.AddLayer())
        assert not reply.ok and reply.data["source"] == "doge"
        assert d.command(c.AddLayer(source="auto")).ok
    finally:
        d.close()


def test_propagation_progress_counts_orders_sized_with_the_new_layer() -> None:
    d = Driven(env=ENV)
    try:
        d.step(2)
        before = d.system.status().capital_layers
        assert before is not None and before.effective_layers == 0
        assert before.orders_total > 0 and before.orders_at_effective_layers == before.orders_total
        assert before.propagation_pct == 100.0 and before.orders_unknown_layers == 0

        assert d.command(c.AddLayer(source="usd")).ok
        d.step(1)
        now = d.system.status().capital_layers
        assert now is not None and now.effective_layers == 1
        # Resting orders keep their size: right after the change none of them carries the layer.
        assert now.orders_at_effective_layers < now.orders_total
        assert now.propagation_pct is not None and now.propagation_pct < 100.0

        seen = [now.orders_at_effective_layers]
        for _ in range(600):
            d.step(1)
            cl = d.system.status().capital_layers
            assert cl is not None
            seen.append(cl.orders_at_effective_layers)
            if cl.orders_at_effective_layers > seen[0]:
                break
        assert max(seen) > seen[0], "new entries are placed with the new layer as slots cycle"
        # What the count says matches the orders' sizes: a 1-layer entry is 30 DOGE bigger.
        status = d.system.status()
        assert status.capital_layers is not None
        assert status.capital_layers.orders_total == sum(len(s.orders) for s in status.slots)
    finally:
        d.close()


def test_layer_tags_survive_a_restart(tmp_path) -> None:
    path = str(tmp_path / "bot.sqlite")

    d = Driven(ENV, db_path=path)
    try:
        d.step(2)
        first = d.system.status().capital_layers
        assert first is not None and first.orders_total > 0 and first.orders_unknown_layers == 0
    finally:
        d.close()
    d = Driven(ENV, db_path=path)
    try:
        again = d.system.status().capital_layers
        assert again is not None and again.orders_unknown_layers == 0
        assert again.orders_at_effective_layers == again.orders_total
    finally:
        d.close()
