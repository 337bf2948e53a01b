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
