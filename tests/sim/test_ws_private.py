"""Private WS v2 endpoint over real sockets: auth, order lifecycle, fills, balances, amend, cancel."""

from __future__ import annotations

import time
from decimal import Decimal as D
from typing import Any

import pytest

from gateway.sim.server import SimExchange
from tests.sim.conftest import START_DOGE, START_USD, make_sim
from tests.sim.helpers import WsClient, assert_shape, fixture, is_exec

TICK = D("0.0000001")


def market(sim: SimExchange) -> D:
    return sim.call(lambda v: v.engine.price)


def limit(price: D) -> float:
    return float(price.quantize(TICK))


def order(token: str, side: str, qty: float, price: D, **extra: Any) -> dict[str, Any]:
    return {"order_type": "limit", "side": side, "order_qty": qty, "symbol": "DOGE/USD",
            "limit_price": limit(price), "token": token, **extra}


def el(msg: dict[str, Any]) -> dict[str, Any]:
    return msg["data"][0]


# ----------------------------------------------------------------------------- auth and hosts


def test_private_host_refuses_public_channels(fresh: SimExchange) -> None:
    client = WsClient(fresh.private_ws_url)
    expected = fixture("ws_error_public_on_private_host.json")
    refused = client.request("subscribe", {"channel": "ticker", "symbol": ["DOGE/USD"]})
    assert_shape(refused, expected, extra={"req_id"})
    assert refused["error"] == expected["error"]
    client.close()


def test_token_is_required(fresh: SimExchange) -> None:
    client = WsClient(fresh.private_ws_url)
    expected = fixture("ws_error_invalid_session.json")
    for params in ({"channel": "executions"}, {"channel": "executions", "token": "not-a-token"}):
        refused = client.request("subscribe", params)
        assert_shape(refused, expected)
        assert refused["error"] == "ESession:Invalid session"
    params = fixture("ws_add_order_request.json")["params"]
    missing = client.request("add_order", {k: v for k, v in params.items() if k != "token"})
    assert missing["success"] is False and missing["error"] == "Token(s) not found"
    bad = client.request("add_order", params)
    assert bad["error"] == "ESession:Invalid session"
    client.close()


def test_subscribe_acks_and_snapshots(fresh: SimExchange, token: str) -> None:
    client = WsClient(fresh.private_ws_url)
    ack = client.request("subscribe", {**fixture("ws_executions_subscribe_request.json")["params"], "token": token})
    assert_shape(ack, fixture("ws_executions_subscribe_ack.json"), extra={"req_id"})
    assert ack["result"]["maxratecount"] == 180  # pro tier by default
    snap = client.channel("executions", "snapshot")
    assert snap["sequence"] == 1 and snap["data"] == []
    ack = client.request("subscribe", {"channel": "balances", "token": token})
    assert_shape(ack, fixture("ws_balances_subscribe_ack.json"), extra={"req_id"})
    balances = client.channel("balances", "snapshot")
    assert_shape(balances, fixture("ws_balances_snapshot.json"))
    assert {b["asset"]: b["balance"] for b in balances["data"]} == {"DOGE": START_DOGE, "USD": START_USD}
    client.close()


# ----------------------------------------------------------------------------- lifecycle


def test_limit_order_lifecycle_with_fees_and_balances(fresh: SimExchange, private_ws: WsClient, token: str) -> None:
    price = market(fresh) - 20 * TICK
    request = fixture("ws_add_order_request_userref.json")["params"] | {"token": token, "side": "buy",
                                                                         "limit_price": limit(price)}
    response = private_ws.request("add_order", request)
    assert_shape(response, fixture("ws_add_order_response_ok_userref.json"))
    order_id = response["result"]["order_id"]
    pending = private_ws.wait_for(is_exec("pending_new", order_id))
    assert_shape(pending, fixture("ws_executions_pending_new.json"))
    new = private_ws.wait_for(is_exec("new", order_id))
    assert_shape(new, fixture("ws_executions_new.json"))
    assert new["sequence"] == pending["sequence"] + 1
    fresh.set_price(price - 5 * TICK)
    trade = private_ws.wait_for(is_exec("trade", order_id))
    assert_shape(trade, fixture("ws_executions_trade_final.json"))
    filled = private_ws.wait_for(is_exec("filled", order_id))
    assert_shape(filled, fixture("ws_executions_filled.json"))
    t = el(trade)
    cost = D("100") * price.quantize(TICK)
    fee = (cost * D("0.0025")).quantize(D("0.0001"))
    assert (t["last_qty"], t["last_price"], t["liquidity_ind"]) == (100, price.quantize(TICK), "m")
    assert t["cost"] == cost and t["fees"] == [{"asset": "USD", "qty": fee}] and t["fee_usd_equiv"] == fee
    assert el(filled)["cum_qty"] == 100 and el(filled)["cum_cost"] == cost and el(filled)["order_userref"] == 3
    doge, usd = (el(private_ws.channel("balances", "update")) for _ in range(2))
    assert_shape(usd, fixture("ws_balances_update_trade_usd.json")["data"][0])
    assert doge["ref_id"] == usd["ref_id"] == t["exec_id"]
    assert doge["balance"] == START_DOGE + 100
    assert usd["amount"] == -cost.quantize(D("0.0001")) and usd["fee"] == fee
    assert usd["balance"] == START_USD - cost.quantize(D("0.0001")) - fee
    seqs = [f["sequence"] for f in private_ws.frames if f.get("channel") == "executions"]
    assert seqs == list(range(1, len(seqs) + 1))


