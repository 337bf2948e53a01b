"""Every fault control of SimExchange, observed by real clients."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.sim.server import SimExchange
from tests.sim.conftest import make_sim, reset_account
from tests.sim.helpers import RestClient, WsClient, is_exec, wait_until

TICK = D("0.0000001")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimExchange]:
    exchange = make_sim()
    exchange.start()
    yield exchange
    exchange.stop()


@pytest.fixture
def trader(sim: SimExchange) -> Iterator[tuple[WsClient, str]]:
    reset_account(sim)
    token = sim.issue_ws_token()
    client = WsClient(sim.private_ws_url)
    client.request("subscribe", {"channel": "executions", "token": token})
    client.channel("executions", "snapshot")
    yield client, token
    reset_account(sim)
    client.close()


def _order(sim: SimExchange, token: str) -> dict:
    price = (sim.call(lambda v: v.engine.price) - 100 * TICK).quantize(TICK)
    return {"order_type": "limit", "side": "buy", "order_qty": 100.0, "symbol": "DOGE/USD",
            "limit_price": float(price), "token": token}


def test_drop_connections(sim: SimExchange, trader: tuple[WsClient, str]) -> None:
    client, _ = trader
    public = WsClient(sim.public_ws_url)
    public.channel("status")
    sim.drop_connections()
    for ws in (client, public):
        with pytest.raises(ConnectionClosed):
            ws.wait_for(lambda m: False)
    wait_until(lambda: sim.connection_count() == 0)
    again = WsClient(sim.public_ws_url)
    assert again.channel("status")["channel"] == "status"
    again.close()


def test_refuse_connections(sim: SimExchange) -> None:
    sim.refuse_connections(30)
    with pytest.raises(InvalidStatus) as refused:
        WsClient(sim.public_ws_url)
    assert refused.value.response.status_code == 503
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{sim.rest_url}/0/public/Time", timeout=2)
    sim.refuse_connections(0)
    client = WsClient(sim.private_ws_url)
    assert client.channel("status")["channel"] == "status"
    client.close()


def test_reject_next_orders(sim: SimExchange, trader: tuple[WsClient, str]) -> None:
    client, token = trader
    sim.reject_next_orders(2, error="EOrder:Insufficient funds")
    first = client.request("add_order", _order(sim, token))
    assert first["success"] is False and first["error"] == "EOrder:Insufficient funds"
    rest = RestClient(sim.rest_url, sim.api_key, sim.api_secret)
    second = rest.private("AddOrder", ordertype="limit", type="buy", volume="100", pair="XDGUSD", price="0.01")
    assert second == {"error": ["EOrder:Insufficient funds"]}
    rest.close()
    assert client.request("add_order", _order(sim, token))["success"] is True
    sim.reject_next_orders(1, error="EService:Unavailable")
    assert client.request("add_order", _order(sim, token))["error"] == "EService:Unavailable"


def test_delay_reports(sim: SimExchange, trader: tuple[WsClient, str]) -> None:
    client, token = trader
    sim.delay_reports(1.5)
    response = client.request("add_order", _order(sim, token))
    assert response["success"] is True  # the response itself is not delayed
    with pytest.raises(TimeoutError):
        client.wait_for(is_exec("pending_new"), timeout=0.3)
    sim.delay_reports(0)
    pending = client.wait_for(is_exec("pending_new"), timeout=5)
    new = client.wait_for(is_exec("new"), timeout=5)
    assert new["sequence"] == pending["sequence"] + 1  # delayed reports keep their order


def test_duplicate_next_reports(sim: SimExchange, trader: tuple[WsClient, str]) -> None:
    client, token = trader
    sim.duplicate_next_reports(1)
    client.request("add_order", _order(sim, token))
    first = client.wait_for(is_exec("pending_new"))
    second = client.wait_for(lambda m: m.get("channel") == "executions")
    assert second == first  # the same report, same sequence, delivered twice
    following = client.wait_for(is_exec("new"))
    assert following["sequence"] == first["sequence"] + 1


def test_send_malformed_frame(sim: SimExchange, trader: tuple[WsClient, str]) -> None:
    client, _ = trader
    sim.send_malformed_frame()
    bad = client.wait_for(lambda m: "malformed" in m)
    assert bad["malformed"].startswith("{")
    assert client.request("ping")["method"] == "pong"  # the connection stays usable


def test_system_status_switch(sim: SimExchange, trader: tuple[WsClient, str]) -> None:
    client, token = trader
    resting = client.request("add_order", _order(sim, token))["result"]["order_id"]
    try:
        sim.set_system_status("cancel_only")
        status = client.wait_for(lambda m: m.get("channel") == "status")
        assert status["data"][0]["system"] == "cancel_only"
        refused = client.request("add_order", _order(sim, token))
        assert refused["error"] == "EService:Market in cancel_only mode"
        sim.set_price(D("0.0001"))  # no matching outside `online`
        assert sim.call(lambda v: resting in v.engine.open)
        assert client.request("cancel_order", {"order_id": [resting], "token": token})["success"] is True
        sim.set_system_status("maintenance")
        assert client.request("add_order", _order(sim, token))["error"] == "EService:Unavailable"
        rest = RestClient(sim.rest_url, sim.api_key, sim.api_secret)
        assert rest.public("SystemStatus")["result"]["status"] == "maintenance"
        rest.close()
    finally:
        sim.set_system_status("online")
        sim.advance(1)
    with pytest.raises(ValueError):
        sim.set_system_status("broken")
