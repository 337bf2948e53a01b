"""Per-pair open-order limit and the trading rate counter, over the private socket."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import pytest

from core.rate_limits import Tier
from gateway.sim.server import SimExchange
from tests.sim.conftest import make_sim, reset_account
from tests.sim.helpers import WsClient, assert_shape, fixture


@pytest.fixture(scope="module")
def sim() -> Iterator[SimExchange]:
    exchange = make_sim(open_order_limit=20, rate_tier=Tier.STARTER, usd=D("100000"))
    exchange.start()
    yield exchange
    exchange.stop()


@pytest.fixture
def client(sim: SimExchange) -> Iterator[tuple[WsClient, str]]:
    reset_account(sim)
    ws = WsClient(sim.private_ws_url)
    yield ws, sim.issue_ws_token()
    ws.close()


def _buy(token: str, price: D) -> dict:
    return {"order_type": "limit", "side": "buy", "order_qty": 100.0, "symbol": "DOGE/USD",
            "limit_price": float(price), "token": token}


def test_orders_limit_exceeded(sim: SimExchange, client: tuple[WsClient, str]) -> None:
    ws, token = client
    price = (sim.call(lambda v: v.engine.price) * D("0.9")).quantize(D("0.0000001"))
    for _ in range(20):
        assert ws.request("add_order", _buy(token, price))["success"] is True
    refused = ws.request("add_order", _buy(token, price))
    assert_shape(refused, fixture("ws_add_order_response_error_orders_limit.json"))
    assert refused["error"] == "EOrder:Orders limit exceeded"


def test_trading_rate_limit_exceeded_then_decays(sim: SimExchange, client: tuple[WsClient, str]) -> None:
    ws, token = client
    ack = ws.request("subscribe", {"channel": "executions", "token": token})
    assert ack["result"]["maxratecount"] == 60
    price = (sim.call(lambda v: v.engine.price) * D("0.9")).quantize(D("0.0000001"))
    for _ in range(6):  # starter: threshold 60; an add costs 1, a cancel within 5 s costs 8
        order_id = ws.request("add_order", _buy(token, price))["result"]["order_id"]
        assert ws.request("cancel_order", {"order_id": [order_id], "token": token})["success"] is True
    order_id = ws.request("add_order", _buy(token, price))["result"]["order_id"]  # counter 55
    refused_cancel = ws.request("cancel_order", {"order_id": [order_id], "token": token})
    assert refused_cancel["error"] == "EOrder:Rate limit exceeded"  # 55 + 8 > 60
    for _ in range(5):  # 56 .. 60: the threshold itself is allowed
        assert ws.request("add_order", _buy(token, price))["success"] is True
    refused = ws.request("add_order", _buy(token, price))
    assert_shape(refused, fixture("ws_add_order_response_error_rate_limit.json"))
    assert refused["error"] == "EOrder:Rate limit exceeded"
    sim.advance(1)  # one virtual minute decays the starter counter by 60
    assert ws.request("cancel_order", {"order_id": [order_id], "token": token})["success"] is True
    assert ws.request("add_order", _buy(token, price))["success"] is True