def test_partial_fill_then_cancel(fresh: SimExchange, private_ws: WsClient, token: str) -> None:
    price = market(fresh) + 30 * TICK
    response = private_ws.request("add_order", order(token, "sell", 1000, price, cl_ord_id="s1-BE1-1"))
    assert_shape(response, fixture("ws_add_order_response_ok.json"))
    order_id = response["result"]["order_id"]
    pending = el(private_ws.wait_for(is_exec("pending_new", order_id)))
    assert pending["cl_ord_id"] == "s1-BE1-1"
    fresh.set_price(price + TICK, volume=4000)  # share 0.1 -> 400 of 1000
    part = el(private_ws.wait_for(is_exec("trade", order_id)))
    assert_shape(part, fixture("ws_executions_trade_partial.json")["data"][0])
    assert (part["last_qty"], part["cum_qty"], part["order_status"]) == (400, 400, "partially_filled")
    cancel = private_ws.request("cancel_order", {"cl_ord_id": ["s1-BE1-1"], "token": token})
    assert_shape(cancel, fixture("ws_cancel_order_response_ok_cl_ord_id.json"))
    canceled = private_ws.wait_for(is_exec("canceled", order_id))
    assert_shape(canceled, fixture("ws_executions_canceled.json"))
    assert el(canceled)["cum_qty"] == 400 and el(canceled)["reason"] == "User requested"
    held = fresh.call(lambda v: v.engine.account.held["DOGE"])
    assert held == 0


def test_amend_keeps_ids(fresh: SimExchange, private_ws: WsClient, token: str) -> None:
    price = market(fresh) - 50 * TICK
    cl = "6d1b345e-2821-40e2-ad83-4ecb18a06876"
    order_id = private_ws.request("add_order", order(token, "buy", 100, price, cl_ord_id=cl))["result"]["order_id"]
    amend = {"cl_ord_id": cl, "limit_price": limit(price - 10 * TICK), "order_qty": 120.0, "post_only": True,
             "token": token}
    response = private_ws.request("amend_order", amend)
    assert_shape(response, fixture("ws_amend_order_response_ok.json"), extra={"req_id"})
    assert response["result"]["cl_ord_id"] == cl
    amended = private_ws.wait_for(is_exec("amended", order_id))
    assert_shape(amended, fixture("ws_executions_amended.json"))
    assert el(amended)["order_qty"] == 120 and el(amended)["limit_price"] == (price - 10 * TICK).quantize(TICK)
    by_id = private_ws.request("amend_order", {"order_id": order_id, "order_qty": 130.0, "token": token})
    assert set(by_id["result"]) == {"amend_id", "order_id"}
    bad = private_ws.request("amend_order", {"order_id": order_id, "limit_price": "x", "token": token})
    assert bad["error"] == "Limit_price field must be a number_float"


def test_post_only_cross_is_cancelled(fresh: SimExchange, private_ws: WsClient, token: str) -> None:
    response = private_ws.request("add_order", order(token, "buy", 100, market(fresh) + 10 * TICK, post_only=True))
    order_id = response["result"]["order_id"]
    canceled = el(private_ws.wait_for(is_exec("canceled", order_id)))
    assert canceled["reason"] == "Post only order" and canceled["cum_qty"] == 0


def test_taker_order_fills_at_once(fresh: SimExchange, private_ws: WsClient, token: str) -> None:
    response = private_ws.request("add_order", order(token, "buy", 100, market(fresh) + 10 * TICK))
    order_id = response["result"]["order_id"]
    trade = el(private_ws.wait_for(is_exec("trade", order_id)))
    assert trade["liquidity_ind"] == "t" and trade["last_price"] == market(fresh) + TICK
    private_ws.wait_for(is_exec("filled", order_id))


@pytest.mark.parametrize(("qty", "offset", "error"), [
    (49.0, -10, "EOrder:Order minimum not met"),
    (100.0, None, "EOrder:Tick size check failed"),
    (1_000_000.0, -10, "EOrder:Insufficient funds"),
])
def test_order_errors(fresh: SimExchange, private_ws: WsClient, token: str, qty: float, offset: int | None,
                      error: str) -> None:
    params = order(token, "buy", qty, market(fresh) - 10 * TICK)
    if offset is None:
        params["limit_price"] = float(market(fresh) - 10 * TICK) + 0.00000003
    response = private_ws.request("add_order", params)
    assert_shape(response, fixture("ws_add_order_response_error.json"))
    assert response["error"] == error


def test_cost_minimum(fresh: SimExchange, private_ws: WsClient, token: str) -> None:
    response = private_ws.request("add_order", order(token, "buy", 50, D("0.0099")))
    assert response["error"] == "EOrder:Cost minimum not met"


