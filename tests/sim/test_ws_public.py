"""Public WS v2 endpoint over a real loopback socket: every channel's ack / snapshot / update shape."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from core.market import PairRules
from gateway.sim import book
from gateway.sim.config import SimConfig
from gateway.sim.server import SimExchange
from tests.sim.helpers import WsClient, assert_shape, fixture


def test_status_on_connect_and_ping(public_ws: WsClient) -> None:
    status = public_ws.channel("status")
    assert_shape(status, fixture("ws_status.json"))
    assert status["data"][0]["connection_id"] >= 2**63  # exceeds int64, like Kraken's
    pong = public_ws.request("ping")
    assert_shape(pong, fixture("ws_pong.json"))
    public_ws.send({"method": "ping", "params": {}, "req_id": 7})
    bad = public_ws.wait_for(lambda m: m.get("req_id") == 7)
    assert bad["method"] == "ping" and bad["success"] is False and bad["error"] == "Unsupported field: 'params' for the given msg type: ping"


def test_ticker(sim: SimExchange, public_ws: WsClient) -> None:
    ack = public_ws.request("subscribe", fixture("ws_ticker_subscribe_request.json")["params"])
    assert_shape(ack, fixture("ws_ticker_subscribe_ack.json"), extra={"req_id"})
    snapshot = public_ws.channel("ticker", "snapshot")
    assert_shape(snapshot, fixture("ws_ticker_snapshot.json"))
    sim.advance(1)
    updates = [public_ws.channel("ticker", "update") for _ in range(4)]  # one per price-path point
    for update in updates:
        assert_shape(update, fixture("ws_ticker_update.json"))
    el = updates[-1]["data"][0]
    assert el["bid"] < el["last"] < el["ask"]
    assert el["last"] == sim.call(lambda v: v.engine.price)


def test_one_ack_per_symbol_and_pair_not_supported(public_ws: WsClient) -> None:
    params = {"channel": "ticker", "symbol": ["DOGE/USD", "XDG/USD"]}
    ok, refused = public_ws.requests("subscribe", params, 2)
    assert ok["success"] is True and ok["result"]["symbol"] == "DOGE/USD"
    assert_shape(refused, fixture("ws_subscribe_error_pair_not_supported.json"), extra={"req_id"})
    assert refused["error"] == "Currency pair not supported XDG/USD" and refused["symbol"] == "XDG/USD"


def test_ohlc_bars_and_interval_begin(sim: SimExchange, public_ws: WsClient) -> None:
    ack = public_ws.request("subscribe", fixture("ws_ohlc_subscribe_request.json")["params"])
    assert_shape(ack, fixture("ws_ohlc_subscribe_ack.json"), extra={"req_id"})
    assert ack["result"]["warnings"] == ["timestamp is deprecated, use interval_begin"]
    snapshot = public_ws.channel("ohlc", "snapshot")
    assert_shape(snapshot, fixture("ws_ohlc_snapshot.json"))
    sim.advance(1)
    update = public_ws.channel("ohlc", "update")
    assert_shape(update, fixture("ws_ohlc_update.json"))
    bar = update["data"][0]
    assert bar["interval"] == 5 and bar["interval_begin"].endswith(":00.000000000Z")
    minute = int(bar["interval_begin"][14:16])
    assert minute % 5 == 0
    assert int(bar["timestamp"][14:16]) == (minute + 5) % 60  # deprecated field = bar end


def test_trade_channel(sim: SimExchange, public_ws: WsClient) -> None:
    ack = public_ws.request("subscribe", {"channel": "trade", "symbol": ["DOGE/USD"], "snapshot": True})
    assert ack["result"] == {"channel": "trade", "snapshot": True, "symbol": "DOGE/USD"}
    assert_shape(public_ws.channel("trade", "snapshot"), fixture("ws_trade_snapshot.json"))
    sim.advance(1)
    update = public_ws.channel("trade", "update")
    assert_shape(update, fixture("ws_trade_update.json"))
    assert update["data"][0]["ord_type"] == "market"


def _apply(levels: dict[D, D], changes: list[dict[str, Any]]) -> None:
    for level in changes:
        if level["qty"] == 0:
            levels.pop(level["price"], None)
        else:
            levels[level["price"]] = level["qty"]


def test_book_snapshot_updates_and_checksums(sim: SimExchange, public_ws: WsClient) -> None:
    ack = public_ws.request("subscribe", fixture("ws_book_subscribe_request.json")["params"])
    assert ack["result"] == {"channel": "book", "depth": 10, "snapshot": True, "symbol": "DOGE/USD"}
    snapshot = public_ws.channel("book", "snapshot")
    assert_shape(snapshot, fixture("ws_book_snapshot.json"))
    bids = {lv["price"]: lv["qty"] for lv in snapshot["data"][0]["bids"]}
    asks = {lv["price"]: lv["qty"] for lv in snapshot["data"][0]["asks"]}
    sim.advance(2)
    update = public_ws.channel("book", "update")
    assert_shape(update, fixture("ws_book_update.json"))
    el = update["data"][0]
    _apply(bids, el["bids"])
    _apply(asks, el["asks"])
    top_bids = sorted(bids.items(), reverse=True)[:10]
    top_asks = sorted(asks.items())[:10]
    assert book.checksum(top_bids, top_asks) == el["checksum"]  # client-side book stays in sync


def test_instrument_matches_the_doge_fixture(public_ws: WsClient) -> None:
    ack = public_ws.request("subscribe", {"channel": "instrument"})
    assert ack["result"]["channel"] == "instrument" and ack["result"]["snapshot"] is True
    snapshot = public_ws.channel("instrument", "snapshot")
    expected = fixture("ws_instrument_snapshot_doge.json")
    assert_shape(snapshot, expected)
    pair = snapshot["data"]["pairs"][0]
    for key, value in expected["data"]["pairs"][0].items():
        assert (float(pair[key]) if isinstance(pair[key], D) else pair[key]) == value, key


def test_heartbeat_only_after_a_subscription(public_ws: WsClient) -> None:
    public_ws.channel("status")
    public_ws.request("subscribe", {"channel": "instrument", "snapshot": False})
    beat = public_ws.channel("heartbeat", timeout=5)
    assert beat == fixture("ws_heartbeat.json")
    assert not any(f.get("channel") == "heartbeat" for f in public_ws.frames[: public_ws.frames.index(beat) - 1])


def test_unsubscribe(sim: SimExchange, public_ws: WsClient) -> None:
    public_ws.request("subscribe", {"channel": "ticker", "symbol": ["DOGE/USD"], "snapshot": False})
    gone = public_ws.request("unsubscribe", {"channel": "ticker", "symbol": ["DOGE/USD"]})
    assert gone["success"] is True and gone["result"] == {"channel": "ticker", "symbol": "DOGE/USD"}
    again = public_ws.request("unsubscribe", {"channel": "ticker", "symbol": ["DOGE/USD"]})
    assert again["success"] is False and again["error"] == "Subscription Not Found"


def test_public_host_refuses_private_channels_and_trading(public_ws: WsClient) -> None:
    expected = fixture("ws_error_private_on_public_host.json")
    for params in ({"channel": "executions", "token": "x"}, {"channel": "balances", "token": "x"}):
        refused = public_ws.request("subscribe", params)
        assert_shape(refused, expected, extra={"req_id"})
        assert refused["error"] == expected["error"]
    trade = public_ws.request("add_order", fixture("ws_add_order_request.json")["params"])
    assert trade["success"] is False and trade["error"] == expected["error"]


def test_malformed_request_gets_an_error_and_the_connection_survives(public_ws: WsClient) -> None:
    public_ws.ws.send("not json")
    error = public_ws.wait_for(lambda m: m.get("success") is False)
    assert error["error"].startswith("EGeneral:Invalid arguments")
    unknown = public_ws.request("frobnicate", {})
    assert unknown["error"] == "EGeneral:Unknown method"
    assert public_ws.request("ping")["method"] == "pong"


def test_book_checksum_uses_the_configured_pair_precision() -> None:
    rules = PairRules(price_decimals=5)
    with SimExchange(SimConfig(rules=rules, start_time=1_700_000_000)) as sim:  # synthetic feed, 5-decimal prices
        client = WsClient(sim.public_ws_url)
        client.request("subscribe", {"channel": "instrument"})
        pair = client.channel("instrument", "snapshot")["data"]["pairs"][0]
        client.request("subscribe", {"channel": "book", "symbol": ["DOGE/USD"], "depth": 10})
        el = client.channel("book", "snapshot")["data"][0]
        levels = [[(lv["price"], lv["qty"]) for lv in el[side]] for side in ("bids", "asks")]
        # A client formats the levels with the precision the instrument channel announced (§2.4).
        assert el["checksum"] == book.checksum(*levels, pair["price_precision"], pair["qty_precision"])
        assert el["checksum"] != book.checksum(*levels, 7, 8)
        client.close()