def test_cancel_unknown_and_by_order_ids(fresh: SimExchange, private_ws: WsClient, token: str) -> None:
    unknown = private_ws.request("cancel_order", {"order_id": ["OAAAAA-BBBBB-CCCCCC"], "token": token})
    assert_shape(unknown, fixture("ws_cancel_order_response_error.json"))
    ids = [private_ws.request("add_order", order(token, "buy", 100, market(fresh) - (40 + i) * TICK))
           ["result"]["order_id"] for i in range(2)]
    replies = private_ws.requests("cancel_order", {"order_id": ids, "token": token}, 2)
    for reply in replies:
        assert_shape(reply, fixture("ws_cancel_order_response_ok.json"))
    assert sorted(r["result"]["order_id"] for r in replies) == sorted(ids)


def test_cancel_all_and_batches(fresh: SimExchange, private_ws: WsClient, token: str) -> None:
    batch = fixture("ws_batch_add_request.json")["params"]
    px = market(fresh)
    batch["orders"][0]["limit_price"] = limit(px - 100 * TICK)
    batch["orders"][1]["limit_price"] = limit(px + 100 * TICK)
    batch["token"] = token
    added = private_ws.request("batch_add", batch)
    assert_shape(added, fixture("ws_batch_add_response.json"))
    keys = [r["order_id"] for r in added["result"]]
    cancelled = private_ws.request("batch_cancel", {"orders": keys, "token": token})
    assert_shape(cancelled, fixture("ws_batch_cancel_response_docs.json"))
    assert cancelled["result"] == {"count": 2}
    private_ws.request("add_order", order(token, "buy", 100, px - 60 * TICK))
    everything = private_ws.request("cancel_all", {"token": token})
    assert_shape(everything, fixture("ws_cancel_all_response.json"))
    assert everything["result"] == {"count": 1}


def test_dead_mans_switch_fires(fresh: SimExchange, private_ws: WsClient, token: str) -> None:
    order_id = private_ws.request("add_order", order(token, "buy", 100, market(fresh) * D("0.5")))["result"]["order_id"]
    armed = private_ws.request("cancel_all_orders_after", {"timeout": 60, "token": token})
    assert_shape(armed, fixture("ws_cancel_all_orders_after_response.json"))
    fresh.advance(2)  # two virtual minutes pass
    canceled = el(private_ws.wait_for(is_exec("canceled", order_id)))
    assert canceled["cum_qty"] == 0
    assert fresh.call(lambda v: v.engine.dms_trigger) is None


def test_snapshot_after_reconnect_has_open_orders_and_trades(fresh: SimExchange, private_ws: WsClient,
                                                             token: str) -> None:
    resting = private_ws.request("add_order", order(token, "buy", 100, market(fresh) - 80 * TICK))["result"]["order_id"]
    private_ws.request("add_order", order(token, "sell", 100, market(fresh) - 80 * TICK))
    client = WsClient(fresh.private_ws_url)
    client.request("subscribe", {"channel": "executions", "token": fresh.issue_ws_token(), "snap_orders": True,
                                 "snap_trades": True})
    snap = client.channel("executions", "snapshot")
    shapes = fixture("ws_executions_snapshot.json")["data"]
    orders = [e for e in snap["data"] if e["exec_type"] == "new"]
    trades = [e for e in snap["data"] if e["exec_type"] == "trade"]
    assert [o["order_id"] for o in orders] == [resting]
    assert_shape(orders[0], shapes[0])
    assert trades and len(trades) <= 50
    assert_shape(trades[0], shapes[1])
    client.close()


def test_token_stays_valid_only_on_the_connections_that_used_it_in_time() -> None:
    sim = make_sim(ws_token_ttl_s=0.3)
    with sim:
        token = sim.issue_ws_token()
        first = WsClient(sim.private_ws_url)
        assert first.request("subscribe", {"channel": "balances", "token": token})["success"] is True
        time.sleep(0.4)  # past the token's lifetime
        assert first.request("cancel_all", {"token": token})["success"] is True  # its connection keeps it
        second = WsClient(sim.private_ws_url)  # a reconnect must fetch a new token, as on Kraken
        refused = second.request("subscribe", {"channel": "executions", "token": token})
        assert refused["error"] == "ESession:Invalid session"
        assert second.request("cancel_all", {"token": token})["error"] == "ESession:Invalid session"
        assert second.request("subscribe", {"channel": "executions", "token": sim.issue_ws_token()})["success"]
        first.close()
        second.close()


def test_snapshot_messages_keep_the_fixtures_key_order(fresh: SimExchange, token: str) -> None:
    client = WsClient(fresh.private_ws_url)
    assert list(client.channel("status")) == list(fixture("ws_status.json"))
    client.request("subscribe", {"channel": "balances", "token": token})
    assert list(client.channel("balances", "snapshot")) == list(fixture("ws_balances_snapshot.json"))
    client.request("subscribe", {"channel": "executions", "token": token})
    assert list(client.channel("executions", "snapshot")) == list(fixture("ws_executions_snapshot.json"))
    client.close()
